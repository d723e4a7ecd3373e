"""Pages for logging in and out, first-run set-up, one's account, and user administration."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_user, logout_user

from compliance.audit.services import Actor
from compliance.auth import services
from compliance.auth.access import require
from compliance.auth.forms import (
    ConfirmForm,
    LoginForm,
    PasswordChangeForm,
    SetupForm,
    TokenForm,
    UserCreateForm,
    UserEditForm,
)
from compliance.auth.models import ApiToken, User
from compliance.auth.roles import ROLE_DESCRIPTIONS, Permission
from compliance.errors import ComplianceError
from compliance.extensions import db

bp = Blueprint("auth", __name__)


def current_actor() -> Actor:
    """The logged-in user as the author of a change."""
    return Actor(current_user.id, current_user.email)


def _safe_next(target: str | None) -> str:
    # Only same-site paths: an absolute URL in ?next= would be an open redirect. Browsers read
    # "\" as "/" and drop tabs and newlines, so "/\evil.example" would be "//evil.example".
    if target and target.startswith("/") and not target.startswith("//"):
        if "\\" in target or not target.isprintable():
            return url_for("dashboard.index")
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc:
            return target
    return url_for("dashboard.index")


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    """Log in with e-mail and password."""
    if not services.has_users():
        return redirect(url_for("auth.setup"))
    if current_user.is_authenticated:
        return redirect(url_for("dashboard.index"))
    form = LoginForm()
    if form.validate_on_submit():
        try:
            user = services.authenticate(
                form.email.data or "", form.password.data or "", address=request.remote_addr or "-"
            )
        except ComplianceError as error:
            flash(error.message, "danger")
            return render_template("auth/login.html", form=form), 401
        session.clear()  # a fresh session on login: no fixation
        login_user(user)
        flash(f"Welcome, {user.display_name}.", "success")
        return redirect(_safe_next(request.args.get("next")))
    return render_template("auth/login.html", form=form)


@bp.route("/logout", methods=["POST"])
@require(Permission.READ_CATALOGUE)  # every role has it: any logged-in user
def logout() -> ResponseReturnValue:
    """Log out (POST with a CSRF token, so no other site can log a user out)."""
    if ConfirmForm().validate_on_submit():
        logout_user()
        session.clear()
        flash("You are logged out.", "info")
    return redirect(url_for("auth.login"))


@bp.route("/setup", methods=["GET", "POST"])
def setup() -> ResponseReturnValue:
    """First run: create the first administrator. Closed once any account exists."""
    if services.has_users():
        return redirect(url_for("auth.login"))
    form = SetupForm()
    if form.validate_on_submit():
        try:
            user = services.create_first_admin(
                form.email.data or "", password=form.password.data or "", name=form.name.data or ""
            )
        except ComplianceError as error:
            flash(error.message, "danger")
        else:
            session.clear()
            login_user(user)
            flash(
                "Administrator created. Next: load the catalogue and invite your team.", "success"
            )
            return redirect(url_for("dashboard.index"))
    return render_template("auth/setup.html", form=form)


@bp.route("/account", methods=["GET", "POST"])
@require(Permission.READ_CATALOGUE)
def account() -> ResponseReturnValue:
    """Change one's password; list and create one's own API tokens."""
    form = PasswordChangeForm()
    if form.validate_on_submit():
        try:
            services.change_password(
                current_user.id,
                current=form.current.data or "",
                new=form.password.data or "",
                actor=current_actor(),
            )
        except ComplianceError as error:
            flash(error.message, "danger")
        else:
            flash("Password changed.", "success")
            return redirect(url_for("auth.account"))
    tokens = db.session.scalars(
        db.select(ApiToken).filter_by(user_id=current_user.id).order_by(ApiToken.created_at.desc())
    ).all()
    return render_template(
        "auth/account.html", form=form, token_form=TokenForm(), confirm=ConfirmForm(), tokens=tokens
    )


@bp.route("/account/tokens", methods=["POST"])
@require(Permission.USE_API)
def create_token() -> ResponseReturnValue:
    """Issue an API token for oneself; its text is shown once."""
    form = TokenForm()
    if not form.validate_on_submit():
        flash("Give the token a name and a lifetime of 1 to 3650 days.", "danger")
        return redirect(url_for("auth.account"))
    issued = services.issue_token(
        current_user.email, name=form.name.data or "", days=form.days.data, actor=current_actor()
    )
    return render_template("auth/token_created.html", issued=issued)


@bp.route("/account/tokens/<int:token_id>/revoke", methods=["POST"])
@require(Permission.USE_API)
def revoke_token(token_id: int) -> ResponseReturnValue:
    """Revoke one of one's own tokens (admins may revoke anyone's)."""
    token = db.get_or_404(ApiToken, token_id)
    if token.user_id != current_user.id and current_user.role != "admin":
        abort(403)
    if ConfirmForm().validate_on_submit():
        services.revoke_token(token.id, actor=current_actor())
        flash(f"Token {token.name} revoked.", "success")
    return redirect(request.referrer or url_for("auth.account"))


@bp.route("/admin/users", methods=["GET", "POST"])
@require(Permission.ADMIN_USERS)
def users() -> ResponseReturnValue:
    """List accounts and add new ones."""
    form = UserCreateForm()
    if form.validate_on_submit():
        try:
            user = services.create_user(
                form.email.data or "",
                role=form.role.data or "",
                password=form.password.data or "",
                name=form.name.data or "",
                team=form.team.data or "",
                actor=current_actor(),
            )
        except ComplianceError as error:
            flash(error.message, "danger")
        else:
            flash(f"Account {user.email} created as {user.role}.", "success")
            return redirect(url_for("auth.users"))
    return render_template(
        "auth/users.html", users=services.list_users(), form=form, roles=ROLE_DESCRIPTIONS
    )


@bp.route("/admin/users/<int:user_id>", methods=["GET", "POST"])
@require(Permission.ADMIN_USERS)
def edit_user(user_id: int) -> ResponseReturnValue:
    """Change a user's role, team or active flag; see and revoke their tokens."""
    user = db.get_or_404(User, user_id)
    form = UserEditForm(obj=user)
    if form.validate_on_submit():
        try:
            services.update_user(
                user.id,
                role=form.role.data or "",
                team=form.team.data or "",
                name=form.name.data or "",
                active=bool(form.active.data),
                actor=current_actor(),
            )
        except ComplianceError as error:
            flash(error.message, "danger")
        else:
            flash(f"{user.email} saved.", "success")
            return redirect(url_for("auth.users"))
    return render_template("auth/edit_user.html", user=user, form=form, confirm=ConfirmForm())

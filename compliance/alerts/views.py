"""Pages for alerts: my subscriptions and alerts, acknowledgement, unsubscribe links, the
calendar feed, and the admins' outbox with team lists."""

from __future__ import annotations

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from compliance.alerts import mailer, outbox, services, tokens
from compliance.alerts.forms import CADENCE_LABELS, ButtonForm, SubscriptionForm
from compliance.alerts.models import AlertSubscription
from compliance.auth.access import require
from compliance.auth.roles import Permission
from compliance.auth.views import current_actor
from compliance.errors import ComplianceError

bp = Blueprint("alerts", __name__, url_prefix="/alerts")


def _flash_error(error: ComplianceError) -> None:
    details = "; ".join(error.details) if error.details else ""
    flash(f"{error.message} {details}".strip(), "danger")


@bp.route("/")
@require(Permission.RECEIVE_ALERTS)
def index() -> ResponseReturnValue:
    """My subscriptions, the alerts they brought, and my calendar link."""
    form = SubscriptionForm(formdata=None)
    form.offer_choices()
    return render_template(
        "alerts/index.html",
        subscriptions=services.subscriptions_of(current_user),
        alerts=services.alerts_for(current_user),
        form=form,
        button=ButtonForm(),
        cadences=CADENCE_LABELS,
        calendar_url=url_for(
            "alerts.calendar", token=services.calendar_url_token(current_user), _external=True
        ),
    )


@bp.route("/subscriptions", methods=["POST"])
@require(Permission.RECEIVE_ALERTS)
def subscribe() -> ResponseReturnValue:
    form = SubscriptionForm()
    form.offer_choices()
    if not form.validate_on_submit():
        flash("The subscription was not saved: " + _form_errors(form), "danger")
        return redirect(url_for("alerts.index"), 303)
    try:
        created = services.subscribe(current_user, form.to_input(), actor=current_actor())
    except ComplianceError as error:
        _flash_error(error)
        return redirect(url_for("alerts.index"), 303)
    flash(f"Subscribed: {created.label}, {CADENCE_LABELS[created.cadence].lower()}.", "success")
    return redirect(url_for("alerts.index"), 303)


def _form_errors(form: SubscriptionForm) -> str:
    return "; ".join(f"{name}: {', '.join(errors)}" for name, errors in form.errors.items())


@bp.route("/subscriptions/<int:subscription_id>", methods=["GET", "POST"])
@require(Permission.RECEIVE_ALERTS)
def edit(subscription_id: int) -> ResponseReturnValue:
    try:
        subscription = services.get_subscription(subscription_id, current_user)
    except ComplianceError:
        abort(404)
    form = SubscriptionForm()
    form.offer_choices()
    status = 200
    if form.validate_on_submit():
        try:
            services.update_subscription(
                subscription.id,
                current_user,
                form.to_input(),
                active=bool(form.active.data),
                actor=current_actor(),
            )
        except ComplianceError as error:
            _flash_error(error)
            status = error.status_code
        else:
            flash("Subscription saved.", "success")
            return redirect(_back(subscription), 303)
    elif request.method == "POST":
        flash("The subscription was not saved: " + _form_errors(form), "danger")
        status = 400
    else:
        form.fill(subscription)
    return render_template(
        "alerts/edit.html", subscription=subscription, form=form, button=ButtonForm()
    ), status


def _back(subscription: AlertSubscription) -> str:
    if subscription.kind == "team-list":
        return url_for("alerts.admin")
    return url_for("alerts.index")


@bp.route("/subscriptions/<int:subscription_id>/delete", methods=["POST"])
@require(Permission.RECEIVE_ALERTS)
def delete(subscription_id: int) -> ResponseReturnValue:
    if not ButtonForm().validate_on_submit():
        abort(400, "The form expired; reload the page and try again.")
    try:
        subscription = services.get_subscription(subscription_id, current_user)
        back = _back(subscription)
        services.delete_subscription(subscription_id, current_user, actor=current_actor())
    except ComplianceError as error:
        abort(error.status_code, error.message)
    flash("Subscription ended.", "success")
    return redirect(back, 303)


@bp.route("/events/<int:event_id>/acknowledge", methods=["GET", "POST"])
@require(Permission.RECEIVE_ALERTS)
def acknowledge(event_id: int) -> ResponseReturnValue:
    """The page an "action required" alert links to: read it, then acknowledge it."""
    try:
        event = services.get_event(event_id)
    except ComplianceError:
        abort(404)
    if not services.can_acknowledge(event, current_user) and event.acknowledged_at is None:
        abort(403, "This alert was not sent to you.")
    form = ButtonForm()
    if form.validate_on_submit():
        try:
            services.acknowledge(event.id, current_user, actor=current_actor())
        except ComplianceError as error:
            abort(error.status_code, error.message)
        flash("Acknowledged. The review page shows it.", "success")
        return redirect(url_for("alerts.acknowledge", event_id=event.id), 303)
    return render_template("alerts/acknowledge.html", event=event, form=form)


@bp.route("/unsubscribe/<token>", methods=["GET", "POST"])
def unsubscribe(token: str) -> ResponseReturnValue:
    """GET only shows a button (link scanners must not unsubscribe anyone); POST acts."""
    try:
        subscription = services.subscription_for_token(token)
    except tokens.BadToken:
        return render_template("alerts/unsubscribe.html", state="invalid"), 400
    except services.TokenUsed:
        return render_template("alerts/unsubscribe.html", state="used"), 410
    if request.method == "GET":
        return render_template(
            "alerts/unsubscribe.html", state="confirm", subscription=subscription, token=token
        )
    try:
        done = services.unsubscribe(token)
    except tokens.BadToken:
        return render_template("alerts/unsubscribe.html", state="invalid"), 400
    except services.TokenUsed:
        return render_template("alerts/unsubscribe.html", state="used"), 410
    return render_template("alerts/unsubscribe.html", state="done", subscription=done)


@bp.route("/calendar/<token>.ics")
def calendar(token: str) -> ResponseReturnValue:
    """The user's upcoming dates; calendar apps subscribe to this URL without a login."""
    try:
        user = services.user_for_calendar_token(token)
    except (tokens.BadToken, services.TokenUsed):
        abort(404)
    body = services.calendar_feed(user)
    response = Response(body, mimetype="text/calendar")
    response.headers["Content-Disposition"] = 'inline; filename="compliance.ics"'
    response.headers["Cache-Control"] = "private, max-age=900"
    return response


@bp.route("/calendar/reset", methods=["POST"])
@require(Permission.RECEIVE_ALERTS)
def reset_calendar() -> ResponseReturnValue:
    if not ButtonForm().validate_on_submit():
        abort(400, "The form expired; reload the page and try again.")
    services.reset_calendar(current_user, actor=current_actor())
    flash("New calendar link made; the old one no longer works.", "success")
    return redirect(url_for("alerts.index"), 303)


@bp.route("/admin")
@require(Permission.ADMIN_ALERTS)
def admin() -> ResponseReturnValue:
    """The outbox (what failed, and why), team mailing lists, unacknowledged actions."""
    form = SubscriptionForm(formdata=None)
    form.offer_choices()
    return render_template(
        "alerts/admin.html",
        summary=services.outbox_summary(),
        team_lists=services.team_lists(),
        form=form,
        button=ButtonForm(),
        cadences=CADENCE_LABELS,
        transport=services.transport_description(),
    )


@bp.route("/admin/test-message", methods=["POST"])
@require(Permission.ADMIN_ALERTS)
def test_message() -> ResponseReturnValue:
    """Send a test e-mail to the admin, straight away, and say what happened."""
    if not ButtonForm().validate_on_submit():
        abort(400, "The form expired; reload the page and try again.")
    try:
        where = services.send_test_message(current_user, actor=current_actor())
    except (mailer.DeliveryFailure, ValueError) as error:
        reason = error.reason if isinstance(error, mailer.DeliveryFailure) else str(error)
        flash(f"The test message was not sent: {reason}", "danger")
    else:
        flash(f"Test message sent to {current_user.email} through {where}.", "success")
    return redirect(url_for("alerts.admin"), 303)


@bp.route("/admin/team-lists", methods=["POST"])
@require(Permission.ADMIN_ALERTS)
def add_team_list() -> ResponseReturnValue:
    form = SubscriptionForm()
    form.offer_choices()
    if not form.validate_on_submit():
        flash("The team list was not saved: " + _form_errors(form), "danger")
        return redirect(url_for("alerts.admin"), 303)
    try:
        created = services.subscribe_team_list(form.to_input(), actor=current_actor())
    except ComplianceError as error:
        _flash_error(error)
    else:
        flash(f"Team list {created.address} subscribed.", "success")
    return redirect(url_for("alerts.admin"), 303)


@bp.route("/admin/messages/<int:message_id>/requeue", methods=["POST"])
@require(Permission.ADMIN_ALERTS)
def requeue(message_id: int) -> ResponseReturnValue:
    if not ButtonForm().validate_on_submit():
        abort(400, "The form expired; reload the page and try again.")
    try:
        message = outbox.requeue(message_id)
    except ComplianceError as error:
        abort(error.status_code, error.message)
    flash(f"Message to {message.address} queued again.", "success")
    return redirect(url_for("alerts.admin"), 303)

"""Use cases of the change-review queue: open, move, assign, date, note, decide; and reads.

Every write records a ReviewEvent (the review's own history) and an audit event in the same
transaction. Reviews opened by the poller are written inside the poll's unit of work (see
open_for_entry), so an entry is never stored without the review it deserves.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import selectinload

from compliance import clock, signals
from compliance.audit.services import Actor, record
from compliance.auth.models import User
from compliance.auth.roles import Permission, role_can
from compliance.catalogue.models import Obligation, Regulation
from compliance.database import begin_write
from compliance.errors import Invalid, NotFound
from compliance.extensions import db
from compliance.feeds.models import FeedEntry
from compliance.mapping.models import ControlMapping
from compliance.reviews.models import (
    DECISION_STATES,
    OPEN_STATES,
    STATES,
    TRANSITIONS,
    ChangeReview,
    ReviewEvent,
    ReviewMatch,
)

POLLER = Actor.system("feed poller")
MAX_NOTE = 5000
_UNSET: Any = object()


def _label(state: str) -> str:
    return state.replace("-", " ")


def _event(
    review: ChangeReview,
    kind: str,
    actor: Actor,
    *,
    from_state: str = "",
    to_state: str = "",
    note: str = "",
    data: dict[str, Any] | None = None,
) -> None:
    db.session.add(
        ReviewEvent(
            review=review,
            at=clock.utcnow(),
            actor_id=actor.user_id,
            actor_label=actor.label,
            kind=kind,
            from_state=from_state,
            to_state=to_state,
            note=note,
            data=data or {},
        )
    )


def _set_matches(review: ChangeReview, matches: list[dict[str, Any]]) -> None:
    existing = {m.regulation_id: m for m in review.matches}
    wanted = {int(m["regulation_id"]): m for m in matches}
    for regulation_id, stale in existing.items():
        if regulation_id not in wanted:
            review.matches.remove(stale)
    for regulation_id, found in wanted.items():
        row = existing.get(regulation_id)
        if row is None:
            row = ReviewMatch(regulation_id=regulation_id)
            review.matches.append(row)
        row.score = float(found["score"])
        row.reasons = list(found["reasons"])
        row.obligation_ids = list(found.get("obligation_ids", []))
    review.score = max((float(m["score"]) for m in matches), default=0.0)


@dataclass(frozen=True)
class Opened:
    """What open_for_entry did, so the caller can send signals after its commit."""

    review: ChangeReview | None
    opened: bool = False


def open_for_entry(
    entry: FeedEntry, *, threshold: float, revised: bool, actor: Actor = POLLER
) -> Opened:
    """Open a review for an entry whose best match reaches threshold, or update its review.

    Runs inside the caller's unit of work: flushes, never commits. A revised entry whose
    review was decided goes back to "new", since the change may change the decision.
    """
    review = db.session.scalar(select(ChangeReview).filter_by(entry_id=entry.id))
    matches = [m for m in entry.matches if float(m["score"]) > 0]
    strong = [m for m in matches if float(m["score"]) >= threshold]
    if review is None:
        if not strong:
            return Opened(None)
        review = ChangeReview(
            entry=entry,
            state="new",
            opened_at=clock.utcnow(),
            due_on=_default_due(),
            seen_revision=entry.revision,
        )
        db.session.add(review)
        _set_matches(review, strong)
        db.session.flush()
        _event(review, "opened", actor, to_state="new", data={"score": review.score})
        signals.review_opening.send(review, actor=actor)
        record(
            actor,
            "review.opened",
            "review",
            review.id,
            summary=f"{entry.title[:200]} (score {review.score:.2f})",
            after={"entry": entry.id, "matches": [m["slug"] for m in strong]},
        )
        return Opened(review, opened=True)
    before_state = review.state
    _set_matches(review, strong or matches)
    kind = "revised" if revised else "rematched"
    note = f"the entry changed (revision {entry.revision})" if revised else "matches recomputed"
    to_state = before_state
    if revised and before_state not in OPEN_STATES:
        to_state = review.state = "new"
        review.closed_at = None
    _event(review, kind, actor, from_state=before_state, to_state=to_state, note=note)
    record(
        actor,
        f"review.{kind}",
        "review",
        review.id,
        summary=note
        + (f"; reopened from {_label(before_state)}" if to_state != before_state else ""),
        before={"state": before_state},
        after={"state": to_state, "revision": entry.revision},
    )
    return Opened(review)


def _default_due() -> date:
    return (clock.utcnow() + timedelta(days=int(current_app.config["REVIEWS_DUE_DAYS"]))).date()


def promote_entry(entry_id: int, *, actor: Actor, note: str = "") -> ChangeReview:
    """Open a review by hand for an entry the score left unmatched."""
    begin_write()
    entry = db.session.get(FeedEntry, entry_id)
    if entry is None:
        db.session.rollback()
        raise NotFound("No such feed entry.")
    if db.session.scalar(select(ChangeReview.id).filter_by(entry_id=entry_id)) is not None:
        db.session.rollback()
        raise Invalid("This entry already has a review.")
    review = ChangeReview(
        entry=entry,
        state="new",
        opened_at=clock.utcnow(),
        due_on=_default_due(),
        promoted=True,
        seen_revision=entry.revision,
    )
    db.session.add(review)
    _set_matches(review, [m for m in entry.matches if float(m["score"]) > 0])
    db.session.flush()
    note = _clean_note(note)
    _event(review, "opened", actor, to_state="new", note=note or "promoted by hand")
    record(
        actor,
        "review.opened",
        "review",
        review.id,
        summary=f"{entry.title[:200]} (promoted by hand)",
        after={"entry": entry.id, "promoted": True},
    )
    signals.review_opening.send(review, actor=actor)
    db.session.commit()
    signals.review_opened.send(review)
    return review


def _clean_note(note: str | None) -> str:
    text = (note or "").replace("\x00", "").strip()
    if len(text) > MAX_NOTE:
        raise Invalid(f"A note may be at most {MAX_NOTE} characters.")
    return text


@dataclass(frozen=True)
class ReviewChanges:
    """What one request changes; a field left as None is not touched (clear with ...=True)."""

    state: str | None = None
    decision_note: str | None = None
    note: str | None = None
    assignee_id: int | None = None
    clear_assignee: bool = False
    due_on: date | None = None
    clear_due: bool = False

    @property
    def empty(self) -> bool:
        return not any(
            (
                self.state,
                self.decision_note is not None,
                self.note,
                self.assignee_id is not None,
                self.clear_assignee,
                self.due_on is not None,
                self.clear_due,
            )
        )


def update_review(review_id: int, changes: ReviewChanges, *, actor: Actor) -> ChangeReview:
    """Apply changes in one unit of work: assignee, due date, decision note, then the move.

    Every problem is reported before anything is written.
    """
    if changes.empty:
        raise Invalid("Nothing to change: give a state, assignee, due date or note.")
    begin_write()
    review = db.session.get(ChangeReview, review_id)
    if review is None:
        db.session.rollback()
        raise NotFound("No such review.")
    try:
        assignee = _check(review, changes)
    except Invalid:
        db.session.rollback()
        raise
    moved_to_action = False
    if changes.clear_assignee or assignee is not None:
        _assign(review, assignee, actor)
    if changes.clear_due or changes.due_on is not None:
        _set_due(review, None if changes.clear_due else changes.due_on, actor)
    if changes.decision_note is not None:
        _decide(review, _clean_note(changes.decision_note), actor)
    if changes.note:
        note = _clean_note(changes.note)
        _event(review, "note", actor, note=note)
        record(actor, "review.noted", "review", review.id, summary=note[:200])
    if changes.state and changes.state != review.state:
        moved_to_action = changes.state == "action-required"
        _move(review, changes.state, actor)
    if moved_to_action:
        db.session.flush()
        signals.review_requiring_action.send(review, actor=actor)
    db.session.commit()
    signals.review_changed.send(review, actor=actor)
    if moved_to_action:
        signals.review_action_required.send(review, actor=actor)
    return review


def _check(review: ChangeReview, changes: ReviewChanges) -> User | None:
    problems = []
    state = changes.state
    if state is not None and state not in STATES:
        problems.append(f"state must be one of: {', '.join(STATES)}")
    elif state and state != review.state and state not in TRANSITIONS[review.state]:
        allowed = ", ".join(_label(s) for s in TRANSITIONS[review.state])
        problems.append(f"a review that is {_label(review.state)} can move to: {allowed}")
    elif state in DECISION_STATES and state != review.state:
        note = changes.decision_note if changes.decision_note is not None else review.decision_note
        if not (note or "").strip():
            problems.append(f"write a decision note before marking it {_label(state)}")
    assignee = None
    if changes.assignee_id is not None and not changes.clear_assignee:
        assignee = db.session.get(User, changes.assignee_id)
        if assignee is None or not assignee.active:
            problems.append("the assignee must be an active user")
        elif not role_can(assignee.role, Permission.TRIAGE_REVIEWS):
            problems.append(f"{assignee.email} ({assignee.role}) cannot act on reviews")
    if changes.due_on is not None and changes.due_on < review.opened_at.date():
        problems.append("the due date cannot be before the review was opened")
    for text in (changes.note, changes.decision_note):
        if text is not None and len(text) > MAX_NOTE:
            problems.append(f"a note may be at most {MAX_NOTE} characters")
    if problems:
        raise Invalid("The review was not changed: " + "; ".join(problems) + ".", details=problems)
    return assignee


def _assign(review: ChangeReview, assignee: User | None, actor: Actor) -> None:
    before = review.assignee.email if review.assignee is not None else None
    after = assignee.email if assignee is not None else None
    if before == after:
        return
    review.assignee = assignee
    _event(review, "assigned", actor, note=after or "unassigned", data={"from": before})
    record(
        actor,
        "review.assigned",
        "review",
        review.id,
        summary=f"assigned to {after}" if after else "unassigned",
        before={"assignee": before},
        after={"assignee": after},
    )


def _set_due(review: ChangeReview, due_on: date | None, actor: Actor) -> None:
    if review.due_on == due_on:
        return
    before = review.due_on
    review.due_on = due_on
    shown = due_on.isoformat() if due_on else "none"
    _event(review, "due", actor, note=f"due {shown}", data={"from": _iso(before)})
    record(
        actor,
        "review.due",
        "review",
        review.id,
        summary=f"due date {shown}",
        before={"due_on": before},
        after={"due_on": due_on},
    )


def _decide(review: ChangeReview, note: str, actor: Actor) -> None:
    if review.decision_note == note:
        return
    before = review.decision_note
    review.decision_note = note
    _event(review, "note", actor, note=note, data={"decision": True})
    record(
        actor,
        "review.decided",
        "review",
        review.id,
        summary=note[:200],
        before={"decision_note": before},
        after={"decision_note": note},
    )


def _move(review: ChangeReview, state: str, actor: Actor) -> None:
    before = review.state
    review.state = state
    review.closed_at = clock.utcnow() if state == "closed" else None
    _event(review, "moved", actor, from_state=before, to_state=state)
    record(
        actor,
        "review.moved",
        "review",
        review.id,
        summary=f"{_label(before)} → {_label(state)}",
        before={"state": before},
        after={"state": state},
    )


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None


# -- reads ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReviewFilter:
    """Filters of the queue and the API; empty means "any"."""

    state: str = "open"  # a state, "open" (not decided or closed) or "all"
    assignee: str = ""  # "me", "none", or an e-mail
    regulation: str = ""  # an instrument's slug
    overdue: bool = False

    @classmethod
    def from_args(cls, args: Any) -> ReviewFilter:
        """Build from query arguments; an unknown state is refused with the choices."""
        state = (args.get("state") or "open").strip().lower()
        if state not in (*STATES, "open", "all"):
            message = f"state must be one of: open, all, {', '.join(STATES)}"
            raise Invalid(f"Unknown filter value: {message}.", details=[message])
        overdue = str(args.get("overdue", "")).lower() in ("1", "true", "yes", "on")
        return cls(
            state=state,
            assignee=(args.get("assignee") or "").strip().lower()[:254],
            regulation=(args.get("regulation") or "").strip().lower()[:120],
            overdue=overdue,
        )

    def as_args(self) -> dict[str, str]:
        args = {"state": self.state, "assignee": self.assignee, "regulation": self.regulation}
        if self.overdue:
            args["overdue"] = "1"
        return {name: value for name, value in args.items() if value}


SORTS = {
    "opened": ChangeReview.opened_at,
    "due": ChangeReview.due_on,
    "score": ChangeReview.score,
    "state": ChangeReview.state,
}


def reviews_query(
    filters: ReviewFilter,
    *,
    user_id: int | None = None,
    sort: str = "opened",
    direction: str = "desc",
) -> Select[ChangeReview]:
    """Reviews matching filters; user_id is who "me" means."""
    query: Select[ChangeReview] = select(ChangeReview)
    if filters.state == "open":
        query = query.where(ChangeReview.state.in_(OPEN_STATES))
    elif filters.state != "all":
        query = query.where(ChangeReview.state == filters.state)
    if filters.assignee == "me":
        query = query.where(ChangeReview.assignee_id == (user_id or -1))
    elif filters.assignee == "none":
        query = query.where(ChangeReview.assignee_id.is_(None))
    elif filters.assignee:
        query = query.where(
            ChangeReview.assignee_id.in_(select(User.id).where(User.email == filters.assignee))
        )
    if filters.regulation:
        query = query.where(
            ChangeReview.id.in_(
                select(ReviewMatch.review_id)
                .join(Regulation, Regulation.id == ReviewMatch.regulation_id)
                .where(Regulation.slug == filters.regulation)
            )
        )
    if filters.overdue:
        query = query.where(
            ChangeReview.state.in_(OPEN_STATES), ChangeReview.due_on < clock.utcnow().date()
        )
    column = SORTS.get(sort, ChangeReview.opened_at)
    ordering = column.desc() if direction == "desc" else column.asc()
    return query.order_by(ordering, ChangeReview.id.desc()).options(
        selectinload(ChangeReview.entry).selectinload(FeedEntry.source),
        selectinload(ChangeReview.assignee),
        selectinload(ChangeReview.matches).selectinload(ReviewMatch.regulation),
    )


def state_counts() -> dict[str, int]:
    """How many reviews are in each state, plus "open" and "all"."""
    rows = db.session.execute(select(ChangeReview.state, func.count()).group_by(ChangeReview.state))
    counts: Counter[str] = Counter({state: int(n) for state, n in rows})
    result = {state: counts.get(state, 0) for state in STATES}
    result["open"] = sum(counts.get(state, 0) for state in OPEN_STATES)
    result["all"] = sum(counts.values())
    return result


def overdue_count() -> int:
    query = select(func.count()).where(
        ChangeReview.state.in_(OPEN_STATES), ChangeReview.due_on < clock.utcnow().date()
    )
    return int(db.session.scalar(query) or 0)


def get_review(review_id: int) -> ChangeReview:
    review = db.session.get(ChangeReview, review_id)
    if review is None:
        raise NotFound("No such review.")
    return review


def review_for_entry(entry_id: int) -> ChangeReview | None:
    return db.session.scalar(select(ChangeReview).filter_by(entry_id=entry_id))


def assignable_users() -> list[User]:
    """Active users whose role may act on reviews, for the assignee menu."""
    users = db.session.scalars(select(User).filter_by(active=True).order_by(User.email))
    return [u for u in users if role_can(u.role, Permission.TRIAGE_REVIEWS)]


def find_user(email: str) -> User:
    query = select(User).where(func.lower(User.email) == email.strip().lower())
    user: User | None = db.session.scalar(query)
    if user is None:
        raise Invalid(f"No user with e-mail {email[:254]}.", details=[f"assignee: unknown {email}"])
    return user


@dataclass(frozen=True)
class ImpactControl:
    id: int
    code: str
    title: str
    owner_team: str
    status: str
    relationship: str
    coverage: str


@dataclass(frozen=True)
class ImpactObligation:
    id: int
    ref: str
    title: str
    cited: bool  # named by the entry itself ("Art. 28 DSA")
    controls: list[ImpactControl]


@dataclass(frozen=True)
class Impact:
    """One matched instrument: its obligations, the controls mapped to them and their owners."""

    regulation: Regulation
    score: float
    reasons: list[str]
    obligations: list[ImpactObligation]
    teams: list[str] = field(default_factory=list)


def impact(review: ChangeReview, *, limit_to: set[int] | None = None) -> list[Impact]:
    """The impact panel: per match, cited obligations first (else all live ones), with controls.

    limit_to keeps only those obligations (what applies to a service profile).
    """
    result = []
    for match in review.matches:
        cited = set(match.obligation_ids or [])
        query = (
            select(Obligation)
            .where(Obligation.regulation_id == match.regulation_id)
            .where(or_(Obligation.retired_at.is_(None), Obligation.id.in_(cited)))
            .order_by(Obligation.position)
            .options(selectinload(Obligation.mappings).selectinload(ControlMapping.control))
        )
        obligations = list(db.session.scalars(query))
        if limit_to is not None:
            obligations = [o for o in obligations if o.id in limit_to]
        if cited:
            obligations.sort(key=lambda o: (o.id not in cited, o.position))
        rows = [
            ImpactObligation(
                o.id,
                o.ref,
                o.title,
                o.id in cited,
                [
                    ImpactControl(
                        m.control.id,
                        m.control.code,
                        m.control.title,
                        m.control.owner_team,
                        m.control.status,
                        m.relationship_type,
                        m.coverage,
                    )
                    for m in sorted(o.mappings, key=lambda m: m.control.code)
                ],
            )
            for o in obligations
        ]
        relevant = [r for r in rows if r.cited] or rows
        teams = sorted({c.owner_team for r in relevant for c in r.controls})
        result.append(Impact(match.regulation, match.score, list(match.reasons), rows, teams))
    return result


def affected_teams(impacts: list[Impact]) -> list[str]:
    return sorted({team for item in impacts for team in item.teams})


def due_label(due_on: date | None, today: date) -> str:
    """ "overdue", "due soon" (within 3 days) or ""."""
    if due_on is None:
        return ""
    if due_on < today:
        return "overdue"
    return "due soon" if (due_on - today).days <= 3 else ""


def opened_since(moment: datetime) -> int:
    return int(db.session.scalar(select(func.count()).where(ChangeReview.opened_at >= moment)) or 0)

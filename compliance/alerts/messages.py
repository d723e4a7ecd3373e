"""Turn an outbox row into an e-mail: multipart text and HTML from templates/email/.

Everything a message says comes from its events' frozen data, so a resend after a crash is the
same message: same Message-ID, same Date, same words.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

from flask import current_app, render_template, url_for

from compliance import clock
from compliance.alerts import mailer, tokens
from compliance.alerts.models import AlertEvent, AlertMessage
from compliance.alerts.scope import display_code, one_line

SENDER_NAME = "Compliance alerts"


def link(target: dict[str, Any] | None) -> str:
    """An absolute URL for an {"endpoint", "values"} pair frozen in an event's data."""
    if not target:
        return url_for("alerts.index", _external=True)
    return url_for(str(target["endpoint"]), _external=True, **dict(target.get("values") or {}))


@dataclass(frozen=True)
class Group:
    """Digest items of one jurisdiction and instrument."""

    jurisdiction: str
    instrument: str
    events: list[AlertEvent]


def grouped(events: list[AlertEvent]) -> list[tuple[str, list[Group]]]:
    """Digest order: jurisdiction, then instrument, then time."""
    by_place: dict[str, dict[str, list[AlertEvent]]] = {}
    for event in sorted(events, key=lambda e: (e.jurisdiction, e.instrument, e.created_at, e.id)):
        place = display_code(event.jurisdiction) if event.jurisdiction else "General"
        by_place.setdefault(place, {}).setdefault(event.instrument or "Other", []).append(event)
    return [
        (place, [Group(place, name, items) for name, items in instruments.items()])
        for place, instruments in by_place.items()
    ]


def digest_subject(cadence: str, events: list[AlertEvent]) -> str:
    places = sorted({display_code(e.jurisdiction) for e in events if e.jurisdiction})
    shown = ", ".join(places[:5]) + (f" and {len(places) - 5} more" if len(places) > 5 else "")
    count = len(events)
    noun = "change" if count == 1 else "changes"
    where = f" in {shown}" if shown else ""
    return one_line(f"{cadence.capitalize()} digest: {count} {noun}{where}", 200)


def _cadence(message: AlertMessage) -> str:
    return (message.digest_key or "daily").split(":", 1)[0]


def build(message: AlertMessage) -> EmailMessage:
    """The complete message, headers included. Problems with the row itself are permanent."""
    events = [delivery.event for delivery in message.deliveries]
    if not events:
        raise mailer.PermanentFailure("The message has no alerts to carry.", code=None)
    subscription = message.subscription
    base_url = str(current_app.config["BASE_URL"]).rstrip("/")
    with current_app.test_request_context("/", base_url=base_url):
        unsubscribe = url_for(
            "alerts.unsubscribe",
            token=tokens.unsubscribe_token(subscription.id, subscription.unsubscribe_nonce),
            _external=True,
        )
        context = {
            "message": message,
            "subscription": subscription,
            "unsubscribe_url": unsubscribe,
            "manage_url": url_for("alerts.index", _external=True),
            "link": link,
            "display_code": display_code,
        }
        if message.digest_key:
            cadence = _cadence(message)
            subject = digest_subject(cadence, events)
            context |= {"cadence": cadence, "groups": grouped(events), "count": len(events)}
            text = render_template("email/digest.txt", **context)
            html = render_template("email/digest.html", **context)
        else:
            event = events[0]
            subject = one_line(event.subject, 200)
            ack = (
                url_for("alerts.acknowledge", event_id=event.id, _external=True)
                if event.needs_acknowledgement
                else ""
            )
            context |= {"event": event, "data": event.data, "ack_url": ack}
            text = render_template("email/alert.txt", **context)
            html = render_template("email/alert.html", **context)
    email = EmailMessage()
    try:
        email["From"] = Address(SENDER_NAME, addr_spec=str(current_app.config["MAIL_FROM"]))
        email["To"] = Address(addr_spec=message.address)
    except (ValueError, IndexError) as error:
        raise mailer.PermanentFailure(f"Unusable address: {error}", code=None) from error
    email["Subject"] = subject
    email["Date"] = format_datetime(clock.as_utc(message.created_at) or clock.utcnow())
    email["Message-ID"] = message.message_id
    email["List-Id"] = f"{SENDER_NAME} <alerts.{current_app.config['ALERTS_MESSAGE_ID_DOMAIN']}>"
    # RFC 8058: a mail client may unsubscribe with one POST to this URL, no login, no page.
    email["List-Unsubscribe"] = f"<{unsubscribe}>"
    email["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    email["Auto-Submitted"] = "auto-generated"  # RFC 3834: out-of-office robots stay quiet
    email["X-Auto-Response-Suppress"] = "All"
    email.set_content(text)
    email.add_alternative(html, subtype="html")
    return email

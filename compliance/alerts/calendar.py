"""The one iCalendar adapter: upcoming dates as an RFC 5545 feed that calendar apps subscribe
to. Nothing else imports icalendar.

Each date is an all-day event (DTSTART;VALUE=DATE, DTEND the day after, RFC 5545 3.6.1), so it
shows on that day in every time zone. The library escapes commas, semicolons, backslashes and
newlines and folds long lines; this module only keeps text it must not pass on (line breaks in
one-line fields, control characters anywhere) out of the feed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from icalendar import Calendar, Event, vText

from compliance import clock

DEFAULT_PRODUCT_ID = "-//compliance//alerts//EN"
# Subscribers poll at the interval they choose; these ask for twice a day (RFC 7986 5.7, and
# the older X-PUBLISHED-TTL that Outlook reads).
REFRESH = timedelta(hours=12)
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")
LINE_BREAKS = re.compile(r"\r\n?|\n")


@dataclass(frozen=True)
class CalendarItem:
    """One dated thing: an obligation's effective date, a review's deadline.

    uid must stay the same for the same thing across fetches (e.g. "obligation-12-effective@host")
    so that calendar apps update the event instead of adding a copy.
    """

    uid: str
    day: date
    summary: str
    description: str
    url: str
    categories: tuple[str, ...] = ()


def build_calendar(
    name: str, items: Iterable[CalendarItem], *, product_id: str = DEFAULT_PRODUCT_ID
) -> bytes:
    """An iCalendar document (text/calendar, UTF-8, CRLF) with one all-day event per item."""
    calendar = Calendar()
    calendar.add("prodid", one_line(product_id))
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    # vText: extension properties would otherwise go out unescaped.
    calendar.add("x-wr-calname", vText(one_line(name)))
    calendar.add("refresh-interval", REFRESH, parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", REFRESH)
    stamp = clock.utcnow().replace(microsecond=0)
    for item in items:
        calendar.add_component(_event(item, stamp))
    document: bytes = calendar.to_ical()
    return document


def _event(item: CalendarItem, stamp: datetime) -> Event:
    # A datetime is a date too; its time would turn the all-day event into a timed one.
    day = item.day.date() if isinstance(item.day, datetime) else item.day
    event = Event()
    event.add("uid", one_line(item.uid))
    event.add("dtstamp", stamp)
    event.add("dtstart", day)
    event.add("dtend", day + timedelta(days=1))
    event.add("summary", one_line(item.summary))
    event.add("description", multi_line(item.description))
    event.add("url", one_line(item.url).replace(" ", "%20"))
    event.add("transp", "TRANSPARENT")  # a deadline does not make anyone busy
    categories = [one_line(category) for category in item.categories]
    if categories := [category for category in categories if category]:
        event.add("categories", categories)
    return event


def one_line(text: str) -> str:
    """text with line breaks and other control characters turned into single spaces."""
    return " ".join(CONTROL.sub(" ", LINE_BREAKS.sub(" ", text)).split())


def multi_line(text: str) -> str:
    """text with its line breaks kept (as LF, which the library escapes) and other control
    characters, tabs included, turned into spaces."""
    lines = LINE_BREAKS.sub("\n", text).split("\n")
    return "\n".join(CONTROL.sub(" ", line.replace("\t", " ")).rstrip() for line in lines)

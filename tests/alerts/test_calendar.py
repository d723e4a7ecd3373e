"""The .ics feed: built here, read back with icalendar, checked line by line where it matters."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from icalendar import Calendar

from compliance import clock
from compliance.alerts.calendar import CalendarItem, build_calendar

NOW = datetime(2026, 3, 14, 9, 30, 15, 123456, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clock, "utcnow", lambda: NOW)


def item(**changes: object) -> CalendarItem:
    values: dict[str, object] = {
        "uid": "obligation-12-effective@compliance.test",
        "day": date(2026, 4, 1),
        "summary": "[EU] DSA Art. 28: protection of minors takes effect",
        "description": "Providers must put in place measures.",
        "url": "http://localhost/catalogue/obligations/12",
        "categories": ("minors",),
    }
    values.update(changes)
    return CalendarItem(**values)  # type: ignore[arg-type]


def parse(document: bytes) -> Calendar:
    return Calendar.from_ical(document)


def unfolded_lines(document: bytes) -> list[str]:
    # RFC 5545 3.1: a line break followed by a space or tab continues the previous line.
    return document.decode("utf-8").replace("\r\n ", "").replace("\r\n\t", "").split("\r\n")


def test_calendar_and_event_properties() -> None:
    document = build_calendar("Compliance dates for ann@example.org", [item()])

    calendar = parse(document)
    assert str(calendar["VERSION"]) == "2.0"
    assert str(calendar["PRODID"]) == "-//compliance//alerts//EN"
    assert str(calendar["METHOD"]) == "PUBLISH"
    assert "X-WR-CALNAME:Compliance dates for ann@example.org" in unfolded_lines(document)
    (event,) = calendar.walk("VEVENT")
    assert str(event["UID"]) == "obligation-12-effective@compliance.test"
    assert event.decoded("DTSTART") == date(2026, 4, 1)
    assert event.decoded("DTEND") == date(2026, 4, 2)
    assert event.decoded("DTSTAMP") == NOW.replace(microsecond=0)
    assert str(event["SUMMARY"]) == "[EU] DSA Art. 28: protection of minors takes effect"
    assert str(event["DESCRIPTION"]) == "Providers must put in place measures."
    assert str(event["URL"]) == "http://localhost/catalogue/obligations/12"
    assert [str(category) for category in event["CATEGORIES"].cats] == ["minors"]
    lines = unfolded_lines(document)
    assert "DTSTART;VALUE=DATE:20260401" in lines
    assert "DTEND;VALUE=DATE:20260402" in lines
    assert "DTSTAMP:20260314T093015Z" in lines


def test_document_framing() -> None:
    document = build_calendar("Dates", [item(), item(uid="other@compliance.test")])

    assert document.startswith(b"BEGIN:VCALENDAR\r\n")
    assert document.endswith(b"END:VCALENDAR\r\n")
    assert b"\n" not in document.replace(b"\r\n", b"")  # CRLF only
    assert len(parse(document).walk("VEVENT")) == 2


def test_empty_calendar_is_valid() -> None:
    calendar = parse(build_calendar("Nothing due", []))

    assert calendar.walk("VEVENT") == []
    assert str(calendar["METHOD"]) == "PUBLISH"


def test_uids_are_stable_across_builds() -> None:
    items = [item(uid=f"obligation-{n}@compliance.test") for n in range(3)]

    first = [str(e["UID"]) for e in parse(build_calendar("a", items)).walk("VEVENT")]
    second = [str(e["UID"]) for e in parse(build_calendar("a", items)).walk("VEVENT")]

    assert first == second == [f"obligation-{n}@compliance.test" for n in range(3)]


def test_commas_semicolons_backslashes_and_newlines_are_escaped() -> None:
    description = "Applies to: search, social; video\\audio.\nSecond line.\r\nThird line."
    document = build_calendar(
        "Dates, UK; EU",
        [
            item(
                summary="Ofcom, ICO; DSA \\ OSA",
                description=description,
                categories=("notice-and-action", "age, assurance"),
            )
        ],
    )

    lines = unfolded_lines(document)
    assert "SUMMARY:Ofcom\\, ICO\\; DSA \\\\ OSA" in lines
    assert (
        "DESCRIPTION:Applies to: search\\, social\\; video\\\\audio.\\nSecond line.\\nThird line."
        in lines
    )
    assert "X-WR-CALNAME:Dates\\, UK\\; EU" in lines
    assert "CATEGORIES:notice-and-action,age\\, assurance" in lines
    (event,) = parse(document).walk("VEVENT")
    assert str(event["SUMMARY"]) == "Ofcom, ICO; DSA \\ OSA"
    assert str(event["DESCRIPTION"]) == (
        "Applies to: search, social; video\\audio.\nSecond line.\nThird line."
    )
    assert [str(c) for c in event["CATEGORIES"].cats] == ["notice-and-action", "age, assurance"]


def test_line_breaks_and_control_characters_cannot_add_properties() -> None:
    # A feed title is attacker-controlled: it must not end the event or add an attendee.
    hostile = "New code\r\nEND:VEVENT\r\nBEGIN:VEVENT\nATTENDEE:mailto:x@evil.test\x00\x1b[31m\x7f"
    document = build_calendar(
        hostile,
        [
            item(
                uid="id\r\nX-INJECTED:1",
                summary=hostile,
                description=hostile,
                url="http://localhost/r/1\r\nX-INJECTED:1",
                categories=(hostile,),
            )
        ],
    )

    lines = unfolded_lines(document)
    assert lines.count("BEGIN:VEVENT") == 1 and lines.count("END:VEVENT") == 1
    assert not any(line.startswith(("ATTENDEE", "X-INJECTED")) for line in lines)
    assert not any(ord(ch) < 32 or 127 <= ord(ch) < 160 for ch in "".join(lines))
    (event,) = parse(document).walk("VEVENT")
    assert str(event["SUMMARY"]) == (
        "New code END:VEVENT BEGIN:VEVENT ATTENDEE:mailto:x@evil.test [31m"
    )
    # The description keeps its line breaks, as escaped newlines inside the one property.
    assert str(event["DESCRIPTION"]).split("\n") == [
        "New code",
        "END:VEVENT",
        "BEGIN:VEVENT",
        "ATTENDEE:mailto:x@evil.test  [31m",
    ]
    assert str(event["UID"]) == "id X-INJECTED:1"


def test_long_lines_are_folded_at_75_octets() -> None:
    summary = "Online Safety Act 2023 — " + "protection of children duties " * 6
    description = "é" * 200  # two octets each: folding must not split one
    document = build_calendar("Dates", [item(summary=summary, description=description)])

    raw_lines = document.split(b"\r\n")
    assert max(len(line) for line in raw_lines) <= 75
    assert any(line.startswith(b" ") for line in raw_lines)  # continuation lines exist
    for line in raw_lines:
        line.decode("utf-8")  # each physical line is whole UTF-8
    (event,) = parse(document).walk("VEVENT")
    assert str(event["SUMMARY"]) == summary.strip()
    assert str(event["DESCRIPTION"]) == description


def test_a_datetime_day_stays_an_all_day_event() -> None:
    document = build_calendar("Dates", [item(day=datetime(2026, 5, 1, 23, 30, tzinfo=UTC))])

    (event,) = parse(document).walk("VEVENT")
    assert event.decoded("DTSTART") == date(2026, 5, 1)
    assert event.decoded("DTEND") - event.decoded("DTSTART") == timedelta(days=1)


def test_no_categories_no_property() -> None:
    document = build_calendar("Dates", [item(categories=()), item(categories=("", " "))])

    assert b"CATEGORIES" not in document


def test_custom_product_id() -> None:
    document = build_calendar("Dates", [], product_id="-//example//feed//EN")

    assert str(parse(document)["PRODID"]) == "-//example//feed//EN"


def test_calendar_item_is_frozen() -> None:
    entry = item()
    with pytest.raises(AttributeError):
        entry.summary = "changed"  # type: ignore[misc]

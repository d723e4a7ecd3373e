"""The mail transports against a real SMTP server on 127.0.0.1, and the .eml outbox."""

from __future__ import annotations

import os
import smtplib
import socket
import ssl
import traceback
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any

import pytest

from compliance.alerts import mailer
from compliance.alerts.mailer import (
    FileTransport,
    PermanentFailure,
    SmtpTransport,
    TemporaryFailure,
    Transport,
    open_transport,
    parse_smtp_url,
)
from tests.alerts.conftest import SMTP_PASSWORD, SMTP_USER, SmtpServer

SUBJECT = "[UK] Ofcom: new children's code — 3 obligations affected"
SENDER = "Compliance <alerts@example.org>"


def make_message(
    to: str = "Manager <manager@example.org>",
    *,
    subject: str = SUBJECT,
    message_id: str | None = None,
    text: str = "Ofcom published a new code.\nReview: http://localhost/reviews/7\n",
) -> EmailMessage:
    """A message as the alerts domain builds one: every header set, text and HTML."""
    message = EmailMessage()
    message["From"] = SENDER
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(datetime(2026, 3, 14, 9, 30, tzinfo=UTC))
    message["Message-ID"] = message_id or make_msgid("alert", domain="compliance.test")
    message["List-Unsubscribe"] = "<http://localhost/alerts/unsubscribe/abc.def>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(text)
    message.add_alternative("<p>Ofcom published a new code.</p>", subtype="html")
    return message


def smtp(server: SmtpServer, tmp_path: Path, **extra: Any) -> Transport:
    config = {**server.config, "MAIL_FROM": SENDER, **extra}
    return open_transport(config, str(tmp_path))


# -- SMTP --------------------------------------------------------------------------------------


def test_delivers_over_smtp_with_headers_intact(smtp_server: SmtpServer, tmp_path: Path) -> None:
    message = make_message()
    transport = smtp(smtp_server, tmp_path)
    try:
        transport.send(message)
    finally:
        transport.close()

    (envelope,) = smtp_server.envelopes
    assert envelope.sender == "alerts@example.org"
    assert envelope.recipients == ("manager@example.org",)
    assert b"\r\n" in envelope.data and b"\n" not in envelope.data.replace(b"\r\n", b"")
    (received,) = smtp_server.messages
    for name in ("From", "To", "Subject", "Date", "Message-ID", "List-Unsubscribe"):
        assert str(received[name]) == str(message[name]), name
    assert received["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert received.get_content_type() == "multipart/alternative"
    text = received.get_body(("plain",))
    html = received.get_body(("html",))
    assert text is not None and html is not None
    assert "http://localhost/reviews/7" in text.get_content()
    assert "<p>Ofcom published a new code.</p>" in html.get_content()


def test_8bit_bodies_are_declared(smtp_server: SmtpServer, tmp_path: Path) -> None:
    message = make_message(text="Ofcom published a new code — read it before the deadline.\n")
    transport = smtp(smtp_server, tmp_path)
    transport.send(message)
    transport.send(make_message())  # base64 and quoted-printable parts are plain ASCII
    transport.close()

    first, second = smtp_server.envelopes
    assert b"Content-Transfer-Encoding: 8bit" in first.data
    assert "BODY=8BITMIME" in first.options
    assert "BODY=8BITMIME" not in second.options
    text = smtp_server.messages[0].get_body(("plain",))
    assert text is not None
    assert text.get_content() == "Ofcom published a new code — read it before the deadline.\n"


def test_one_connection_serves_several_messages(smtp_server: SmtpServer, tmp_path: Path) -> None:
    transport = smtp(smtp_server, tmp_path)
    for number in range(3):
        transport.send(make_message(f"user{number}@example.org"))
    transport.close()

    assert [m["To"] for m in smtp_server.messages] == [
        "user0@example.org",
        "user1@example.org",
        "user2@example.org",
    ]
    assert smtp_server.connections == 1


def test_envelope_recipients_come_from_to_only(smtp_server: SmtpServer, tmp_path: Path) -> None:
    message = make_message("a@example.org, Bee <b@example.org>")
    message["Cc"] = "not-me@example.org"
    transport = smtp(smtp_server, tmp_path)
    transport.send(message)
    transport.close()

    (envelope,) = smtp_server.envelopes
    assert envelope.recipients == ("a@example.org", "b@example.org")


def test_auth(smtp_server_auth: SmtpServer, tmp_path: Path) -> None:
    assert "%40" in smtp_server_auth.url  # the password's "@" arrives percent-encoded
    transport = smtp(smtp_server_auth, tmp_path)
    transport.send(make_message())
    transport.close()

    assert len(smtp_server_auth.messages) == 1


def test_wrong_password_is_permanent(smtp_server_auth: SmtpServer, tmp_path: Path) -> None:
    url = f"smtp://{SMTP_USER}:wrong@127.0.0.1:{smtp_server_auth.port}"
    transport = open_transport({"SMTP_URL": url}, str(tmp_path))

    with pytest.raises(PermanentFailure) as failure:
        transport.send(make_message())
    transport.close()

    assert failure.value.code == 535
    assert not failure.value.temporary
    assert "wrong" not in failure.value.reason
    assert smtp_server_auth.messages == []


def test_no_credentials_when_the_server_wants_them(
    smtp_server_auth: SmtpServer, tmp_path: Path
) -> None:
    url = f"smtp://127.0.0.1:{smtp_server_auth.port}"
    transport = open_transport({"SMTP_URL": url}, str(tmp_path))

    with pytest.raises(PermanentFailure) as failure:
        transport.send(make_message())
    transport.close()

    assert failure.value.code == 530


def test_starttls(smtp_server_starttls: SmtpServer, tmp_path: Path) -> None:
    assert smtp_server_starttls.url.startswith("smtp+starttls://")
    transport = smtp(smtp_server_starttls, tmp_path)
    assert "STARTTLS" in transport.description
    transport.send(make_message())
    transport.close()

    (received,) = smtp_server_starttls.messages
    assert received["Subject"] == SUBJECT


def test_starttls_refuses_an_untrusted_certificate(
    smtp_server_starttls: SmtpServer, tmp_path: Path
) -> None:
    transport = open_transport({"SMTP_URL": smtp_server_starttls.url}, str(tmp_path))

    with pytest.raises(TemporaryFailure) as failure:
        transport.send(make_message())
    transport.close()

    assert "certificate" in failure.value.reason
    assert smtp_server_starttls.messages == []


def test_starttls_never_falls_back_to_plain_text(smtp_server: SmtpServer, tmp_path: Path) -> None:
    url = f"smtp+starttls://{SMTP_USER}:secret@127.0.0.1:{smtp_server.port}"
    transport = open_transport({"SMTP_URL": url}, str(tmp_path))

    with pytest.raises(PermanentFailure, match="STARTTLS"):
        transport.send(make_message())
    transport.close()

    assert smtp_server.messages == []


def test_smtps(smtps_server: SmtpServer, tmp_path: Path) -> None:
    transport = smtp(smtps_server, tmp_path)
    assert transport.description.startswith(f"SMTP 127.0.0.1:{smtps_server.port} (TLS")
    transport.send(make_message())
    transport.close()

    assert len(smtps_server.messages) == 1


def test_tls_to_a_plain_server_is_temporary(smtp_server: SmtpServer, tmp_path: Path) -> None:
    url = f"smtps://127.0.0.1:{smtp_server.port}"
    transport = open_transport({"SMTP_URL": url}, str(tmp_path))

    with pytest.raises(TemporaryFailure, match="TLS failed"):
        transport.send(make_message())
    transport.close()


def test_a_silent_server_times_out(smtps_server: SmtpServer, tmp_path: Path) -> None:
    # Plain text to a TLS port: both sides wait for the other to speak first.
    url = f"smtp://127.0.0.1:{smtps_server.port}?timeout=0.2"
    transport = open_transport({"SMTP_URL": url}, str(tmp_path))

    with pytest.raises(TemporaryFailure, match="timed out"):
        transport.send(make_message())
    transport.close()


def test_451_is_temporary_and_the_retry_delivers_once(
    smtp_server: SmtpServer, tmp_path: Path
) -> None:
    smtp_server.script("451 4.3.0 Try again later")
    message = make_message()
    transport = smtp(smtp_server, tmp_path)

    with pytest.raises(TemporaryFailure) as failure:
        transport.send(message)
    assert failure.value.code == 451
    assert failure.value.temporary
    assert failure.value.reason == "451 4.3.0 Try again later"
    transport.send(message)  # the same connection is still good
    transport.close()

    assert smtp_server.data_commands == 2
    assert [m["Message-ID"] for m in smtp_server.messages] == [message["Message-ID"]]


def test_550_is_permanent(smtp_server: SmtpServer, tmp_path: Path) -> None:
    smtp_server.script("550 5.1.1 No such user")
    transport = smtp(smtp_server, tmp_path)

    with pytest.raises(PermanentFailure) as failure:
        transport.send(make_message())
    transport.send(make_message("other@example.org"))  # the next message is unaffected
    transport.close()

    assert failure.value.code == 550
    assert "5.1.1 No such user" in failure.value.reason
    assert [m["To"] for m in smtp_server.messages] == ["other@example.org"]


@pytest.mark.parametrize(
    ("reply", "expected"),
    [("550 5.1.1 No such user", PermanentFailure), ("450 4.2.1 Mailbox busy", TemporaryFailure)],
)
def test_refused_recipient(
    smtp_server: SmtpServer, tmp_path: Path, reply: str, expected: type[Exception]
) -> None:
    smtp_server.script(reply, at="RCPT")
    transport = smtp(smtp_server, tmp_path)

    with pytest.raises(expected) as failure:
        transport.send(make_message())
    transport.close()

    assert isinstance(failure.value, mailer.DeliveryFailure)
    assert failure.value.code == int(reply[:3])
    assert smtp_server.messages == []


def test_partly_refused_recipients_are_not_retried(smtp_server: SmtpServer, tmp_path: Path) -> None:
    # The first recipient got it: a retry would give them a second copy.
    smtp_server.script("250 OK", "550 5.1.1 No such user", at="RCPT")
    transport = smtp(smtp_server, tmp_path)

    with pytest.raises(PermanentFailure, match="some recipients refused") as failure:
        transport.send(make_message("a@example.org, b@example.org"))
    transport.close()

    assert failure.value.code == 550
    assert [envelope.recipients for envelope in smtp_server.envelopes] == [("a@example.org",)]


def test_server_down_is_temporary_then_delivers(smtp_server: SmtpServer, tmp_path: Path) -> None:
    smtp_server.stop()
    message = make_message()
    transport = smtp(smtp_server, tmp_path)

    with pytest.raises(TemporaryFailure) as failure:
        transport.send(message)
    assert failure.value.reason == "connection refused"
    assert failure.value.code is None

    smtp_server.start()
    transport.send(message)
    transport.close()

    assert [m["Message-ID"] for m in smtp_server.messages] == [message["Message-ID"]]


def test_reconnects_after_a_server_restart(smtp_server: SmtpServer, tmp_path: Path) -> None:
    transport = smtp(smtp_server, tmp_path)
    transport.send(make_message("first@example.org"))
    smtp_server.stop()  # cuts the open connection
    smtp_server.start()

    transport.send(make_message("second@example.org"))
    transport.close()

    assert [m["To"] for m in smtp_server.messages] == ["first@example.org", "second@example.org"]
    assert smtp_server.connections == 2


def test_an_outage_between_messages_fails_then_recovers(
    smtp_server: SmtpServer, tmp_path: Path
) -> None:
    transport = smtp(smtp_server, tmp_path)
    transport.send(make_message("first@example.org"))
    smtp_server.stop()

    with pytest.raises(TemporaryFailure):
        transport.send(make_message("second@example.org"))
    smtp_server.start()
    transport.send(make_message("second@example.org"))
    transport.close()

    assert [m["To"] for m in smtp_server.messages] == ["first@example.org", "second@example.org"]


def test_close_without_sending_and_twice(smtp_server: SmtpServer, tmp_path: Path) -> None:
    transport = smtp(smtp_server, tmp_path)
    transport.close()
    transport.send(make_message())
    transport.close()
    transport.close()

    assert smtp_server.connections == 1


@pytest.mark.parametrize(
    ("error", "expected", "reason"),
    [
        (ConnectionRefusedError(111, "Connection refused"), TemporaryFailure, "connection refused"),
        (ConnectionResetError(104, "Connection reset by peer"), TemporaryFailure, "reset"),
        (TimeoutError("timed out"), TemporaryFailure, "timed out"),
        (socket.gaierror(-2, "Name or service not known"), TemporaryFailure, "resolve"),
        (ssl.SSLError(1, "[SSL] record layer failure"), TemporaryFailure, "TLS failed"),
        (smtplib.SMTPServerDisconnected("gone"), TemporaryFailure, "closed the connection"),
        (smtplib.SMTPAuthenticationError(535, b"5.7.8 Bad credentials"), PermanentFailure, "535"),
        (smtplib.SMTPAuthenticationError(454, b"4.7.0 Try later"), TemporaryFailure, "454"),
        (smtplib.SMTPConnectError(554, b"No service"), PermanentFailure, "554 No service"),
        (smtplib.SMTPNotSupportedError("no AUTH"), PermanentFailure, "does not support"),
    ],
)
def test_classify_error(error: Exception, expected: type[Exception], reason: str) -> None:
    failure = mailer.classify_error(error)

    assert type(failure) is expected
    assert reason in failure.reason


def test_classify_error_raises_what_is_not_a_delivery_outcome() -> None:
    with pytest.raises(KeyError):
        mailer.classify_error(KeyError("bug"))


def test_long_server_replies_are_cut_short(smtp_server: SmtpServer, tmp_path: Path) -> None:
    smtp_server.script("554 5.7.1 " + "spam " * 100)
    transport = smtp(smtp_server, tmp_path)

    with pytest.raises(PermanentFailure) as failure:
        transport.send(make_message())
    transport.close()

    assert len(failure.value.reason) <= mailer.REASON_LENGTH
    assert failure.value.reason.startswith("554 5.7.1 spam spam")


# -- header injection --------------------------------------------------------------------------


INJECTIONS = [
    ("Subject", "Hello\r\nBcc: victim@example.org"),
    ("Subject", "Hello\nBcc: victim@example.org"),
    ("Subject", "Hello\rBcc: victim@example.org"),
    ("X-Feed-Title", "Title\r\n\r\n<html>a new body</html>"),
]


def test_email_message_refuses_line_breaks_already() -> None:
    # What the alerts domain does (msg["Subject"] = title) fails before reaching a transport.
    with pytest.raises(ValueError, match="linefeed or carriage return"):
        make_message(subject="Hello\r\nBcc: victim@example.org")


@pytest.mark.parametrize(("name", "value"), INJECTIONS)
def test_smtp_refuses_line_breaks_in_headers(
    smtp_server: SmtpServer, tmp_path: Path, name: str, value: str
) -> None:
    message = make_message()
    del message[name]
    message.set_raw(name, value)  # set_raw skips EmailMessage's own check
    transport = smtp(smtp_server, tmp_path)

    with pytest.raises(PermanentFailure, match="line break"):
        transport.send(message)
    transport.send(make_message())
    transport.close()

    assert len(smtp_server.messages) == 1
    assert "victim" not in str(smtp_server.envelopes)


def test_refuses_line_breaks_in_a_part_and_in_header_names(tmp_path: Path) -> None:
    transport = FileTransport(tmp_path / "outbox")
    in_part = make_message()
    html = in_part.get_body(("html",))
    assert html is not None
    html.set_raw("Content-Description", "x\r\nBcc: victim@example.org")
    in_name = make_message()
    in_name.set_raw("X-A\r\nBcc", "victim@example.org")

    with pytest.raises(PermanentFailure, match="line break"):
        transport.send(in_part)
    with pytest.raises(PermanentFailure, match="header name"):
        transport.send(in_name)
    assert not (tmp_path / "outbox").exists() or not os.listdir(tmp_path / "outbox")


def test_folded_headers_of_a_parsed_message_are_no_injection(
    smtp_server: SmtpServer, tmp_path: Path
) -> None:
    # A long subject is folded (CRLF + space) when serialised; read back and re-sent, that
    # folding must not be mistaken for a new header.
    long_subject = "Ofcom " + "publishes a very long consultation title " * 4
    sent = make_message(subject=long_subject)
    transport = smtp(smtp_server, tmp_path)
    transport.send(sent)
    (received,) = smtp_server.messages
    transport.send(received)
    transport.close()

    assert [m["Subject"] for m in smtp_server.messages] == [long_subject, long_subject]


def test_a_message_needs_a_message_id(smtp_server: SmtpServer, tmp_path: Path) -> None:
    message = make_message()
    del message["Message-ID"]
    transport = smtp(smtp_server, tmp_path)

    with pytest.raises(PermanentFailure, match="Message-ID"):
        transport.send(message)
    transport.close()
    assert smtp_server.connections == 0


def test_a_message_needs_a_recipient(smtp_server: SmtpServer, tmp_path: Path) -> None:
    message = make_message("undisclosed-recipients:;")
    transport = smtp(smtp_server, tmp_path)

    with pytest.raises(PermanentFailure, match="To"):
        transport.send(message)
    transport.close()


# -- settings ----------------------------------------------------------------------------------


def test_parse_smtp_url_forms() -> None:
    plain = parse_smtp_url("smtp://127.0.0.1:8025")
    assert (plain.host, plain.port, plain.security, plain.username) == (
        "127.0.0.1",
        8025,
        "plain",
        None,
    )
    assert plain.timeout == 30

    starttls = parse_smtp_url("smtp://us%40er:p%40ss%3Aw%2Frd@mail.example.org:587?starttls=true")
    assert starttls.security == "starttls"
    assert (starttls.username, starttls.password) == ("us@er", "p@ss:w/rd")

    assert parse_smtp_url("smtp+starttls://mail.example.org").port == 587
    assert parse_smtp_url("SMTPS://mail.example.org?timeout=2.5").port == 465
    assert parse_smtp_url("smtps://mail.example.org?timeout=2.5").timeout == 2.5
    assert parse_smtp_url("smtp://mail.example.org").port == 25
    assert parse_smtp_url("smtp://[::1]:2525").description == "SMTP [::1]:2525 (plain)"
    assert parse_smtp_url("smtp://localhost", ca_file="/ca.pem").ca_file == "/ca.pem"


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://mail.example.org", "must start with smtp://"),
        ("mail.example.org:25", "must start with smtp://"),
        ("user:hunter2@mail.example.org", "must start with smtp://"),
        ("smtp://", "no host"),
        ("smtp://:hunter2@", "no host"),
        ("smtp://mail.example.org:smtp", "port"),
        ("smtp://u:hunter2@mail.example.org:99999?starttls=true", "port"),
        ("smtp://mail.example.org:0", "port"),
        ("smtp://[::1", "well-formed"),
        ("smtp://mail.example.org/inbox", "no path"),
        ("smtp://mail.example.org?ssl=1", "unknown option 'ssl'"),
        ("smtp://mail.example.org?starttls=maybe", "starttls must be true or false"),
        ("smtps://mail.example.org?starttls=true", "starttls does not apply"),
        ("smtp+starttls://mail.example.org?starttls=false", "contradicts"),
        ("smtp://mail.example.org?timeout=0", "timeout"),
        ("smtp://mail.example.org?timeout=soon", "timeout"),
        ("smtp://user@mail.example.org:587?starttls=true", "both a user name and a password"),
        ("smtps://user:h%C3%BCnter2@mail.example.org", "ASCII"),
        ("smtp://user:hunter2@mail.example.org:25", "unencrypted"),
    ],
)
def test_invalid_smtp_urls(url: str, problem: str) -> None:
    with pytest.raises(ValueError, match="SMTP_URL") as error:
        open_transport({"SMTP_URL": url}, "/instance")

    message = str(error.value)
    assert problem in message
    # Nor anywhere in the traceback a log would show (chained exceptions included).
    report = "".join(traceback.format_exception(error.value))
    assert "hunter2" not in report and "nter2" not in report


def test_a_missing_ca_file_is_a_settings_error(tmp_path: Path) -> None:
    config = {"SMTP_URL": "smtps://mail.example.org", "SMTP_CA_FILE": str(tmp_path / "ca.pem")}

    with pytest.raises(ValueError, match="SMTP_CA_FILE: no such file"):
        open_transport(config, str(tmp_path))


def test_credentials_over_plain_text_only_on_loopback() -> None:
    assert parse_smtp_url("smtp://u:p@localhost:2525").username == "u"
    assert parse_smtp_url("smtp://u:p@127.0.0.2:2525").username == "u"
    assert parse_smtp_url("smtp://u:p@[::1]:2525").username == "u"


def test_description_never_holds_the_password(smtp_server_auth: SmtpServer) -> None:
    transport = open_transport(smtp_server_auth.config, "/instance")
    assert isinstance(transport, SmtpTransport)

    assert transport.description == (
        f"SMTP 127.0.0.1:{smtp_server_auth.port} (plain, user {SMTP_USER})"
    )
    for text in (transport.description, repr(transport.settings), str(transport.settings)):
        assert SMTP_PASSWORD not in text
        assert "s3cret" not in text


@pytest.mark.parametrize(
    ("mail_from", "expected"),
    [
        ("", "compliance@localhost"),
        ("alerts@example.org", "alerts@example.org"),
        ("Compliance Tracker <alerts@example.org>", "alerts@example.org"),
    ],
)
def test_envelope_sender(mail_from: str, expected: str) -> None:
    assert mailer.envelope_sender(mail_from) == expected


@pytest.mark.parametrize("mail_from", ["nobody", "a@example.org\r\nBcc: b@example.org", "é@x.org"])
def test_invalid_mail_from(mail_from: str) -> None:
    with pytest.raises(ValueError, match="MAIL_FROM"):
        open_transport({"SMTP_URL": "smtp://localhost", "MAIL_FROM": mail_from}, "/instance")


# -- files -------------------------------------------------------------------------------------


def test_file_transport_is_the_default(tmp_path: Path) -> None:
    transport = open_transport({"SMTP_URL": ""}, str(tmp_path))

    assert isinstance(transport, FileTransport)
    assert transport.directory == tmp_path / "outbox"
    assert transport.description == f"files in {tmp_path / 'outbox'}"
    assert not (tmp_path / "outbox").exists()  # nothing happens until a message comes

    other = open_transport({"MAIL_OUTBOX_DIR": str(tmp_path / "mail")}, str(tmp_path))
    assert isinstance(other, FileTransport) and other.directory == tmp_path / "mail"


def test_file_transport_writes_one_eml_per_message(tmp_path: Path) -> None:
    transport = open_transport({}, str(tmp_path))
    first = make_message(message_id="<alert-1.42@compliance.test>")
    second = make_message("other@example.org", message_id="<alert-2.42@compliance.test>")
    transport.send(first)
    transport.send(second)
    transport.close()

    names = sorted(os.listdir(tmp_path / "outbox"))
    assert len(names) == 2
    stamp, rest = names[0].split("_", 1)
    assert datetime.strptime(stamp, "%Y%m%dT%H%M%S.%fZ")  # names sort by time of writing
    assert rest.startswith("alert-1.42@compliance.test.") and rest.endswith(".eml")
    written = {}
    for name in names:
        data = (tmp_path / "outbox" / name).read_bytes()
        assert b"\n" not in data.replace(b"\r\n", b"")  # CRLF throughout, as on the wire
        parsed = message_from_bytes(data, policy=policy.default)
        written[parsed["Message-ID"]] = parsed
    assert written.keys() == {"<alert-1.42@compliance.test>", "<alert-2.42@compliance.test>"}
    copy = written["<alert-2.42@compliance.test>"]
    assert (copy["To"], copy["Subject"]) == ("other@example.org", SUBJECT)
    assert copy.get_body(("html",)) is not None


def test_file_transport_is_idempotent(tmp_path: Path) -> None:
    message = make_message()
    transport = open_transport({}, str(tmp_path))
    transport.send(message)
    transport.send(message)
    # A resend after a crash comes from a new process, with a new transport.
    open_transport({}, str(tmp_path)).send(message)

    assert len(os.listdir(tmp_path / "outbox")) == 1


def test_file_names_are_safe_and_distinct(tmp_path: Path) -> None:
    transport = FileTransport(tmp_path / "outbox")
    ids = ["<../../etc/passwd@x>", "<.._.._etc_passwd@x>", "<a\\b:c*d?@x>", '<"a b"@x>']
    for message_id in ids:
        transport.send(make_message(message_id=message_id))

    names = os.listdir(tmp_path / "outbox")
    assert len(names) == len(ids)
    assert not list(tmp_path.glob("*.eml")) and not (tmp_path.parent / "etc").exists()
    for name in names:
        assert "/" not in name and "\\" not in name and " " not in name and ":" not in name


def test_file_transport_leaves_no_temporary_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    transport = FileTransport(tmp_path / "outbox")
    transport.send(make_message())

    def crash(source: str, target: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(mailer.os, "replace", crash)
    with pytest.raises(TemporaryFailure, match="No space left"):
        transport.send(make_message())

    (name,) = os.listdir(tmp_path / "outbox")
    assert name.endswith(".eml") and not name.startswith(mailer.TEMP_PREFIX)


def test_file_transport_refuses_a_message_without_message_id(tmp_path: Path) -> None:
    message = make_message()
    del message["Message-ID"]

    with pytest.raises(PermanentFailure, match="Message-ID"):
        FileTransport(tmp_path / "outbox").send(message)

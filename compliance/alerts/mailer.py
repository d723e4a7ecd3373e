"""The one mail adapter: hand finished messages to an SMTP server, or write them as .eml files
when none is configured. Nothing else imports smtplib.

Callers build complete messages (Message-ID, Date, From, To, Subject, List-Unsubscribe...);
a transport only checks, serialises and delivers them, and says how a failure should be
treated: TemporaryFailure (4xx, the server unreachable) is worth retrying, PermanentFailure (5xx,
a message that can never be sent) is not. A transport is not thread-safe: one per sender job.

    transport = open_transport(app.config, app.instance_path)
    try:
        transport.send(message)
    finally:
        transport.close()
"""

from __future__ import annotations

import email.policy
import ipaddress
import os
import re
import smtplib
import socket
import ssl
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.errors import MessageError
from email.message import EmailMessage
from email.utils import getaddresses, parseaddr
from hashlib import sha256
from pathlib import Path
from typing import Any, Literal, Protocol
from urllib.parse import parse_qsl, unquote, urlsplit

from compliance import clock

Security = Literal["plain", "starttls", "tls"]

DEFAULT_SENDER = "compliance@localhost"
DEFAULT_TIMEOUT = 30.0
DEFAULT_PORTS = {"plain": 25, "starttls": 587, "tls": 465}
SCHEMES: dict[str, Security] = {"smtp": "plain", "smtp+starttls": "starttls", "smtps": "tls"}
TRUE = {"1", "true", "yes", "on"}
FALSE = {"0", "false", "no", "off"}
REASON_LENGTH = 200
# RFC 5322 3.6.8: a field name is printable US-ASCII except the colon.
FIELD_NAME = re.compile(r"[!-9;-~]+")
UNSAFE_IN_NAME = re.compile(r"[^A-Za-z0-9._@+=-]+")
TEMP_PREFIX = ".tmp-"


class DeliveryFailure(Exception):
    """A message was not delivered. reason is short and safe to show admins."""

    temporary = False

    def __init__(self, reason: str, code: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


class TemporaryFailure(DeliveryFailure):
    """Try again later: a 4xx reply, the server unreachable or timing out, a TLS hiccup."""

    temporary = True


class PermanentFailure(DeliveryFailure):
    """Sending again will not help: a 5xx reply, credentials refused, a malformed message."""

    temporary = False


class Transport(Protocol):
    """Where messages go. send raises DeliveryFailure subclasses, never smtplib's errors."""

    #: Where messages go, for logs and the admin page; never carries a password.
    description: str

    def send(self, message: EmailMessage) -> None: ...

    def close(self) -> None: ...


def open_transport(config: Mapping[str, Any], instance_path: str) -> Transport:
    """The transport the settings ask for: SMTP if SMTP_URL is set, else .eml files.

    Nothing is opened yet (the first send connects), so a bad server cannot fail this call;
    a malformed SMTP_URL or MAIL_FROM raises ValueError, naming the problem but never the
    password.
    """
    url = str(config.get("SMTP_URL") or "").strip()
    if not url:
        directory = str(config.get("MAIL_OUTBOX_DIR") or "") or os.path.join(
            instance_path, "outbox"
        )
        return FileTransport(Path(directory))
    ca_file = str(config.get("SMTP_CA_FILE") or "") or None
    if ca_file is not None and not os.path.isfile(ca_file):
        raise ValueError(f"SMTP_CA_FILE: no such file: {ca_file}")
    settings = parse_smtp_url(url, ca_file=ca_file)
    return SmtpTransport(settings, envelope_sender(str(config.get("MAIL_FROM") or "")))


def envelope_sender(mail_from: str) -> str:
    """The bare address of MAIL_FROM ("Compliance <c@example.org>" gives "c@example.org")."""
    mail_from = mail_from.strip() or DEFAULT_SENDER
    if _has_line_break(mail_from):
        raise ValueError("MAIL_FROM contains a line break")
    _name, address = parseaddr(mail_from)
    if "@" not in address:
        raise ValueError("MAIL_FROM is not an e-mail address")
    if not address.isascii():
        raise ValueError("MAIL_FROM must be an ASCII address (SMTPUTF8 is not supported)")
    return address


@dataclass(frozen=True)
class SmtpSettings:
    """A parsed SMTP_URL."""

    host: str
    port: int
    security: Security
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: float = DEFAULT_TIMEOUT
    ca_file: str | None = None

    @property
    def description(self) -> str:
        label = {"plain": "plain", "starttls": "STARTTLS", "tls": "TLS"}[self.security]
        host = f"[{self.host}]" if ":" in self.host else self.host
        user = f", user {self.username}" if self.username else ""
        return f"SMTP {host}:{self.port} ({label}{user})"


def parse_smtp_url(url: str, *, ca_file: str | None = None) -> SmtpSettings:
    """Read smtp://, smtp+starttls:// or smtps:// URLs; see DefaultConfig.SMTP_URL.

    Error messages name the part at fault and never quote the URL, which may hold a password.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        raise ValueError("SMTP_URL is not a well-formed URL") from None
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        # The scheme is not quoted back: in "user:secret@host" it would be the user name.
        raise ValueError("SMTP_URL must start with smtp://, smtp+starttls:// or smtps://")
    security = SCHEMES[scheme]
    try:
        port = parts.port
    except ValueError:
        port = 0
    if port == 0:
        raise ValueError("SMTP_URL: the port must be a number from 1 to 65535")
    host = parts.hostname
    if not host:
        raise ValueError("SMTP_URL names no host")
    if parts.path not in ("", "/") or parts.fragment:
        raise ValueError("SMTP_URL takes no path or fragment, only host, port and options")
    timeout = DEFAULT_TIMEOUT
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if name == "starttls":
            security = _starttls_option(value, security)
        elif name == "timeout":
            timeout = _timeout_option(value)
        else:
            raise ValueError(f"SMTP_URL: unknown option {name!r} (known: starttls, timeout)")
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    _check_credentials(username, password, host, security)
    return SmtpSettings(
        host=host,
        port=DEFAULT_PORTS[security] if port is None else port,
        security=security,
        username=username,
        password=password,
        timeout=timeout,
        ca_file=ca_file,
    )


def _starttls_option(value: str, security: Security) -> Security:
    wanted = value.lower()
    if wanted not in TRUE | FALSE:
        raise ValueError("SMTP_URL: starttls must be true or false")
    if security == "tls":
        raise ValueError("SMTP_URL: smtps:// is TLS from the start; starttls does not apply")
    if security == "starttls" and wanted in FALSE:
        raise ValueError("SMTP_URL: smtp+starttls:// contradicts starttls=false")
    return "starttls" if wanted in TRUE else "plain"


def _timeout_option(value: str) -> float:
    try:
        timeout = float(value)
    except ValueError:
        timeout = -1.0
    if not 0 < timeout <= 3600:
        raise ValueError("SMTP_URL: timeout must be a number of seconds, above 0, at most 3600")
    return timeout


def _check_credentials(
    username: str | None, password: str | None, host: str, security: Security
) -> None:
    if username is None and password is None:
        return
    if not username or password is None:
        raise ValueError("SMTP_URL: give both a user name and a password, or neither")
    # smtplib's AUTH PLAIN and LOGIN encode as ASCII; say so now rather than at the first send.
    if not (username.isascii() and password.isascii()):
        raise ValueError("SMTP_URL: the user name and password must be ASCII")
    if security == "plain" and not _is_loopback(host):
        raise ValueError(
            "SMTP_URL: a password would cross the network unencrypted; use "
            "smtp+starttls:// (or ?starttls=true) or smtps://"
        )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class SmtpTransport:
    """Delivers over one SMTP connection, opened at the first send and reused after."""

    def __init__(self, settings: SmtpSettings, sender: str = DEFAULT_SENDER) -> None:
        self.settings = settings
        self.sender = sender
        self.description = settings.description
        self._connection: smtplib.SMTP | None = None

    def send(self, message: EmailMessage) -> None:
        data = serialise(message)
        recipients = _recipients(message)
        try:
            connection = self._connect()
            # EmailMessage picks 8bit transfer encoding for mostly-ASCII UTF-8 text; RFC 6152
            # wants that declared to servers that offer it.
            options = (
                ["BODY=8BITMIME"] if not data.isascii() and connection.has_extn("8bitmime") else []
            )
            refused = connection.sendmail(self.sender, recipients, data, options)
        except smtplib.SMTPRecipientsRefused as error:
            # smtplib sent RSET: the connection is still good for the next message.
            raise _recipients_failure(error.recipients) from None
        except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as error:
            if error.smtp_code == 421:  # the server is closing the connection
                self._drop()
            raise _reply_failure(error.smtp_code, error.smtp_error) from None
        except Exception as error:
            self._drop()
            raise classify_error(error) from None
        if refused:
            # Some recipients took the message and some did not. Sending it again would give
            # the first ones a second copy, so this is permanent: seen by admins, never retried.
            raise _recipients_failure(refused, partial=True)

    def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            connection.quit()
        except (smtplib.SMTPException, OSError):
            connection.close()

    def _connect(self) -> smtplib.SMTP:
        if self._connection is not None:
            # The server may have dropped an idle connection since the last message. Finding
            # that out with NOOP, before MAIL FROM, means a message is never half-sent and
            # then sent again on a new connection.
            try:
                code, _reply = self._connection.noop()
            except (smtplib.SMTPException, OSError):
                code = 0
            if code == 250:
                return self._connection
            self._drop()
        self._connection = self._open()
        return self._connection

    def _open(self) -> smtplib.SMTP:
        settings = self.settings
        context = ssl.create_default_context(cafile=settings.ca_file)
        # Given the host, the constructors connect and read the greeting, closing the socket
        # themselves if that fails (and keeping the host name that TLS checks the certificate
        # against, which connect() alone does not).
        connection: smtplib.SMTP
        if settings.security == "tls":
            connection = smtplib.SMTP_SSL(
                settings.host, settings.port, timeout=settings.timeout, context=context
            )
        else:
            connection = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
        try:
            connection.ehlo()
            if settings.security == "starttls":
                if not connection.has_extn("starttls"):
                    # Never fall back to plain text: the settings asked for encryption.
                    raise PermanentFailure("the server does not offer STARTTLS")
                connection.starttls(context=context)
                connection.ehlo()
            if settings.username and settings.password is not None:
                connection.login(settings.username, settings.password)
        except BaseException:
            connection.close()
            raise
        return connection

    def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()


class FileTransport:
    """Writes each message to directory as an .eml file: the embedded default, for trying the
    app out and for development, with no mail server.

    A file's name is the time of writing and a filesystem-safe form of the Message-ID; a message
    whose Message-ID already has a file is not written again, so re-sending after a crash gives
    no second copy. Files appear whole (written aside, then renamed) or not at all.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.description = f"files in {directory}"

    def send(self, message: EmailMessage) -> None:
        data = serialise(message)
        key = file_key(str(message["Message-ID"]))
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            if self._written(key):
                return
            stamp = clock.utcnow().strftime("%Y%m%dT%H%M%S.%fZ")
            self._write_atomically(self.directory / f"{stamp}_{key}.eml", data)
        except OSError as error:
            raise classify_error(error) from None

    def close(self) -> None:
        """Nothing stays open between messages."""

    def _written(self, key: str) -> bool:
        suffix = f"_{key}.eml"
        with os.scandir(self.directory) as entries:
            return any(entry.name.endswith(suffix) for entry in entries)

    def _write_atomically(self, path: Path, data: bytes) -> None:
        handle, temporary = tempfile.mkstemp(dir=self.directory, prefix=TEMP_PREFIX)
        try:
            with os.fdopen(handle, "wb") as stream:
                stream.write(data)
                stream.flush()
                os.fsync(stream.fileno())
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        _sync_directory(self.directory)


def file_key(message_id: str) -> str:
    """A filesystem-safe name for a Message-ID; different IDs never share one."""
    readable = UNSAFE_IN_NAME.sub("_", message_id.strip().strip("<>"))[:120].strip("._")
    digest = sha256(message_id.encode("utf-8", "surrogateescape")).hexdigest()[:16]
    return f"{readable}.{digest}" if readable else digest


def _sync_directory(directory: Path) -> None:
    # The rename survives a power cut only once the directory entry is on disk (POSIX).
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:
        return  # e.g. Windows, which cannot open directories; the rename is already atomic
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def serialise(message: EmailMessage) -> bytes:
    """The message as it goes on the wire (CRLF line ends), after checking it cannot smuggle a
    header in: a CR or LF inside a header name or value is refused, whatever built it.

    EmailMessage already refuses such values when set through msg["Subject"] = ..., but not
    every way of building a message goes through that check (compat32 parts, set_raw), and a
    feed title reaches subjects: this is the last line of defence, so it trusts nothing.
    """
    if not message.get("Message-ID"):
        raise PermanentFailure("the message has no Message-ID")
    for part in message.walk():
        for name, value in part.raw_items():
            if not FIELD_NAME.fullmatch(name):
                raise PermanentFailure("a header name is malformed")
            if _has_line_break(_unfold(value)):
                raise PermanentFailure(f"the {name} header contains a line break")
    try:
        return message.as_bytes(policy=_WIRE_POLICY)
    except (MessageError, ValueError, TypeError, UnicodeError, LookupError) as error:
        raise PermanentFailure(_short(f"the message cannot be serialised: {error}")) from None


# RFC 5322 section 2.1.1: lines SHOULD stay within 78 characters but MAY run to 998. CPython's
# folder at 78 leaves a space at the end of the folded line and adds another at the start of the
# next, so a long subject with an encoded word (an em dash) arrives with a doubled space; at 998
# our headers (subjects are capped at 200 characters) are never folded.
_WIRE_POLICY = email.policy.SMTP.clone(max_line_length=998)


def _unfold(value: object) -> str:
    # A raw value read from a parsed message may carry folding (CRLF + blank), which is not a
    # new header; anything else is.
    return re.sub(r"\r?\n(?=[ \t])", "", str(value))


def _has_line_break(text: str) -> bool:
    return "\r" in text or "\n" in text


def _recipients(message: EmailMessage) -> list[str]:
    addresses = [address for _name, address in getaddresses(message.get_all("To", []))]
    if not addresses or not all("@" in address for address in addresses):
        raise PermanentFailure("the To header holds no valid address")
    if not all(address.isascii() for address in addresses):
        raise PermanentFailure("non-ASCII addresses (SMTPUTF8) are not supported")
    return addresses


def _reply_failure(code: int, text: bytes | str) -> DeliveryFailure:
    reason = _short(f"{code} {_text(text)}")
    if 400 <= code < 500:
        return TemporaryFailure(reason, code)
    if 500 <= code < 600:
        return PermanentFailure(reason, code)
    return TemporaryFailure(reason, code)  # not an SMTP code at all: the server misbehaved


def _recipients_failure(
    refused: Mapping[str, tuple[int, bytes]], *, partial: bool = False
) -> DeliveryFailure:
    codes = [code for code, _text in refused.values()]
    code, text = next(iter(refused.values()))
    what = "some recipients refused" if partial else "recipient refused"
    reason = _short(f"{what}: {code} {_text(text)}")
    if not partial and all(400 <= c < 500 for c in codes):
        return TemporaryFailure(reason, code)
    return PermanentFailure(reason, code)


def classify_error(error: BaseException) -> DeliveryFailure:
    """Map what smtplib, ssl and socket raise onto temporary or permanent failures; anything
    else (a programming error, not a delivery outcome) is raised again."""
    if isinstance(error, DeliveryFailure):
        return error
    if isinstance(error, smtplib.SMTPResponseException):
        # Includes SMTPAuthenticationError: 535 (refused) is permanent, 454 is temporary.
        return _reply_failure(error.smtp_code, error.smtp_error)
    if isinstance(error, smtplib.SMTPServerDisconnected):
        # smtplib reports a timeout or reset while reading a reply as a disconnection; the
        # socket's own error says more.
        if isinstance(error.__context__, OSError):
            return _network_failure(error.__context__)
        return TemporaryFailure("the server closed the connection")
    if isinstance(error, smtplib.SMTPNotSupportedError):
        return PermanentFailure(_short(f"the server does not support this: {error}"))
    if isinstance(error, smtplib.SMTPException):
        return PermanentFailure(_short(str(error)))
    if isinstance(error, OSError):
        return _network_failure(error)
    if isinstance(error, UnicodeError):
        return PermanentFailure("the message holds characters SMTP cannot carry")
    raise error


def _network_failure(error: OSError) -> DeliveryFailure:
    # All temporary: an unreachable or misconfigured server is for an admin to fix, and the
    # queued messages should then go without anyone re-queuing them.
    if isinstance(error, ConnectionRefusedError):
        return TemporaryFailure("connection refused")
    if isinstance(error, TimeoutError):  # socket.timeout is an alias
        return TemporaryFailure("timed out")
    if isinstance(error, socket.gaierror):
        return TemporaryFailure("the server's name does not resolve")
    if isinstance(error, ssl.SSLCertVerificationError):
        return TemporaryFailure(_short(f"TLS certificate not trusted: {error.verify_message}"))
    if isinstance(error, ssl.SSLError):
        detail = getattr(error, "reason", None) or error.strerror or error
        return TemporaryFailure(_short(f"TLS failed: {detail}"))
    return TemporaryFailure(_short(f"{type(error).__name__}: {error.strerror or error}"))


def _text(text: bytes | str) -> str:
    return text.decode("utf-8", "replace") if isinstance(text, bytes) else text


def _short(text: str) -> str:
    """One line of printable text, short enough for a table cell."""
    line = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return line if len(line) <= REASON_LENGTH else line[: REASON_LENGTH - 1] + "…"

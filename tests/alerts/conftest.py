"""A real SMTP server (aiosmtpd) on 127.0.0.1 for the alerts tests.

    def test_x(smtp_server):
        smtp_server.url             # "smtp://127.0.0.1:PORT", for SMTP_URL (.config: a dict)
        smtp_server.messages        # [EmailMessage] accepted, parsed with email.policy.default
        smtp_server.envelopes       # [Envelope(sender, recipients, data, options)], same order
        smtp_server.data_commands   # DATA transactions seen, refused ones included
        smtp_server.connections     # client connections that sent MAIL
        smtp_server.script("451 4.3.0 Try again later")         # the next DATA answers that
        smtp_server.script("550 5.1.1 No such user", at="RCPT")  # or the next RCPT
        smtp_server.stop(); smtp_server.start()  # an outage: refused meanwhile, same port after

Variants: smtp_server_auth (AUTH required, over plain text on loopback: SMTP_USER and
SMTP_PASSWORD, in .url), smtp_server_starttls (STARTTLS required, then AUTH) and smtps_server
(TLS from the first byte, then AUTH); the TLS ones carry .ca_file, a PEM file to pass as
SMTP_CA_FILE (.config includes it), from a certificate authority made by trustme.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import ssl
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword, Session
from aiosmtpd.smtp import Envelope as AiosmtpdEnvelope

HOST = "127.0.0.1"
SMTP_USER = "alerts@example.org"
# Characters that need percent-encoding in a URL, to prove the transport decodes them.
SMTP_PASSWORD = "s3cret p@ss/w:rd%"
STOP_TIMEOUT = 10.0

Tls = Literal["none", "starttls", "implicit"]


@dataclass(frozen=True)
class Envelope:
    sender: str
    recipients: tuple[str, ...]
    data: bytes  # as received, CRLF line ends, dot-unstuffed
    options: tuple[str, ...] = ()  # MAIL FROM parameters, e.g. BODY=8BITMIME


class Handler:
    """aiosmtpd hooks: scripted replies first, then normal acceptance; records what arrives."""

    def __init__(self, require_auth: bool) -> None:
        self.require_auth = require_auth
        self.lock = threading.Lock()
        self.scripts: dict[str, deque[str]] = {"RCPT": deque(), "DATA": deque()}
        self.envelopes: list[Envelope] = []
        self.data_commands = 0  # DATA transactions seen, accepted or not
        self.peers: list[object] = []  # the client address of each MAIL command

    def _scripted(self, command: str) -> str | None:
        with self.lock:
            queue = self.scripts[command]
            return queue.popleft() if queue else None

    async def handle_MAIL(  # noqa: N802 (aiosmtpd's hook names)
        self,
        server: SMTP,
        session: Session,
        envelope: AiosmtpdEnvelope,
        address: str,
        mail_options: list[str],
    ) -> str:
        # Checked here rather than with aiosmtpd's auth_required, which warns (an error under
        # filterwarnings) whenever it is combined with auth_require_tls=False.
        if self.require_auth and not session.authenticated:
            return "530 5.7.0 Authentication required"
        with self.lock:
            self.peers.append(session.peer)
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(  # noqa: N802
        self,
        server: SMTP,
        session: Session,
        envelope: AiosmtpdEnvelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        reply = self._scripted("RCPT")
        if reply is not None and not reply.startswith("2"):
            return reply
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(  # noqa: N802
        self, server: SMTP, session: Session, envelope: AiosmtpdEnvelope
    ) -> str:
        with self.lock:
            self.data_commands += 1
        reply = self._scripted("DATA")
        if reply is not None:
            return reply
        data = envelope.original_content
        assert isinstance(data, bytes)
        with self.lock:
            self.envelopes.append(
                Envelope(
                    str(envelope.mail_from),
                    tuple(envelope.rcpt_tos),
                    bytes(data),
                    tuple(envelope.mail_options),
                )
            )
        return "250 2.0.0 Message accepted for delivery"


def authenticator(
    server: SMTP, session: Session, envelope: AiosmtpdEnvelope, mechanism: str, auth_data: Any
) -> AuthResult:
    if not isinstance(auth_data, LoginPassword):
        return AuthResult(success=False, handled=False)
    good = auth_data.login == SMTP_USER.encode() and auth_data.password == SMTP_PASSWORD.encode()
    # handled=False: aiosmtpd then answers a failure with 535 itself.
    return AuthResult(success=good, handled=False, auth_data=auth_data)


class _Controller(Controller):
    """aiosmtpd's threaded controller, with a stop that closes client connections first.

    Controller.stop() only stops the event loop: connections still open stay as transports in
    a closed loop and are reported unclosed (ResourceWarning, an error here) when collected.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.protocols: list[SMTP] = []

    def factory(self) -> SMTP:
        protocol = super().factory()
        self.protocols.append(protocol)
        return protocol

    def shutdown(self) -> None:
        future = asyncio.run_coroutine_threadsafe(self._close_connections(), self.loop)
        future.result(STOP_TIMEOUT)
        self.stop()

    async def _close_connections(self) -> None:
        assert self.server is not None
        # Stop accepting, but keep the server open until the connections accepted so far have
        # their transports: closing it first makes those fail to attach and leak their socket
        # (Python 3.11, asyncio's _accept_connection2).
        for listening in self.server.sockets:
            self.loop.remove_reader(listening.fileno())
        current = asyncio.current_task()
        # Then, like a crash, no goodbye to the clients: first the sessions' own transports
        # (TLS ones warn when collected unclosed), then every socket the loop holds, which
        # includes connections still in their TLS handshake, whose sessions have no transport.
        for _round in range(100):
            await asyncio.sleep(0)  # accept tasks take their first step; aborts take effect
            for protocol in self.protocols:
                if protocol.transport is not None:
                    protocol.transport.abort()
            for transport in list(self.loop._transports.values()):  # type: ignore[attr-defined]
                transport.abort()
            await asyncio.sleep(0)
            pending = [task for task in asyncio.all_tasks() if task is not current]
            if not pending:
                break
            await asyncio.wait(pending, timeout=0.05)
        self.server.close()
        await self.server.wait_closed()


class SmtpServer:
    """One SMTP server on 127.0.0.1, on a port of its own that stays the same across restarts."""

    def __init__(
        self,
        *,
        tls: Tls = "none",
        auth: bool = False,
        authority: trustme.CA | None = None,
        ca_file: Path | None = None,
    ) -> None:
        self.tls = tls
        self.auth = auth
        self.ca_file = ca_file
        self.handler = Handler(require_auth=auth)
        self.port = _free_port()
        self._server_context: ssl.SSLContext | None = None
        if tls != "none":
            assert authority is not None
            self._server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            authority.issue_cert(HOST, "localhost").configure_cert(self._server_context)
        self._controller: _Controller | None = None

    @property
    def url(self) -> str:
        """The SMTP_URL for this server, credentials included when it wants them."""
        scheme = {"none": "smtp", "starttls": "smtp+starttls", "implicit": "smtps"}[self.tls]
        credentials = ""
        if self.auth:
            credentials = f"{quote(SMTP_USER, safe='')}:{quote(SMTP_PASSWORD, safe='')}@"
        return f"{scheme}://{credentials}{HOST}:{self.port}"

    @property
    def config(self) -> dict[str, str]:
        """Settings for open_transport or an app: SMTP_URL, and SMTP_CA_FILE when TLS."""
        config = {"SMTP_URL": self.url}
        if self.ca_file is not None:
            config["SMTP_CA_FILE"] = str(self.ca_file)
        return config

    @property
    def envelopes(self) -> list[Envelope]:
        with self.handler.lock:
            return list(self.handler.envelopes)

    @property
    def messages(self) -> list[EmailMessage]:
        parsed = []
        for envelope in self.envelopes:
            # LF line ends, as a mailbox stores them: else 8bit bodies read back with CRLF.
            data = envelope.data.replace(b"\r\n", b"\n")
            message = email.message_from_bytes(data, policy=email.policy.default)
            assert isinstance(message, EmailMessage)
            parsed.append(message)
        return parsed

    @property
    def data_commands(self) -> int:
        """DATA transactions the server took part in, refused ones included."""
        with self.handler.lock:
            return self.handler.data_commands

    @property
    def connections(self) -> int:
        """Client connections that sent at least one MAIL command."""
        with self.handler.lock:
            return len(set(self.handler.peers))

    def script(self, *replies: str, at: Literal["DATA", "RCPT"] = "DATA") -> None:
        """The next len(replies) DATA (or RCPT) commands get these replies, then 250 again."""
        with self.handler.lock:
            self.handler.scripts[at].extend(replies)

    def clear(self) -> None:
        with self.handler.lock:
            self.handler.envelopes.clear()
            self.handler.data_commands = 0
            self.handler.peers.clear()

    @property
    def running(self) -> bool:
        return self._controller is not None

    def start(self) -> None:
        assert self._controller is None, "already running"
        extra: dict[str, Any] = {}
        if self.auth:
            # With STARTTLS, AUTH only once encrypted. aiosmtpd cannot tell that an implicit-TLS
            # connection is encrypted, so there (and on plain loopback) it must not ask.
            extra.update(authenticator=authenticator, auth_require_tls=self.tls == "starttls")
        if self.tls == "starttls":
            extra.update(tls_context=self._server_context, require_starttls=True)
        elif self.tls == "implicit":
            extra["ssl_context"] = self._server_context
        controller = _Controller(
            self.handler,
            hostname=HOST,
            port=self.port,
            server_hostname="smtp.test",  # else aiosmtpd asks the resolver for this host's FQDN
            **extra,
        )
        controller.start()
        self._controller = controller

    def stop(self) -> None:
        """Take the server down, cutting its connections; connecting is refused until start()."""
        controller, self._controller = self._controller, None
        assert controller is not None, "not running"
        controller.shutdown()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def tls_authority() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def tls_ca_file(tls_authority: trustme.CA, tmp_path: Path) -> Path:
    path = tmp_path / "smtp-ca.pem"
    tls_authority.cert_pem.write_to_path(str(path))
    return path


def _serve(server: SmtpServer) -> Iterator[SmtpServer]:
    server.start()
    try:
        yield server
    finally:
        if server.running:
            server.stop()


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """Plain SMTP, no AUTH: what a local relay looks like."""
    yield from _serve(SmtpServer())


@pytest.fixture
def smtp_server_auth() -> Iterator[SmtpServer]:
    """AUTH required (PLAIN or LOGIN, SMTP_USER / SMTP_PASSWORD) without TLS, on loopback."""
    yield from _serve(SmtpServer(auth=True))


@pytest.fixture
def smtp_server_starttls(tls_authority: trustme.CA, tls_ca_file: Path) -> Iterator[SmtpServer]:
    """STARTTLS required before anything else, then AUTH; trust .ca_file to connect."""
    server = SmtpServer(tls="starttls", auth=True, authority=tls_authority, ca_file=tls_ca_file)
    yield from _serve(server)


@pytest.fixture
def smtps_server(tls_authority: trustme.CA, tls_ca_file: Path) -> Iterator[SmtpServer]:
    """TLS from the first byte (port-465 style), then AUTH; trust .ca_file to connect."""
    server = SmtpServer(tls="implicit", auth=True, authority=tls_authority, ca_file=tls_ca_file)
    yield from _serve(server)

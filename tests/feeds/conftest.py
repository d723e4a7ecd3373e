"""A real HTTP server on 127.0.0.1 serving feeds, and helpers to poll it.

Every request stays on this machine: the server binds 127.0.0.1 on a random port, and the app
may fetch only that address:port (FETCH_ALLOW); everything else private is refused unsent.
"""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from compliance.audit.services import Actor
from compliance.extensions import db
from compliance.feeds import services
from compliance.feeds.fetcher import Fetcher, FetchSettings
from compliance.feeds.models import FeedSource
from compliance.feeds.policy import parse_allow_list

FEEDS = Path(__file__).parent.parent / "data" / "feeds"
ADMIN = Actor.system("test")


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering at all
    chunks: Iterable[bytes] | None = None  # streamed one by one instead of body
    chunk_pause: float = 0.0


@dataclass
class Seen:
    path: str
    headers: dict[str, str]


class FeedServer:
    """Routes map a path to a function of the request that returns a Reply."""

    def __init__(self) -> None:
        self.routes: dict[str, Callable[[Seen], Reply]] = {}
        self.requests: list[Seen] = []
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self.active = 0
        self.max_active = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep the test output clean
                pass

            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                seen = Seen(self.path, {k.lower(): v for k, v in self.headers.items()})
                with server._lock:
                    server.requests.append(seen)
                    server.active += 1
                    server.max_active = max(server.max_active, server.active)
                try:
                    route = server.routes.get(self.path.split("?")[0])
                    reply = route(seen) if route else Reply(404, b"not here")
                    if reply.delay:
                        server.stopping.wait(reply.delay)
                    self._send(reply)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeouts, size caps): what the test wanted
                finally:
                    with server._lock:
                        server.active -= 1

            def _send(self, reply: Reply) -> None:
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                if reply.chunks is None:
                    if "Content-Length" not in reply.headers:
                        self.send_header("Content-Length", str(len(reply.body)))
                    self.send_header("Connection", "close")
                    self.end_headers()
                    self.wfile.write(reply.body)
                    return
                self.send_header("Connection", "close")
                self.end_headers()
                for chunk in reply.chunks:
                    if server.stopping.is_set():
                        return
                    self.wfile.write(chunk)
                    self.wfile.flush()
                    if reply.chunk_pause:
                        server.stopping.wait(reply.chunk_pause)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def route(self, path: str, reply: Reply | Callable[[Seen], Reply]) -> str:
        self.routes[path] = reply if callable(reply) else (lambda _seen, r=reply: r)
        return self.url(path)

    def feed(
        self,
        path: str,
        body: bytes | str,
        *,
        content_type: str = "application/rss+xml; charset=utf-8",
        etag: str | None = None,
        last_modified: str | None = None,
        compress: bool = False,
    ) -> str:
        """Serve body at path, answering 304 to a matching If-None-Match / If-Modified-Since."""
        data = body.encode() if isinstance(body, str) else body

        def answer(seen: Seen) -> Reply:
            headers = {"Content-Type": content_type}
            if etag:
                headers["ETag"] = etag
            if last_modified:
                headers["Last-Modified"] = last_modified
            if (etag and seen.headers.get("if-none-match") == etag) or (
                not etag
                and last_modified
                and seen.headers.get("if-modified-since") == last_modified
            ):
                return Reply(304, b"", {k: v for k, v in headers.items() if k != "Content-Type"})
            payload = data
            if compress and "gzip" in seen.headers.get("accept-encoding", ""):
                payload = gzip.compress(data)
                headers["Content-Encoding"] = "gzip"
            return Reply(200, payload, headers)

        return self.route(path, answer)

    def hits(self, path: str) -> list[Seen]:
        return [seen for seen in self.requests if seen.path.split("?")[0] == path]


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    server = FeedServer()
    server.thread.start()
    yield server
    server.stopping.set()
    server.httpd.shutdown()
    server.httpd.server_close()
    server.thread.join(timeout=5)


@pytest.fixture
def fetcher(feed_server: FeedServer) -> Fetcher:
    """A fetcher allowed to reach only the test server, with short limits."""
    return Fetcher(
        FetchSettings(
            allow=parse_allow_list(f"127.0.0.1:{feed_server.port}"),
            connect_timeout=1.0,
            read_timeout=1.0,
            total_timeout=2.0,
            max_bytes=256 * 1024,
            max_redirects=5,
            user_agent="compliance-test/1 (+http://localhost)",
        )
    )


@pytest.fixture
def feeds_app(app: Flask, feed_server: FeedServer) -> Flask:
    """The app, allowed to fetch only the test server, with short timeouts and a small cap."""
    app.config.update(
        FETCH_ALLOW=f"127.0.0.1:{feed_server.port}",
        FETCH_CONNECT_TIMEOUT=1.0,
        FETCH_READ_TIMEOUT=1.0,
        FETCH_TOTAL_TIMEOUT=2.0,
        FETCH_MAX_BYTES=256 * 1024,
    )
    return app


def read(name: str) -> bytes:
    return (FEEDS / name).read_bytes()


def add(app: Flask, url: str, name: str = "", **options: Any) -> int:
    """Add a source through the service and return its id."""
    with app.app_context():
        return services.add_source(
            url, name=name or url.rsplit("/", 1)[-1], actor=ADMIN, **options
        ).id


def source(app: Flask, source_id: int) -> FeedSource:
    with app.app_context():
        found = db.session.get(FeedSource, source_id)
        assert found is not None
        db.session.expunge(found)
        return found


class FrozenClock:
    """compliance.clock.utcnow, stopped; move it with advance()."""

    def __init__(self, start: Any) -> None:
        self.now = start

    def __call__(self) -> Any:
        return self.now

    def advance(self, **delta: float) -> None:
        from datetime import timedelta

        self.now = self.now + timedelta(**delta)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FrozenClock:
    from datetime import UTC, datetime

    frozen = FrozenClock(datetime(2026, 11, 10, 12, 0, tzinfo=UTC))
    monkeypatch.setattr("compliance.clock.utcnow", frozen)
    return frozen


def wait_until(predicate: Callable[[], bool], seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()

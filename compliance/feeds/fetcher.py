"""The one HTTP adapter: fetch a feed URL with httpx, safely and politely. Nothing else imports
httpx.

Every hop of a redirect chain is checked by compliance.feeds.policy and the connection goes to
the address that was checked (a pinned network backend), so a name that re-resolves to an inner
address between check and connect (DNS rebinding) gets nowhere. One wall-clock deadline covers
connecting, headers and body, so a server trickling a byte a second cannot hold a worker.
Bodies are inflated here, chunk by chunk with a cap, so a gzip bomb stops at FETCH_MAX_BYTES.
"""

from __future__ import annotations

import http.cookiejar
import ssl
import threading
import time
import zlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin

import certifi
import httpcore
import httpx

from compliance import clock
from compliance.feeds import policy
from compliance.feeds.policy import Allowance, IPAddress, Refused

REDIRECTS = {301, 302, 303, 307, 308}
PERMANENT = {301, 308}
ACCEPT = (
    "application/atom+xml, application/rss+xml, application/rdf+xml;q=0.9, "
    "application/xml;q=0.8, text/xml;q=0.8, */*;q=0.1"
)
CHUNK = 64 * 1024
OUTCOMES = ("ok", "not-modified", "gone", "refused", "failed")


@dataclass(frozen=True)
class FetchSettings:
    """The outbound policy and limits, read once from the app's configuration."""

    allow: tuple[Allowance, ...] = ()
    connect_timeout: float = 5.0
    read_timeout: float = 15.0
    total_timeout: float = 30.0
    max_bytes: int = 15 * 1024 * 1024
    max_redirects: int = 5
    user_agent: str = "compliance/0.1 (regulatory change monitor)"
    per_host: int = 2

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> FetchSettings:
        base_url = str(config.get("BASE_URL") or "")
        agent = str(config.get("FETCH_USER_AGENT") or "") or (
            f"compliance/0.1 (regulatory change monitor; +{base_url})"
            if base_url
            else cls.user_agent
        )
        return cls(
            allow=policy.parse_allow_list(config.get("FETCH_ALLOW")),
            connect_timeout=float(config["FETCH_CONNECT_TIMEOUT"]),
            read_timeout=float(config["FETCH_READ_TIMEOUT"]),
            total_timeout=float(config["FETCH_TOTAL_TIMEOUT"]),
            max_bytes=int(config["FETCH_MAX_BYTES"]),
            max_redirects=int(config["FETCH_MAX_REDIRECTS"]),
            user_agent=agent,
            per_host=int(config["FEEDS_PER_HOST"]),
        )


@dataclass(frozen=True)
class Validators:
    """Conditional GET validators, opaque strings exactly as the server sent them."""

    etag: str = ""
    last_modified: str = ""


@dataclass(frozen=True)
class FetchResult:
    """What one fetch came to. outcome is one of OUTCOMES; error says why, for people."""

    outcome: str
    url: str  # the URL asked for
    final_url: str  # after redirects
    http_status: int | None = None
    body: bytes = b""  # decoded (inflated), at most max_bytes
    content_type: str = ""
    etag: str = ""
    last_modified: str = ""
    moved_to: str | None = None  # set when every redirect hop was permanent (301/308)
    error: str = ""
    retry_after: int | None = None  # seconds, from a 429 or 503
    hops: tuple[str, ...] = field(default_factory=tuple)


class _Failure(Exception):
    """A fetch that went wrong in a way worth telling the admin in one sentence."""


class HostGate:
    """At most `limit` requests in flight per host name, across threads (politeness)."""

    def __init__(self, limit: int) -> None:
        self._limit = max(1, limit)
        self._lock = threading.Lock()
        self._gates: dict[str, threading.BoundedSemaphore] = {}

    @contextmanager
    def hold(self, host: str) -> Iterator[None]:
        with self._lock:
            gate = self._gates.setdefault(host, threading.BoundedSemaphore(self._limit))
        with gate:
            yield


class Fetcher:
    """Fetches feed URLs; one instance serves a poll cycle and may be shared by threads."""

    def __init__(self, settings: FetchSettings, gate: HostGate | None = None) -> None:
        self.settings = settings
        self.gate = gate or HostGate(settings.per_host)
        # Loading the CA bundle costs milliseconds; build the context once, share it.
        self._ssl = ssl.create_default_context(cafile=certifi.where())

    def fetch(self, url: str, validators: Validators = Validators()) -> FetchResult:
        """GET url, following redirects by hand and checking each hop; never raises."""
        settings = self.settings
        deadline = time.monotonic() + settings.total_timeout
        current, hops, permanent = url, [url], True
        for _hop in range(settings.max_redirects + 1):
            try:
                target = policy.check_target(current, settings.allow)
            except Refused as refusal:
                return FetchResult("refused", url, current, error=str(refusal), hops=tuple(hops))
            except OSError as error:
                return FetchResult("failed", url, current, error=str(error), hops=tuple(hops))
            try:
                with self.gate.hold(target.host):
                    result = self._request(target, validators, deadline)
            except _Failure as failure:
                return FetchResult("failed", url, current, error=str(failure), hops=tuple(hops))
            status, headers, body = result
            if status in REDIRECTS:
                location = headers.get("location", "").strip()
                if not location:
                    return self._failed(url, current, status, "a redirect without a Location", hops)
                following = urljoin(current, location)
                if following in hops:
                    chain = " → ".join([*hops, following][-4:])
                    return self._failed(url, current, status, f"a redirect loop ({chain})", hops)
                permanent = permanent and status in PERMANENT
                hops.append(following)
                current = following
                continue
            return self._result(url, current, status, headers, body, permanent, hops)
        return self._failed(
            url, current, None, f"more than {settings.max_redirects} redirects", hops
        )

    @staticmethod
    def _failed(
        url: str, current: str, status: int | None, error: str, hops: list[str]
    ) -> FetchResult:
        return FetchResult("failed", url, current, status, error=error, hops=tuple(hops))

    def _result(
        self,
        url: str,
        final: str,
        status: int,
        headers: httpx.Headers,
        body: bytes,
        permanent: bool,
        hops: list[str],
    ) -> FetchResult:
        common: dict[str, Any] = {
            "url": url,
            "final_url": final,
            "http_status": status,
            "etag": headers.get("etag", "")[:500],
            "last_modified": headers.get("last-modified", "")[:100],
            "hops": tuple(hops),
        }
        if status == 304:
            return FetchResult("not-modified", **common)
        if status == 410:
            return FetchResult(
                "gone", error="the server says the feed is gone (HTTP 410)", **common
            )
        if 200 <= status < 300:
            return FetchResult(
                "ok",
                body=body,
                content_type=headers.get("content-type", ""),
                moved_to=final if final != url and permanent else None,
                **common,
            )
        reason = httpx.codes.get_reason_phrase(status) or "error"
        return FetchResult(
            "failed",
            error=f"HTTP {status} {reason}",
            retry_after=_retry_after(headers.get("retry-after", ""))
            if status in (429, 503)
            else None,
            **common,
        )

    def _request(
        self, target: policy.Target, validators: Validators, deadline: float
    ) -> tuple[int, httpx.Headers, bytes]:
        settings = self.settings
        headers = {
            "User-Agent": settings.user_agent,
            "Accept": ACCEPT,
            "Accept-Encoding": "gzip, deflate",
        }
        if validators.etag:
            headers["If-None-Match"] = validators.etag
        if validators.last_modified:
            headers["If-Modified-Since"] = validators.last_modified
        backend = _PinnedBackend({(target.host, target.port): target.addresses}, deadline)
        transport = _PinnedTransport(self._ssl, backend)
        remaining = max(deadline - time.monotonic(), 0.001)
        timeout = httpx.Timeout(
            connect=min(settings.connect_timeout, remaining),
            read=min(settings.read_timeout, remaining),
            write=min(settings.connect_timeout, remaining),
            pool=min(settings.connect_timeout, remaining),
        )
        client = httpx.Client(
            transport=transport,
            timeout=timeout,
            follow_redirects=False,
            trust_env=False,  # no proxy or .netrc from the environment
            cookies=_NO_COOKIES,
        )
        try:
            with client, client.stream("GET", target.url, headers=headers) as response:
                if response.status_code not in range(200, 300):
                    return response.status_code, response.headers, b""
                body = self._read_body(response, deadline)
                return response.status_code, response.headers, body
        except httpx.TimeoutException as error:
            if time.monotonic() >= deadline - 0.01:
                raise _Failure(
                    f"the download took longer than {settings.total_timeout:g} s"
                ) from error
            if isinstance(error, httpx.ConnectTimeout):
                raise _Failure(
                    f"no connection within {settings.connect_timeout:g} s to {target.host}"
                ) from error
            raise _Failure(f"the server sent nothing for {settings.read_timeout:g} s") from error
        except httpx.HTTPError as error:
            raise _Failure(f"{type(error).__name__}: {error or 'connection failed'}") from error

    def _read_body(self, response: httpx.Response, deadline: float) -> bytes:
        cap = self.settings.max_bytes
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > cap:
            raise _Failure(f"the body is {int(declared):,} bytes, over the {cap:,}-byte limit")
        inflater = _Inflater(response.headers.get("content-encoding", ""))
        received, size, chunks = 0, 0, []
        for chunk in response.iter_raw(CHUNK):
            received += len(chunk)
            if received > cap:
                raise _Failure(f"the body is over the {cap:,}-byte limit")
            data = inflater.feed(chunk, cap - size)
            size += len(data)
            if size > cap:
                raise _Failure(f"the body inflates to over the {cap:,}-byte limit (gzip bomb?)")
            chunks.append(data)
            if time.monotonic() > deadline:
                raise _Failure(f"the download took longer than {self.settings.total_timeout:g} s")
        inflater.finish()
        return b"".join(chunks)


def _retry_after(value: str) -> int | None:
    """Seconds to wait, from Retry-After's delay-seconds or HTTP-date (RFC 9110 10.2.3)."""
    value = value.strip()
    if value.isdigit():
        return min(int(value), 7 * 24 * 3600)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        return None
    return max(0, min(int((moment - clock.utcnow()).total_seconds()), 7 * 24 * 3600))


class _Inflater:
    """Content-Encoding decoding with a cap on what each chunk may inflate to."""

    def __init__(self, encoding: str) -> None:
        name = encoding.strip().lower()
        if name in ("", "identity"):
            self._z: Any = None
        elif name in ("gzip", "x-gzip", "deflate"):
            self._z = zlib.decompressobj(zlib.MAX_WBITS | 32)  # zlib or gzip header, detected
        else:
            raise _Failure(f"the server used an unsupported Content-Encoding '{name[:40]}'")

    def feed(self, chunk: bytes, room: int) -> bytes:
        """Inflate chunk, stopping just past room bytes (the caller then refuses the body)."""
        if self._z is None:
            return chunk
        try:
            out: bytes = self._z.decompress(chunk, room + 1)
            while self._z.unconsumed_tail and len(out) <= room:
                out += self._z.decompress(self._z.unconsumed_tail, room + 1 - len(out))
        except zlib.error as error:
            raise _Failure(f"the compressed body is corrupt ({error})") from error
        return out

    def finish(self) -> None:
        """Refuse a compressed body that stopped before its end (truncated or corrupt)."""
        if self._z is not None and not self._z.eof:
            raise _Failure("the compressed body is truncated or corrupt")


class _RefuseAll(http.cookiejar.DefaultCookiePolicy):
    """Feeds need no cookies; keeping none means nothing is carried between sources."""

    def set_ok(self, cookie: http.cookiejar.Cookie, request: Any) -> bool:
        return False


_NO_COOKIES = http.cookiejar.CookieJar(policy=_RefuseAll())


class _DeadlineStream(httpcore.NetworkStream):
    """A socket stream whose every read and write ends by the fetch's deadline."""

    def __init__(self, inner: httpcore.NetworkStream, deadline: float) -> None:
        self._inner = inner
        self._deadline = deadline

    def _timeout(self, timeout: float | None) -> float:
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise httpcore.ReadTimeout("the fetch's deadline passed")
        return remaining if timeout is None else min(timeout, remaining)

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, self._timeout(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, self._timeout(timeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        inner = self._inner.start_tls(ssl_context, server_hostname, self._timeout(timeout))
        return _DeadlineStream(inner, self._deadline)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _PinnedBackend(httpcore.NetworkBackend):
    """Connects only to addresses the policy checked for that host and port, nowhere else."""

    def __init__(self, pinned: dict[tuple[str, int], tuple[IPAddress, ...]], deadline: float):
        self._pinned = pinned
        self._deadline = deadline
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.NetworkStream:
        addresses = self._pinned.get((host.strip("[]").lower(), port))
        if not addresses:
            raise httpcore.ConnectError(f"{host}:{port} was not checked by the outbound policy")
        error: Exception = httpcore.ConnectError(f"cannot connect to {host}")
        for address in addresses:
            remaining = self._deadline - time.monotonic()
            if remaining <= 0:
                raise httpcore.ConnectTimeout("the fetch's deadline passed")
            try:
                stream = self._inner.connect_tcp(
                    str(address),
                    port,
                    timeout=remaining if timeout is None else min(timeout, remaining),
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as failed:
                error = failed
                continue
            return _DeadlineStream(stream, self._deadline)
        raise error

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Any = None
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("unix sockets are never fetched")

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class _PinnedTransport(httpx.HTTPTransport):
    """httpx's own transport over a pool that uses the pinned backend.

    HTTPTransport takes no network backend, so its pool is replaced after construction; the
    httpx version range in setup.cfg keeps this attribute where it is.
    """

    def __init__(self, ssl_context: ssl.SSLContext, backend: _PinnedBackend) -> None:
        super().__init__(verify=ssl_context, trust_env=False)
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context,
            max_connections=1,
            http1=True,
            http2=False,
            network_backend=backend,
        )

"""The fetcher against a real HTTP server on 127.0.0.1: conditional GET, redirects checked hop by
hop, timeouts, size caps, gzip, and the outbound policy."""

from __future__ import annotations

import gzip
import ipaddress
import zlib

import pytest

from compliance.feeds import policy
from compliance.feeds.fetcher import Fetcher, FetchSettings, Validators
from tests.feeds.conftest import FeedServer, Reply, read


def test_a_feed_is_fetched_with_the_apps_user_agent(feed_server: FeedServer, fetcher: Fetcher):
    url = feed_server.feed("/feed", read("rss_basic.xml"), etag='"v1"')

    result = fetcher.fetch(url)

    assert result.outcome == "ok"
    assert result.http_status == 200
    assert result.body == read("rss_basic.xml")
    assert result.etag == '"v1"'
    seen = feed_server.hits("/feed")[0]
    assert seen.headers["user-agent"] == "compliance-test/1 (+http://localhost)"
    assert "rss+xml" in seen.headers["accept"]
    assert seen.headers["host"] == f"127.0.0.1:{feed_server.port}"


def test_stored_validators_are_sent_back_and_a_304_has_no_body(
    feed_server: FeedServer, fetcher: Fetcher
):
    url = feed_server.feed(
        "/feed",
        read("rss_basic.xml"),
        etag='W/"abc"',
        last_modified="Mon, 03 Nov 2026 09:30:00 GMT",
    )

    result = fetcher.fetch(url, Validators('W/"abc"', "Mon, 03 Nov 2026 09:30:00 GMT"))

    assert result.outcome == "not-modified"
    assert result.body == b""
    seen = feed_server.hits("/feed")[0]
    assert seen.headers["if-none-match"] == 'W/"abc"'  # exactly as received, quotes and all
    assert seen.headers["if-modified-since"] == "Mon, 03 Nov 2026 09:30:00 GMT"


def test_gzip_bodies_are_inflated(feed_server: FeedServer, fetcher: Fetcher):
    url = feed_server.feed("/feed", read("atom_basic.xml"), compress=True)

    result = fetcher.fetch(url)

    assert result.outcome == "ok"
    assert result.body == read("atom_basic.xml")
    assert "gzip" in feed_server.hits("/feed")[0].headers["accept-encoding"]


def test_a_gzip_bomb_stops_at_the_size_cap(feed_server: FeedServer, fetcher: Fetcher):
    bomb = gzip.compress(b"\0" * (20 * 1024 * 1024))  # 20 MiB of zeros in ~20 KiB
    assert len(bomb) < 64 * 1024
    url = feed_server.route(
        "/bomb",
        Reply(200, bomb, {"Content-Type": "application/rss+xml", "Content-Encoding": "gzip"}),
    )

    result = fetcher.fetch(url)

    assert result.outcome == "failed"
    assert "inflates to over the 262,144-byte limit" in result.error


def test_corrupt_gzip_is_a_clear_failure(feed_server: FeedServer, fetcher: Fetcher):
    url = feed_server.route(
        "/corrupt", Reply(200, b"\x1f\x8b\x08\x00garbage", {"Content-Encoding": "gzip"})
    )

    result = fetcher.fetch(url)

    assert result.outcome == "failed"
    assert "corrupt" in result.error


def test_a_declared_50_mb_body_is_refused_before_reading(feed_server: FeedServer, fetcher: Fetcher):
    url = feed_server.route(
        "/huge",
        Reply(200, headers={"Content-Length": str(50 * 1024 * 1024)}, chunks=iter([b"x" * 1024])),
    )

    result = fetcher.fetch(url)

    assert result.outcome == "failed"
    assert "52,428,800 bytes, over the 262,144-byte limit" in result.error


def test_an_undeclared_50_mb_stream_is_cut_at_the_cap(feed_server: FeedServer, fetcher: Fetcher):
    chunk = b"<rss>" + b"x" * (64 * 1024)
    url = feed_server.route("/stream", Reply(200, chunks=(chunk for _ in range(800))))

    result = fetcher.fetch(url)

    assert result.outcome == "failed"
    assert "over the 262,144-byte limit" in result.error


def test_a_server_that_never_answers_times_out(feed_server: FeedServer, fetcher: Fetcher):
    url = feed_server.route("/silent", Reply(200, b"late", delay=30))

    result = fetcher.fetch(url)

    assert result.outcome == "failed"
    assert "sent nothing for 1 s" in result.error or "longer than 2 s" in result.error


def test_a_server_trickling_a_byte_a_second_hits_the_total_deadline(
    feed_server: FeedServer, fetcher: Fetcher
):
    # Each byte arrives well inside the read timeout; only the whole-fetch deadline stops it.
    url = feed_server.route(
        "/trickle", Reply(200, chunks=(b"<" for _ in range(60)), chunk_pause=0.5)
    )

    result = fetcher.fetch(url)

    assert result.outcome == "failed"
    assert "took longer than 2 s" in result.error


def test_gone_and_server_errors(feed_server: FeedServer, fetcher: Fetcher):
    gone = feed_server.route("/gone", Reply(410, b"gone"))
    broken = feed_server.route("/broken", Reply(500, b"oops"))
    busy = feed_server.route("/busy", Reply(503, b"", {"Retry-After": "120"}))

    assert fetcher.fetch(gone).outcome == "gone"
    failed = fetcher.fetch(broken)
    assert (failed.outcome, failed.error, failed.http_status) == (
        "failed",
        "HTTP 500 Internal Server Error",
        500,
    )
    assert fetcher.fetch(busy).retry_after == 120


# -- redirects ----------------------------------------------------------------------------------


def _redirect(status: int, to: str) -> Reply:
    return Reply(status, b"", {"Location": to})


def test_a_chain_of_permanent_redirects_names_the_new_address(
    feed_server: FeedServer, fetcher: Fetcher
):
    final = feed_server.feed("/new-feed", read("rss_basic.xml"))
    feed_server.route("/old", _redirect(301, "/older"))
    feed_server.route("/older", _redirect(308, final))

    result = fetcher.fetch(feed_server.url("/old"))

    assert result.outcome == "ok"
    assert result.final_url == final
    assert result.moved_to == final
    assert result.hops == (feed_server.url("/old"), feed_server.url("/older"), final)


def test_a_temporary_hop_anywhere_keeps_the_old_address(feed_server: FeedServer, fetcher: Fetcher):
    final = feed_server.feed("/mirror", read("rss_basic.xml"))
    feed_server.route("/a", _redirect(301, "/b"))
    feed_server.route("/b", _redirect(302, final))

    result = fetcher.fetch(feed_server.url("/a"))

    assert result.outcome == "ok"
    assert result.moved_to is None


def test_a_redirect_loop_is_named(feed_server: FeedServer, fetcher: Fetcher):
    feed_server.route("/ping", _redirect(302, "/pong"))
    feed_server.route("/pong", _redirect(302, "/ping"))

    result = fetcher.fetch(feed_server.url("/ping"))

    assert result.outcome == "failed"
    assert result.error.startswith("a redirect loop")


def test_too_many_redirects(feed_server: FeedServer, fetcher: Fetcher):
    for n in range(10):
        feed_server.route(f"/hop{n}", _redirect(307, f"/hop{n + 1}"))

    result = fetcher.fetch(feed_server.url("/hop0"))

    assert result.outcome == "failed"
    assert result.error == "more than 5 redirects"
    assert len(feed_server.requests) == 6


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        ("http://127.0.0.2:{port}/feed", "127.0.0.2 is a loopback address"),
        ("http://[::1]:{port}/feed", "::1 is a loopback address"),
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a cloud metadata address"),
        ("http://10.0.0.7/feed", "10.0.0.7 is a private address"),
        ("http://192.168.1.1/feed", "192.168.1.1 is a private address"),
        ("http://[fe80::1]/feed", "fe80::1 is a link-local address"),
        ("http://224.0.0.1/feed", "224.0.0.1 is a multicast address"),
        ("http://[::ffff:127.0.0.1]/feed", "loopback address"),
        ("http://0.0.0.0/feed", "an unspecified address"),
        ("file:///etc/passwd", "only http and https URLs are fetched, not 'file:'"),
        ("gopher://127.0.0.1/", "only http and https"),
        ("http://user:pw@127.0.0.1/feed", "user name or password"),
    ],
)
def test_a_redirect_into_the_network_is_refused_unsent(
    feed_server: FeedServer, fetcher: Fetcher, target: str, reason: str
):
    feed_server.route("/jump", _redirect(302, target.format(port=feed_server.port)))

    result = fetcher.fetch(feed_server.url("/jump"))

    assert result.outcome == "refused"
    assert reason in result.error
    assert [seen.path for seen in feed_server.requests] == ["/jump"]  # the target never asked


def test_without_the_allow_list_even_the_test_server_is_refused(feed_server: FeedServer):
    closed = Fetcher(FetchSettings(allow=(), total_timeout=2))

    result = closed.fetch(feed_server.url("/feed"))

    assert result.outcome == "refused"
    assert "127.0.0.1 is a loopback address" in result.error
    assert f"COMPLIANCE_FETCH_ALLOW lists 127.0.0.1:{feed_server.port}" in result.error
    assert feed_server.requests == []


def test_the_allow_list_names_a_port_not_the_whole_address(feed_server: FeedServer):
    other_port = Fetcher(
        FetchSettings(allow=policy.parse_allow_list("127.0.0.1:1"), total_timeout=2)
    )

    assert other_port.fetch(feed_server.url("/feed")).outcome == "refused"


def test_the_connection_goes_to_the_address_that_was_checked(
    feed_server: FeedServer, fetcher: Fetcher, monkeypatch: pytest.MonkeyPatch
):
    """DNS rebinding: the name is resolved once, checked, and that address is connected to."""
    answers = iter([[ipaddress.ip_address("127.0.0.1")], [ipaddress.ip_address("10.9.9.9")]])
    asked = []

    def resolve(host: str, port: int):
        asked.append(host)
        return next(answers)

    monkeypatch.setattr(policy, "resolve", resolve)
    feed_server.feed("/feed", read("rss_basic.xml"))

    result = fetcher.fetch(f"http://feeds.example:{feed_server.port}/feed")

    assert result.outcome == "ok"
    assert asked == ["feeds.example"]  # one lookup; a second answer is never used
    assert feed_server.hits("/feed")[0].headers["host"] == f"feeds.example:{feed_server.port}"


def test_a_name_with_one_private_address_among_public_ones_is_refused(
    monkeypatch: pytest.MonkeyPatch,
):
    addresses = [ipaddress.ip_address("93.184.216.34"), ipaddress.ip_address("10.0.0.1")]
    monkeypatch.setattr(policy, "resolve", lambda host, port: addresses)

    result = Fetcher(FetchSettings()).fetch("https://mixed.example/feed")

    assert result.outcome == "refused"
    assert "mixed.example (10.0.0.1) is a private address" in result.error


def test_a_name_that_does_not_resolve_is_a_failure_not_a_refusal(monkeypatch: pytest.MonkeyPatch):
    def fail(host: str, port: int):
        raise OSError(f"cannot resolve {host}: Name or service not known")

    monkeypatch.setattr(policy, "resolve", fail)

    result = Fetcher(FetchSettings()).fetch("https://nowhere.example/feed")

    assert (result.outcome, result.error) == (
        "failed",
        "cannot resolve nowhere.example: Name or service not known",
    )


def test_deflate_is_handled(feed_server: FeedServer, fetcher: Fetcher):
    url = feed_server.route(
        "/deflate",
        Reply(200, zlib.compress(read("rss_basic.xml")), {"Content-Encoding": "deflate"}),
    )

    assert fetcher.fetch(url).body == read("rss_basic.xml")


def test_an_unknown_content_encoding_is_refused(feed_server: FeedServer, fetcher: Fetcher):
    url = feed_server.route("/br", Reply(200, b"....", {"Content-Encoding": "br"}))

    result = fetcher.fetch(url)

    assert result.outcome == "failed"
    assert "unsupported Content-Encoding 'br'" in result.error

"""One poll cycle of 500 local feeds, 80% of them answering 304 or an unchanged body; prints JSON.

    .venv/bin/python bench/feeds.py [--feeds 500] [--entries 20] [--changed 0.2] [--hosts 4]

A separate process serves the feeds on loopback addresses 127.0.0.1 .. 127.0.0.N (never
anything else: the app's FETCH_ALLOW names only those). The app runs on a fresh SQLite file
with the shipped catalogue loaded, so matching and the search index do their real work.

1. A first cycle stores every feed's entries (the cold start; reported, not the figure asked).
2. Then 80% of the feeds stay as they were (half answer 304 to their ETag, half send the same
   bytes without validators, which the poller recognises by hash), and 20% change: two new
   entries and one revised. Every source is made due and one cycle is timed: wall time, and
   the CPU the app process spent, per feed.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TOPICS = [
    "Ofcom consultation on the Illegal Harms Codes",
    "Commission request for information under Art. 28 DSA",
    "Staff announcement",
    "Guidance on age assurance under the Online Safety Act 2023",
    "Annual report published",
]


def _item(feed: int, n: int, version: int) -> str:
    title = f"{TOPICS[(feed + n) % len(TOPICS)]} ({feed}-{n})"
    text = f"Announcement {n} of feed {feed}, version {version}. " + "Details follow. " * 40
    return (
        f"<item><title>{title}</title><guid isPermaLink='false'>f{feed}-e{n}</guid>"
        f"<link>https://regulator.example/{feed}/{n}</link>"
        f"<pubDate>Mon, 03 Nov 2026 09:{n % 60:02d}:00 GMT</pubDate>"
        f"<description>&lt;p&gt;{text}&lt;/p&gt;</description></item>"
    )


def feed_body(feed: int, entries: int, changed: bool) -> bytes:
    items = [_item(feed, n, 2 if changed and n == 0 else 1) for n in range(entries)]
    if changed:
        items = [_item(feed, entries + 1, 1), _item(feed, entries + 2, 1), *items]
    channel = f"<channel><title>Feed {feed}</title>{''.join(items)}</channel>"
    return f'<?xml version="1.0"?><rss version="2.0">{channel}</rss>'.encode()


def serve(
    hosts: int, feeds: int, entries: int, ready: Any, phase: Any, changed_share: float
) -> None:
    """The feed servers (one per loopback address), in their own process."""
    bodies = {n: feed_body(n, entries, False) for n in range(feeds)}
    changed = {n: feed_body(n, entries, True) for n in range(feeds)}
    changing = set(range(0, feeds, max(1, round(1 / changed_share)))) if changed_share else set()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802
            n = int(self.path.rsplit("/", 1)[-1])
            second = phase.value == 2
            body = changed[n] if second and n in changing else bodies[n]
            etag = f'"{n}-{"b" if second and n in changing else "a"}"'
            with_etag = n % 2 == 0
            if with_etag and self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.send_header("ETag", etag)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml")
            if with_etag:
                self.send_header("ETag", etag)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    servers = [ThreadingHTTPServer((f"127.0.0.{h + 1}", 0), Handler) for h in range(hosts)]
    for server in servers:
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
    ready.put([s.server_address[1] for s in servers])
    while phase.value != 0:
        time.sleep(0.1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=500)
    parser.add_argument("--entries", type=int, default=20)
    parser.add_argument("--changed", type=float, default=0.2)
    parser.add_argument("--hosts", type=int, default=4)
    parser.add_argument("--workers", type=int, default=8)
    args = parser.parse_args()

    ready: Any = multiprocessing.Queue()
    phase: Any = multiprocessing.Value("i", 1)
    server = multiprocessing.Process(
        target=serve, args=(args.hosts, args.feeds, args.entries, ready, phase, args.changed)
    )
    server.start()
    ports = ready.get(timeout=30)
    try:
        print(json.dumps(run(args, ports, phase), indent=2))
    finally:
        phase.value = 0
        server.join(timeout=10)


def run(args: argparse.Namespace, ports: list[int], phase: Any) -> dict[str, Any]:
    from sqlalchemy import func, select, update

    from compliance import create_app
    from compliance.audit.services import Actor
    from compliance.catalogue.loader import load_catalogue
    from compliance.clock import utcnow
    from compliance.extensions import db
    from compliance.feeds import services
    from compliance.feeds.models import FeedEntry, FeedSource

    tmp = Path(tempfile.mkdtemp(prefix="bench-feeds-"))
    allow = ", ".join(f"127.0.0.{h + 1}:{port}" for h, port in enumerate(ports))
    app = create_app(
        {
            "SECRET_KEY": "bench",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp / 'bench.db'}",
            "SEARCH_INDEX_DIR": str(tmp / "index"),
            "FETCH_ALLOW": allow,
            "FEEDS_POLL_WORKERS": args.workers,
            "FEEDS_POLL_BATCH": args.feeds,
        }
    )
    with app.app_context():
        db.create_all()
        load_catalogue(ROOT / "regulations")
        db.session.execute(update(FeedSource).values(enabled=False))  # never the real feeds
        db.session.commit()
        actor = Actor.system("bench")
        for n in range(args.feeds):
            host = n % len(ports)
            url = f"http://127.0.0.{host + 1}:{ports[host]}/feed/{n}"
            services.add_source(url, name=f"Bench feed {n}", actor=actor)

        started, cpu = time.perf_counter(), time.process_time()
        first = services.poll_due_sources()
        cold = {
            "wall_s": round(time.perf_counter() - started, 2),
            "cpu_ms_per_feed": round((time.process_time() - cpu) * 1000 / args.feeds, 1),
            "statuses": dict(
                sorted({s: first.count(s) for s in {o.status for o in first.outcomes}}.items())
            ),
            "entries": first.new,
            "reviews_opened": first.reviews_opened,
        }

        phase.value = 2
        db.session.execute(update(FeedSource).values(next_poll_at=utcnow()))
        db.session.commit()
        started, cpu = time.perf_counter(), time.process_time()
        cycle = services.poll_due_sources()
        wall = time.perf_counter() - started
        spent = time.process_time() - cpu
        statuses = {s: cycle.count(s) for s in {o.status for o in cycle.outcomes}}
        return {
            "feeds": args.feeds,
            "entries_per_feed": args.entries,
            "hosts": len(ports),
            "workers": args.workers,
            "first_cycle": cold,
            "steady_cycle": {
                "wall_s": round(wall, 2),
                "cpu_s": round(spent, 2),
                "cpu_ms_per_feed": round(spent * 1000 / args.feeds, 2),
                "statuses": dict(sorted(statuses.items())),
                "unchanged_share": round(
                    (statuses.get("not-modified", 0) + statuses.get("unchanged", 0)) / args.feeds, 2
                ),
                "new_entries": cycle.new,
                "revised_entries": cycle.revised,
                "reviews_opened": cycle.reviews_opened,
            },
            "entries_stored": db.session.scalar(select(func.count()).select_from(FeedEntry)),
        }


if __name__ == "__main__":
    main()

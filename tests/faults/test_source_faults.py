"""Source-side faults against the real collectors, processors and Azurite.

Each fault has a healthy source ("steady", 4 items) beside the faulty one, both served by a real
HTTP server on 127.0.0.1; a streaming collection run fills the queue while two processors drain
it. A transient fault must cost nothing (the source recovers); a permanent one must cost only
the faulty source's items, leave the others whole, and show the cause in one log line.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Callable
from typing import Any

import pytest

from pipeline.storage import StorageAccount
from tests.faults._matrix import Row
from tests.faults._pipeline import Consumers, collect, consumed, made, sources
from tests.faults._server import Answer, FaultServer, post_url, reddit_listing, rss

pytestmark = pytest.mark.anyio

STEADY = 4
FAULTY = 3
HTML = b"<!doctype html><html><head><title>Sign in</title></head><body>Log in</body></html>"


@dataclasses.dataclass(frozen=True)
class SourceFault:
    fault: str
    answers: Callable[[], list[Answer]]
    recovers: bool  # the faulty source's items are expected
    line: str  # regex over log messages: the one clear line
    source: dict[str, Any] = dataclasses.field(default_factory=dict)
    reddit: bool = False


def feed(**kwargs: Any) -> Answer:
    return Answer(body=rss("faulty.example", FAULTY), **kwargs)


FAULTS = [
    SourceFault("source: 429 with Retry-After, then the feed",
                lambda: [Answer(429, b"slow down", "text/plain", (("Retry-After", "2"),)), feed()],
                True, r"source_retry source=faulty .*HTTP 429"),
    SourceFault("source: 5xx burst (503, 502, 500), then the feed",
                lambda: [Answer(503, b"", "text/plain"), Answer(502, b"", "text/plain"),
                         Answer(500, b"", "text/plain"), feed()],
                True, r"source_retry source=faulty .*HTTP 503"),
    SourceFault("source: 503 on every attempt",
                lambda: [Answer(503, b'{"error": "maintenance"}', "application/json")],
                False, r"source_error source=faulty kind=http_status .*HTTP 503.*after 4 attempts"),
    SourceFault("source: timeout, then the feed",
                lambda: [feed(delay_s=1.5), feed()],
                True, r"source_retry source=faulty .*timed out", {"timeout_s": 0.5}),
    SourceFault("source: connection reset mid-body, then the feed",
                lambda: [feed(reset_after=300), feed()],
                True, r"source_retry source=faulty .*(ReadError|RemoteProtocolError|reset)"),
    SourceFault("source: truncated XML",
                lambda: [Answer(body=rss("faulty.example", FAULTY)[:-420])],
                False, r"(feed_bozo|source_error) source=faulty"),
    SourceFault("source: truncated JSON (Reddit)",
                lambda: [Answer(body=reddit_listing("faulty.example", FAULTY)[:-40],
                                content_type="application/json")],
                False, r"source_error source=faulty kind=parse .*invalid JSON", reddit=True),
    SourceFault("source: HTML instead of a feed",
                lambda: [Answer(body=HTML, content_type="text/html; charset=utf-8")],
                False, r"source_error source=faulty kind=parse"),
    SourceFault("source: body over the size cap",
                lambda: [Answer(body=rss("faulty.example", 400))],
                False, r"source_error source=faulty kind=too_large",
                {"max_response_bytes": 65536}),
    SourceFault("source: undeclared encoding (windows-1252)",
                lambda: [Answer(body=rss("faulty.example", FAULTY, encoding="cp1252"),
                                content_type="application/rss+xml")],
                True, r"(feed_bozo|source_done) source=faulty"),
]  # fmt: skip


def the_line(messages: list[str], pattern: str, base: str) -> str | None:
    """The first message matching ``pattern``, shortened for the table."""
    for message in messages:
        if re.search(pattern, message):
            shown = message.replace(base, "<server>")
            return shown if len(shown) <= 140 else shown[:139] + "…"
    return None


@pytest.mark.parametrize("case", FAULTS, ids=[f.fault.split(": ", 1)[1] for f in FAULTS])
async def test_source_fault(
    case: SourceFault,
    server: FaultServer,
    connection_string: str,
    matrix: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    server.script("/steady.xml", [Answer(body=rss("steady.example", STEADY))])
    if case.reddit:
        server.script("/r/python/new.json", case.answers())
        faulty = {"name": "faulty", "type": "reddit", "subreddit": "python",
                  "base_url": server.base, "limit": 25}  # fmt: skip
    else:
        faulty = {
            "name": "faulty",
            "type": "rss",
            "url": server.script("/faulty.xml", case.answers()),
        }
    srcs = sources(
        {"name": "steady", "type": "rss", "url": f"{server.base}/steady.xml"},
        {**faulty, **case.source},
        backoff_base_s=0.5,
    )
    expected = [post_url("steady.example", n) for n in range(STEADY)]
    if case.recovers:
        expected += [post_url("faulty.example", n) for n in range(FAULTY)]
    async with StorageAccount(connection_string) as account, made(account) as names:
        async with Consumers(account, names) as consumers:
            metrics = await collect(account, names, srcs)
            await consumers.drain()
        seen = await consumed(account, names, consumers.records)

    messages = [r.getMessage() for r in caplog.records]
    line = the_line(messages, case.line, server.base)
    tracebacks = [r for r in caplog.records if r.exc_info and r.name.startswith("pipeline")]
    row = Row.counted(case.fault, expected, seen.deliveries, seen.work, seen.results,
                      clear_line=line is not None and not tracebacks,
                      seen=line or "(no line)")  # fmt: skip
    matrix.record(row)
    assert seen.poisoned == 0
    assert metrics.per_source["steady"]["items_queued"] == STEADY

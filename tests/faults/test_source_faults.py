"""Source-side faults against the real collectors, processors and Azurite.

Each fault has a healthy source ("steady", 4 items) beside the faulty one, both served by a real
HTTP server on 127.0.0.1; a streaming collection run fills the queue while two processors drain
it. A transient fault must cost nothing (the source recovers); a permanent one must cost only
the faulty source's items, leave the others whole, and show the cause in one log line.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pipeline.har import har_entry, write_har
from pipeline.recording import parse_time
from pipeline.storage import StorageAccount
from tests.faults._matrix import Row
from tests.faults._measure import run_measured
from tests.faults._pipeline import Consumers, collect, consumed, made, sources
from tests.faults._server import Answer, FaultServer, post_url, reddit_listing, rss
from tests.pipeline.test_sources_feeds import in_encoding, quadratic_entity_feed

pytestmark = pytest.mark.anyio

FEEDS = Path(__file__).resolve().parents[1] / "fixtures" / "feeds"
HOSTILE = r"source_error source=faulty kind=hostile"
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
    *(SourceFault(f"source: entity bomb, {shape}",
                  lambda body=body: [Answer(body=body, content_type="application/rss+xml")],
                  False, HOSTILE)
      for shape, body in (
          ("billion laughs", (FEEDS / "billion_laughs.xml").read_bytes()),
          ("external entity (file:///etc/passwd)", (FEEDS / "external_entity.xml").read_bytes()),
          ("parameter entities", (FEEDS / "parameter_entity.xml").read_bytes()),
          ("declared on one line", (FEEDS / "one_line_doctype.xml").read_bytes()),
          ("hidden in UTF-16", in_encoding((FEEDS / "billion_laughs.xml").read_text(), "utf-16")),
      )),
]  # fmt: skip
QUADRATIC = SourceFault(
    "source: entity bomb, quadratic blow-up (the 80 KB feed)",
    lambda: [Answer(body=quadratic_entity_feed(), content_type="application/rss+xml")],
    False, HOSTILE,
)  # fmt: skip


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
    matrix.record(await run_fault(case, server, connection_string, caplog))


async def test_the_80kb_entity_feed(
    server: FaultServer,
    connection_string: str,
    matrix: Any,
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    """The issue's feed through the pipeline, then through ``workbench inspect`` (where it took
    105 s and 2.1 GB) in a process of its own: seconds, under 300 MB."""
    row = await run_fault(QUADRATIC, server, connection_string, caplog)
    folder = tmp_path / "recording"
    folder.mkdir()
    (folder / "sources.yaml").write_text(
        "sources:\n  - {name: faulty, type: rss, url: 'https://bomb.example/feed.xml'}\n"
    )
    entry = har_entry(started=parse_time("2024-05-14T06:00:00Z"), time_ms=100.0,
                      url="https://bomb.example/feed.xml", status=200,
                      body=quadratic_entity_feed(), mime="application/rss+xml")  # fmt: skip
    write_har(folder / "run-000.har", [entry])
    (folder / "manifest.json").write_text(
        json.dumps({"runs": [{"har": "run-000.har", "started_at": "2024-05-14T06:00:00Z"}]})
    )
    inspected = run_measured(["inspect", str(folder)])
    seconds, peak_mb = inspected.seconds, inspected.peak_mb
    assert inspected.code == 0 and "hostile" in inspected.stdout, inspected.stdout
    assert seconds < 30 and peak_mb < 300, (seconds, peak_mb)
    matrix.record(dataclasses.replace(
        row, seen=f"{row.seen}; `workbench inspect` of it: {seconds:.1f} s, peak {peak_mb:.0f} MB"
    ))  # fmt: skip


async def run_fault(
    case: SourceFault, server: FaultServer, connection_string: str,
    caplog: pytest.LogCaptureFixture,
) -> Row:  # fmt: skip
    """The case through the pipeline, counted."""
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
    assert seen.poisoned == 0
    assert metrics.per_source["steady"]["items_queued"] == STEADY
    messages = [r.getMessage() for r in caplog.records]
    line = the_line(messages, case.line, server.base)
    tracebacks = [r for r in caplog.records if r.exc_info and r.name.startswith("pipeline")]
    return Row.counted(case.fault, expected, seen.deliveries, seen.work, seen.results,
                       clear_line=line is not None and not tracebacks,
                       seen=line or "(no line)")  # fmt: skip

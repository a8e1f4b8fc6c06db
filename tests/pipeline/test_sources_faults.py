"""Retries, backoff, timeouts, size cap and isolation, with faults injected at the transport."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from pipeline.clock import InstantClock
from pipeline.config import parse_sources
from pipeline.errors import ReplayError
from pipeline.har import ReplayTransport
from pipeline.recording import collect_sources
from pipeline.sources import SourceStats, collect_source

HAR = Path(__file__).resolve().parent.parent / "fixtures" / "har"
RSS = (
    b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
    b"<item><title>An item with a long title</title><link>https://x.example/1</link>"
    b"</item></channel></rss>"
)


def src(**entry: Any):  # type: ignore[no-untyped-def]
    entry = {"name": "s", "type": "rss", "url": "https://x.example/feed", **entry}
    return parse_sources({"sources": [entry]}).sources[0]


async def run(
    handler: Callable[[httpx.Request], httpx.Response], **entry: Any
) -> tuple[int, SourceStats, InstantClock]:
    source = src(**entry)
    clock = InstantClock()
    stats = SourceStats(name=source.name, type=source.type)
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        items = [i async for i in collect_source(client, source, clock, stats)]
    return len(items), stats, clock


def sequence(*responses: Any) -> Callable[[httpx.Request], httpx.Response]:
    queue = list(responses)

    def handler(request: httpx.Request) -> httpx.Response:
        answer = queue.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    return handler


@pytest.mark.anyio
async def test_503_backs_off_with_jitter_then_succeeds() -> None:
    handler = sequence(httpx.Response(503), httpx.Response(503), httpx.Response(200, content=RSS))
    count, stats, clock = await run(handler, backoff_base_s=2)
    assert count == 1
    assert stats.retries == 2
    assert stats.status_codes == {503: 2, 200: 1}
    # waits of 2 s then 4 s, each scaled by a jitter in [0.5, 1)
    assert 1.0 + 2.0 <= clock.now() < 2.0 + 4.0


@pytest.mark.anyio
async def test_retries_are_bounded() -> None:
    count, stats, _ = await run(lambda r: httpx.Response(503), max_attempts=3)
    assert count == 0
    assert stats.requests == 3 and stats.retries == 2
    assert stats.errors == {"http_status": 1}
    assert "after 3 attempts" in (stats.last_error or "")


@pytest.mark.anyio
async def test_retry_after_too_long_is_throttling_without_a_retry() -> None:
    # (A Retry-After HTTP date is tested through the replay transport in test_sources_http.py.)
    handler = sequence(httpx.Response(429, headers={"Retry-After": "3600"}))
    count, stats, _ = await run(handler, max_retry_after_s=60)
    assert stats.errors == {"throttled": 1} and stats.retries == 0
    assert "Retry-After 3600 s is too long" in (stats.last_error or "")


@pytest.mark.anyio
async def test_404_is_not_retried() -> None:
    count, stats, _ = await run(lambda r: httpx.Response(404))
    assert stats.requests == 1 and stats.errors == {"http_status": 1}


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (httpx.ConnectTimeout("slow"), "timeout"),
        (httpx.ReadTimeout("slow"), "timeout"),
        (httpx.ConnectError("refused"), "connect"),
    ],
)
async def test_network_errors_by_kind(exc: Exception, kind: str) -> None:
    count, stats, _ = await run(sequence(exc, exc), max_attempts=2)
    assert count == 0 and stats.errors == {kind: 1} and stats.requests == 2


@pytest.mark.anyio
async def test_network_error_then_success() -> None:
    handler = sequence(httpx.ConnectError("refused"), httpx.Response(200, content=RSS))
    count, stats, _ = await run(handler)
    assert count == 1 and stats.retries == 1 and not stats.errors


@pytest.mark.anyio
async def test_declared_size_over_cap_is_too_large() -> None:
    big = b"x" * 5000
    count, stats, _ = await run(lambda r: httpx.Response(200, content=big), max_response_bytes=1000)
    assert stats.errors == {"too_large": 1} and stats.requests == 1


@pytest.mark.anyio
async def test_streamed_size_over_cap_is_too_large() -> None:
    async def chunks() -> Any:
        for _ in range(10):
            yield b"y" * 500

    count, stats, _ = await run(
        lambda r: httpx.Response(200, content=chunks()), max_response_bytes=1000
    )
    assert stats.errors == {"too_large": 1}


@pytest.mark.anyio
async def test_politeness_spaces_requests_of_a_source() -> None:
    listing = {"kind": "Listing", "data": {"after": "t3_b", "children": []}}
    starts: list[float] = []
    clock = InstantClock()

    def handler(request: httpx.Request) -> httpx.Response:
        starts.append(clock.now())
        child = {"kind": "t3", "data": {"name": f"t3_{len(starts)}", "title": "A long title"}}
        return httpx.Response(
            200, json={**listing, "data": {**listing["data"], "children": [child]}}
        )

    source = parse_sources(
        {
            "sources": [
                {
                    "name": "r",
                    "type": "reddit",
                    "subreddit": "x",
                    "pages": 3,
                    "requests_per_minute": 30,
                }
            ]
        }  # fmt: skip
    ).sources[0]
    stats = SourceStats(name="r", type="reddit")
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        items = [i async for i in collect_source(client, source, clock, stats)]
    assert len(items) == 3
    assert starts == [0.0, 2.0, 4.0]


@pytest.mark.anyio
async def test_replayed_latency_over_timeout_is_a_timeout() -> None:
    entries = json.loads((HAR / "feeds.har").read_text())["log"]["entries"]
    source = src(url="https://atom.example/atom.xml", timeout_s=1, max_attempts=1)
    clock = InstantClock()
    stats = SourceStats(name="s", type="rss")
    async with httpx.AsyncClient(transport=ReplayTransport(entries, clock)) as client:
        items = [i async for i in collect_source(client, source, clock, stats)]
    assert items == [] and stats.errors == {"timeout": 1}
    assert clock.now() == pytest.approx(1.0)


@pytest.mark.anyio
async def test_unknown_request_during_replay_propagates() -> None:
    clock = InstantClock()
    stats = SourceStats(name="s", type="rss")
    async with httpx.AsyncClient(transport=ReplayTransport(HAR / "feeds.har", clock)) as client:
        with pytest.raises(ReplayError, match="no recorded answer"):
            async for _ in collect_source(client, src(url="https://nope.example/"), clock, stats):
                pass


@pytest.mark.anyio
async def test_a_failing_source_does_not_stop_the_others() -> None:
    config = parse_sources(
        {
            "sources": [
                {"name": "ok", "type": "rss", "url": "https://ok.example/feed"},
                {
                    "name": "down",
                    "type": "rss",
                    "url": "https://down.example/feed",
                    "max_attempts": 2,
                },
                {"name": "junk", "type": "mastodon", "instance": "https://junk.example"},
            ]
        }  # fmt: skip
    )

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "down.example":
            raise httpx.ConnectError("refused")
        if request.url.host == "junk.example":
            return httpx.Response(200, content=b"{not json")
        return httpx.Response(200, content=RSS)

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        result = await collect_sources(client, config.sources, InstantClock())
    assert result.stats["ok"].accepted == 1
    assert result.stats["down"].errors == {"connect": 1}
    assert result.stats["junk"].errors == {"parse": 1}

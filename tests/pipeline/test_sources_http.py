"""What sources share on one client, and how they treat the servers: requests in flight,
rate-limit headers, Retry-After dates (through the replay transport), Reddit's 403 and
conditional requests. Faults and servers live at the transport seam (``MockTransport``,
``ReplayTransport``); nothing above it is mocked."""

from __future__ import annotations

import asyncio
import importlib.util
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from pipeline.clock import Clock, InstantClock
from pipeline.config import SourceConfig, parse_sources
from pipeline.errors import ReplayError
from pipeline.har import ReplayTransport
from pipeline.items import ContentItem, content_hash
from pipeline.recording import Recording, collect_sources, first_item_limit_seconds
from pipeline.sources import (
    MAX_REQUESTS_IN_FLIGHT,
    ParseGate,
    SourceStats,
    collect_source,
    limit_requests_in_flight,
)
from pipeline.sources import _feeds as feeds_module
from pipeline.validators import Validator, Validators
from tests.pipeline.test_collect import har_entry

FEEDS = Path(__file__).resolve().parents[1] / "fixtures" / "feeds"
RSS = (
    b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
    b"<item><title>An item with a long title</title><link>https://x.example/1</link>"
    b"</item></channel></rss>"
)


def sources(*entries: dict[str, Any]) -> tuple[SourceConfig, ...]:
    return parse_sources({"sources": list(entries)}).sources


def rss_source(**entry: Any) -> SourceConfig:
    return sources({"name": "f", "type": "rss", "url": "https://x.example/feed", **entry})[0]


def listing(*names: str, after: str | None = "t3_next") -> dict[str, Any]:
    children = [{"kind": "t3", "data": {"name": n, "title": f"Post {n} title"}} for n in names]
    return {"kind": "Listing", "data": {"after": after, "children": children}}


async def collect(
    handler: Callable[[httpx.Request], Any],
    source: SourceConfig,
    clock: Clock | None = None,
    validators: Validators | None = None,
    client: httpx.AsyncClient | None = None,
) -> tuple[list[ContentItem], SourceStats]:
    clock = clock or InstantClock()
    stats = SourceStats(name=source.name, type=source.type)
    if client is not None:
        items = [i async for i in collect_source(client, source, clock, stats, validators)]
        return items, stats
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as own:
        items = [i async for i in collect_source(own, source, clock, stats, validators)]
    return items, stats


# -- requests in flight -----------------------------------------------------------------------
class _Gauge:
    """A server that counts how many requests it holds at once."""

    def __init__(self) -> None:
        self.in_flight = 0
        self.peak = 0

    async def handler(self, request: httpx.Request) -> httpx.Response:
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        for _ in range(20):  # hold the request while the other sources get their turn
            await asyncio.sleep(0)
        self.in_flight -= 1
        return httpx.Response(200, content=RSS, headers={"content-type": "application/rss+xml"})


def many_feeds(count: int) -> tuple[SourceConfig, ...]:
    return sources(
        *(
            {"name": f"f{i}", "type": "rss", "url": f"https://h{i}.example/feed"}
            for i in range(count)
        )
    )


@pytest.mark.anyio
async def test_requests_in_flight_are_bounded_per_client() -> None:
    gauge = _Gauge()
    async with httpx.AsyncClient(transport=httpx.MockTransport(gauge.handler)) as client:
        limit_requests_in_flight(client, 4)
        result = await collect_sources(client, many_feeds(30), Clock())
    assert gauge.peak == 4
    assert sum(s.accepted for s in result.stats.values()) == 30


@pytest.mark.anyio
async def test_the_default_bound_is_the_pool_size() -> None:
    gauge = _Gauge()
    count = MAX_REQUESTS_IN_FLIGHT + 30
    async with httpx.AsyncClient(transport=httpx.MockTransport(gauge.handler)) as client:
        result = await collect_sources(client, many_feeds(count), Clock())
    assert MAX_REQUESTS_IN_FLIGHT == 100  # httpx.Limits() default max_connections
    assert gauge.peak == MAX_REQUESTS_IN_FLIGHT
    assert sum(s.accepted for s in result.stats.values()) == count


def test_a_bound_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match=">= 1"):
        limit_requests_in_flight(httpx.AsyncClient(), 0)


# -- rate-limit headers -----------------------------------------------------------------------
def timed_server(
    clock: Clock, answer: Callable[[int], httpx.Response]
) -> tuple[list[float], Callable[[httpx.Request], httpx.Response]]:
    """A server answering its n-th request (from 1) with ``answer(n)``; the start times."""
    starts: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        starts.append(clock.now())
        return answer(len(starts))

    return starts, handler


@pytest.mark.anyio
async def test_a_low_reddit_budget_spreads_the_remaining_requests_over_the_window() -> None:
    clock = InstantClock()

    def answer(n: int) -> httpx.Response:
        remaining = 3 - (n - 1)  # 3, 2, 1, 0 of a limit of 100
        headers = {
            "x-ratelimit-remaining": f"{remaining:.1f}",
            "x-ratelimit-used": str(100 - remaining),
            "x-ratelimit-reset": f"{60 - clock.now():g}",  # the window ends at t=60
        }
        return httpx.Response(200, json=listing(f"t3_{n}"), headers=headers)

    starts, handler = timed_server(clock, answer)
    source = sources(
        {"name": "r", "type": "reddit", "subreddit": "x", "pages": 4, "requests_per_minute": 600}
    )[0]
    items, stats = await collect(handler, source, clock)
    assert len(items) == 4 and not stats.errors
    # 3 requests left of 100 (under the reserve of 10) with 60 s to go: one every 20 s. The
    # second request goes at the politeness interval (0.1 s), the budget's first slot.
    assert starts == pytest.approx([0.0, 0.1, 20.0, 40.0])


@pytest.mark.anyio
async def test_a_full_budget_does_not_slow_anything() -> None:
    clock = InstantClock()
    full = {"x-ratelimit-remaining": "95.0", "x-ratelimit-used": "5", "x-ratelimit-reset": "600"}
    starts, handler = timed_server(
        clock, lambda n: httpx.Response(200, json=listing(f"t3_{n}"), headers=full)
    )
    source = sources({"name": "r", "type": "reddit", "subreddit": "x", "pages": 3})[0]
    await collect(handler, source, clock)
    assert starts == [0.0, 1.0, 2.0]  # the politeness interval alone


@pytest.mark.anyio
async def test_mastodon_reset_time_counts_from_the_response_date() -> None:
    """Mastodon sends the reset as a time: a recording from 2024 waits what it recorded."""
    clock = InstantClock()
    spent = {
        "date": "Tue, 14 May 2024 00:00:00 GMT",
        "x-ratelimit-limit": "300",
        "x-ratelimit-remaining": "0",
        "x-ratelimit-reset": "2024-05-14T00:00:30.000Z",
    }

    def answer(n: int) -> httpx.Response:
        status = {"id": f"{100 - n}", "uri": f"https://m.example/s/{n}"}
        toot = {**status, "visibility": "public", "content": "<p>A toot of some length</p>"}
        return httpx.Response(200, json=[toot], headers=spent)

    starts, handler = timed_server(clock, answer)
    source = sources(
        {"name": "m", "type": "mastodon", "instance": "https://m.example", "pages": 2}
    )[0]
    items, stats = await collect(handler, source, clock)
    assert len(items) == 2 and not stats.errors
    assert starts == [0.0, 30.0]


@pytest.mark.anyio
async def test_the_budget_is_shared_by_the_sources_of_a_host() -> None:
    clock = InstantClock()
    starts: dict[str, float] = {}

    def handler(request: httpx.Request) -> httpx.Response:
        starts[request.url.path] = clock.now()
        headers = {
            "x-ratelimit-remaining": "0",
            "x-ratelimit-used": "100",
            "x-ratelimit-reset": "45",
        }
        return httpx.Response(200, json=listing("t3_a", after=None), headers=headers)

    first, second = sources(
        {"name": "a", "type": "reddit", "subreddit": "a"},
        {"name": "b", "type": "reddit", "subreddit": "b"},
    )
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        await collect(handler, first, clock, client=client)
        _, stats = await collect(handler, second, clock, client=client)
    assert not stats.errors
    assert starts == {"/r/a/new.json": 0.0, "/r/b/new.json": 45.0}


@pytest.mark.anyio
async def test_a_spent_budget_that_resets_too_late_is_throttling() -> None:
    headers = {"x-ratelimit-remaining": "0", "x-ratelimit-used": "100", "x-ratelimit-reset": "500"}
    source = sources(
        {"name": "r", "type": "reddit", "subreddit": "x", "pages": 2, "max_retry_after_s": 60}
    )[0]
    items, stats = await collect(
        lambda r: httpx.Response(200, json=listing("t3_a"), headers=headers), source
    )
    assert len(items) == 1 and stats.requests == 1
    assert stats.errors == {"throttled": 1}
    assert "resets in 500 s" in (stats.last_error or "")


# -- Retry-After ------------------------------------------------------------------------------
@pytest.mark.anyio
async def test_retry_after_date_waits_the_recorded_time_on_replay() -> None:
    """A 2019 recording: Retry-After is a date 7 s after the 429's own Date header."""
    clock = InstantClock()
    stats = SourceStats(name="f", type="rss")
    source = rss_source(url="https://dated.example/feed.xml")
    transport = ReplayTransport(FEEDS / "retry_after_date.har", clock)
    async with httpx.AsyncClient(transport=transport) as client:
        items = [i async for i in collect_source(client, source, clock, stats)]
    assert [i.title for i in items] == ["The item after the wait"]
    assert stats.status_codes == {429: 1, 200: 1} and stats.retries == 1
    # 0.1 s for the 429, the recorded 7 s, then 0.2 s for the feed.
    assert clock.now() == pytest.approx(7.3)


@pytest.mark.anyio
async def test_retry_after_date_without_a_date_header_counts_from_now() -> None:
    later = httpx.Response(
        429, headers={"retry-after": "Fri, 31 Dec 9999 23:59:59 GMT"}, content=b"slow down"
    )
    _, stats = await collect(lambda r: later, rss_source(max_retry_after_s=60))
    assert stats.errors == {"throttled": 1} and stats.requests == 1
    assert "is too long" in (stats.last_error or "")


# -- Reddit's 403 -----------------------------------------------------------------------------
def reddit(**entry: Any) -> SourceConfig:
    return sources({"name": "r", "type": "reddit", "subreddit": "x", **entry})[0]


@pytest.mark.anyio
async def test_reddit_403_is_throttling_and_retried() -> None:
    answers = [
        httpx.Response(403, content=b"<html><body>whoa there, pardner!</body></html>"),
        httpx.Response(200, json=listing("t3_a", after=None)),
    ]
    items, stats = await collect(lambda r: answers.pop(0), reddit())
    assert len(items) == 1 and not stats.errors
    assert stats.retries == 1 and stats.status_codes == {403: 1, 200: 1}


@pytest.mark.anyio
async def test_reddit_403_to_the_end_is_a_throttled_error() -> None:
    _, stats = await collect(
        lambda r: httpx.Response(403, content=b"blocked"), reddit(max_attempts=3)
    )
    assert stats.errors == {"throttled": 1} and stats.requests == 3
    assert "Reddit's answer to too many requests" in (stats.last_error or "")


@pytest.mark.anyio
async def test_reddit_403_with_a_reason_is_a_real_error() -> None:
    private = {"reason": "private", "message": "Forbidden", "error": 403}
    _, stats = await collect(lambda r: httpx.Response(403, json=private), reddit())
    assert stats.errors == {"http_status": 1} and stats.requests == 1 and stats.retries == 0


@pytest.mark.anyio
async def test_a_feed_403_is_not_throttling() -> None:
    _, stats = await collect(lambda r: httpx.Response(403), rss_source())
    assert stats.errors == {"http_status": 1} and stats.requests == 1


# -- conditional requests ---------------------------------------------------------------------
class _EtagServer:
    """A feed server that answers 304 to the right If-None-Match."""

    def __init__(self, body: bytes = RSS) -> None:
        self.body = body
        self.seen: list[dict[str, str]] = []

    def handler(self, request: httpx.Request) -> httpx.Response:
        conditional = {
            k: v for k, v in request.headers.items() if k in ("if-none-match", "if-modified-since")
        }
        self.seen.append(conditional)
        if conditional.get("if-none-match") == '"v1"':
            return httpx.Response(304, headers={"etag": '"v1"'})
        return httpx.Response(
            200,
            content=self.body,
            headers={
                "content-type": "application/rss+xml",
                "etag": '"v1"',
                "last-modified": "Mon, 13 May 2024 23:00:00 GMT",
            },
        )


@pytest.mark.anyio
async def test_a_304_is_an_empty_successful_fetch() -> None:
    server = _EtagServer()
    first = Validators()
    items, _ = await collect(server.handler, rss_source(), validators=first)
    assert len(items) == 1
    kept = Validator("https://x.example/feed", '"v1"', "Mon, 13 May 2024 23:00:00 GMT")
    assert first.merged() == {"f": kept}

    second = Validators(first.merged())
    items, stats = await collect(server.handler, rss_source(), validators=second)
    assert items == [] and not stats.errors and not stats.warnings
    assert stats.status_codes == {304: 1} and stats.requests == 1
    assert server.seen[-1] == {
        "if-none-match": '"v1"',
        "if-modified-since": "Mon, 13 May 2024 23:00:00 GMT",
    }
    assert second.merged() == {"f": kept}  # a 304 keeps the validators for the next run


@pytest.mark.anyio
async def test_no_conditional_headers_for_another_url_or_when_switched_off() -> None:
    server = _EtagServer()
    previous = {"f": Validator("https://x.example/old-feed", '"v1"', None)}
    items, _ = await collect(server.handler, rss_source(), validators=Validators(previous))
    assert len(items) == 1 and server.seen[-1] == {}
    previous = {"f": Validator("https://x.example/feed", '"v1"', None)}
    off = rss_source(conditional_requests=False)
    items, _ = await collect(server.handler, off, validators=Validators(previous))
    assert len(items) == 1 and server.seen[-1] == {}


@pytest.mark.anyio
async def test_validators_of_a_feed_that_failed_to_parse_are_not_kept() -> None:
    server = _EtagServer(body=b"<html><body>maintenance</body></html>")
    validators = Validators()
    _, stats = await collect(server.handler, rss_source(), validators=validators)
    assert stats.errors == {"parse": 1}
    assert validators.merged() == {}


def test_validators_round_trip_and_unreadable_blobs_count_as_none() -> None:
    validators = Validators({"a": Validator("https://a.example/", None, "Mon, 13 May 2024")})
    validators.keep("b", "https://b.example/", httpx.Headers({"ETag": 'W/"x"'}))
    again = Validators.from_json(json.loads(json.dumps(validators.to_json())))
    assert again.previous == {
        "a": Validator("https://a.example/", None, "Mon, 13 May 2024"),
        "b": Validator("https://b.example/", 'W/"x"', None),
    }
    assert Validators.from_json({"format": "something-else"}).previous == {}
    assert Validators.from_json([1, 2]).previous == {}


# -- many sources: what the HTTP stack needs, and the per-source first-item replay -------------
def test_the_http_stack_finds_sniffio() -> None:
    """httpcore imports sniffio on every request; without it each import fails, slowly."""
    assert importlib.util.find_spec("sniffio") is not None


def _answer(url: str, title: str, time_ms: float) -> dict[str, Any]:
    body = (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><item>'
        f"<title>{title}</title><link>{url}#{time_ms}</link></item></channel></rss>"
    )
    return {
        "startedDateTime": "2024-05-14T00:00:00.000Z",
        "time": time_ms,
        "request": {"method": "GET", "url": url},
        "response": {
            "status": 200,
            "headers": [{"name": "content-type", "value": "application/rss+xml"}],
            "content": {"mimeType": "application/rss+xml", "text": body},
        },
    }


def test_first_item_limit_replays_each_source_alone(tmp_path: Path) -> None:
    """Two sources of one URL recorded twice (1 s, then 3 s): replayed alone, each gets the
    first answer, as if it were the only source; a source with no answer names the URL."""
    url = "https://same.example/feed"
    entries = [
        _answer(url, "The first answer of two", 1000),
        _answer(url, "The second answer", 3000),
    ]
    (tmp_path / "run-000.har").write_text(json.dumps({"log": {"entries": entries}}))
    (tmp_path / "manifest.json").write_text(json.dumps({"runs": []}))
    config = {
        "sources": [
            {"name": "a", "type": "rss", "url": url},
            {"name": "b", "type": "rss", "url": url},
        ]
    }
    (tmp_path / "sources.yaml").write_text(json.dumps(config))
    recording = Recording.open(tmp_path)
    assert first_item_limit_seconds(recording, 0) == (1.0, {"a": 1.0, "b": 1.0})
    config["sources"].append({"name": "c", "type": "rss", "url": "https://same.example/feeds"})
    (tmp_path / "sources.yaml").write_text(json.dumps(config))
    with pytest.raises(ReplayError, match=r"no recorded answer .*closest recorded: " + url):
        first_item_limit_seconds(Recording.open(tmp_path), 0)


@pytest.mark.anyio
async def test_every_source_type_caps_item_text() -> None:
    """A 4.4 MB Reddit selftext (issue 12) comes out at ``max_item_chars``, hash recomputed."""
    post = {"name": "t3_big", "title": "A post with a huge body", "selftext": "x" * 4_400_000}
    answer = {
        "kind": "Listing",
        "data": {"after": None, "children": [{"kind": "t3", "data": post}]},
    }
    items, stats = await collect(
        lambda r: httpx.Response(200, json=answer), reddit(max_item_chars=5_000)
    )
    (item,) = items
    assert (len(item.title), len(item.body)) == (23, 5_000 - 23)
    assert item.content_hash == content_hash(item.title, "x" * (5_000 - 23))
    assert item.metadata["truncated"] is True and stats.warnings == {"truncated": 1}


# -- the parse gate (a collection run holds parsing while its first message is in flight) ---------
async def _served(handler_calls: list[httpx.Request], count: int, deadline_s: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + deadline_s
    while len(handler_calls) < count:
        assert loop.time() < deadline, "the server was never asked"
        await asyncio.sleep(0.001)


async def _held_then_released(source: SourceConfig, body: bytes, mime: str) -> None:
    """The source's response arrives while the gate is closed; it is parsed only once it opens."""
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(200, content=body, headers={"content-type": mime})

    gate = ParseGate()
    stats = SourceStats(name=source.name, type=source.type)
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        items = collect_source(client, source, InstantClock(), stats, parse_gate=gate)
        with gate.closed():  # a first message is in flight
            first = asyncio.ensure_future(anext(items))
            await _served(calls, 1)
            # Whatever was handed to the feeds' parser thread is done once a job queued behind
            # it is; then the loop delivers any result before this test's next step.
            await asyncio.get_running_loop().run_in_executor(feeds_module._PARSER, lambda: None)
            for _ in range(50):
                await asyncio.sleep(0)
            assert not first.done() and stats.pages == 0, "parsed while the gate was closed"
        item = await first
        await items.aclose()
    assert stats.pages == 1 and item.title


@pytest.mark.anyio
async def test_a_json_response_waits_for_the_parse_gate() -> None:
    body = json.dumps(listing("t3_a", after=None)).encode()
    await _held_then_released(reddit(), body, "application/json")


@pytest.mark.anyio
async def test_a_feed_is_not_handed_to_the_parser_thread_while_the_gate_is_closed() -> None:
    await _held_then_released(rss_source(), RSS, "application/rss+xml")


def _big_feed(n: int) -> bytes:
    entries = "".join(
        f"<item><title>Entry number {i} of a long feed</title>"
        f"<link>https://x.example/{i}</link><description>{'Words of a body. ' * 20}</description>"
        "</item>"
        for i in range(n)
    )
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{entries}</channel></rss>'.encode()


async def _parser_idle() -> None:
    """Let the loop run, then wait until the feeds' parser thread has done what it was given."""
    for _ in range(2):
        for _ in range(50):
            await asyncio.sleep(0)
        await asyncio.get_running_loop().run_in_executor(feeds_module._PARSER, lambda: None)


@pytest.mark.anyio
async def test_a_feed_queued_behind_a_running_parse_checks_the_gate_when_its_turn_comes() -> None:
    """Two feeds pass the gate while it is open; it closes while the first is being parsed
    (a few hundred milliseconds for 600 entries): the second must not start until it opens again."""
    calls: list[httpx.Request] = []
    body = _big_feed(600)

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(200, content=body, headers={"content-type": "application/rss+xml"})

    gate = ParseGate()
    feeds = sources(
        {"name": "a", "type": "rss", "url": "https://a.example/feed"},
        {"name": "b", "type": "rss", "url": "https://b.example/feed"},
    )
    stats = [SourceStats(name=s.name, type=s.type) for s in feeds]
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        streams = [
            collect_source(client, s, InstantClock(), st, parse_gate=gate)
            for s, st in zip(feeds, stats, strict=True)
        ]
        firsts = [asyncio.ensure_future(anext(s)) for s in streams]
        await _served(calls, 2)
        with gate.closed():  # a first message goes out: at most the parse under way may finish
            await _parser_idle()
            assert sum(st.pages for st in stats) <= 1, (
                "a second feed was parsed while the gate was closed"
            )
        await asyncio.gather(*firsts)
        for stream in streams:
            await stream.aclose()
    assert [st.pages for st in stats] == [1, 1]


async def _settles(task: asyncio.Future[Any]) -> bool:
    for _ in range(20):
        await asyncio.sleep(0)
    return task.done()


@pytest.mark.anyio
async def test_the_gate_opens_when_the_last_of_overlapping_holds_ends() -> None:
    gate = ParseGate()
    first, second = gate.closed(), gate.closed()
    first.__enter__()
    second.__enter__()
    waiter = asyncio.ensure_future(gate.wait_open())
    first.__exit__(None, None, None)
    assert not await _settles(waiter) and not gate.is_open
    second.__exit__(None, None, None)
    assert await _settles(waiter) and gate.is_open


@pytest.mark.anyio
async def test_quiet_waits_only_for_a_parse_earlier_than_the_earliest_sent() -> None:
    gate = ParseGate()
    with gate.parsing(0.5):
        assert await _settles(asyncio.ensure_future(gate.wait_quiet(0.4)))  # a later parse
        with gate.parsing(0.2):
            waiter = asyncio.ensure_future(gate.wait_quiet(0.4))
            assert not await _settles(waiter) and gate.earliest_parse() == 0.2
        assert await _settles(waiter)
    assert gate.earliest_parse() == float("inf")
    with gate.closed():
        waiter = asyncio.ensure_future(gate.wait_quiet(0.4))
        assert not await _settles(waiter)
    assert await _settles(waiter)


@pytest.mark.anyio
async def test_a_feed_says_when_its_response_came_while_it_is_being_parsed() -> None:
    """The feed's parse is announced with its response's schedule time, for as long as the
    parser thread works on it (the collector's senders hold meanwhile: pipeline.collect)."""
    clock = InstantClock()
    seen: list[float] = []
    gate = ParseGate()

    real = feeds_module._parse_items

    def parse(*args: Any) -> Any:
        seen.append(gate.earliest_parse())  # read in the parser thread, mid-parse
        return real(*args)

    source = rss_source()
    stats = SourceStats(name=source.name, type=source.type)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(feeds_module, "_parse_items", parse)
        # The recorded response takes 1.25 s: it comes 1.25 s into the run.
        entry = har_entry(str(source.url), RSS, time_ms=1_250)
        async with httpx.AsyncClient(transport=ReplayTransport([entry], clock)) as client:
            items = [i async for i in collect_source(client, source, clock, stats, parse_gate=gate)]
    assert items and seen == [1.25] and gate.earliest_parse() == float("inf")

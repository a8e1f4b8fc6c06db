"""The collector's hot path against the real queue and blobs (Azurite).

- The run's first item: while its message is in flight, the other sources hold their parsing,
  so that it does not wait for their CPU work. The queue is the real adapter with its first send
  held back 0.3 s (wall); a second source answers meanwhile. That source, a two-page Reddit
  listing, asks for its second page only after parsing its first, so the time of that request
  says when the parse happened.
- While that message is in flight the interpreter hands the GIL between threads every 0.5 ms
  (a feed parse already running in the parser thread cannot be stopped); the other sends run
  with the process's own switch interval, which the run leaves as it found it.
- While a feed is being parsed whose items are earlier on the run's timeline than any item
  sent so far (parsing takes no recording time), the senders start no new send: the earliest
  item, sent at once when the parse ends, would otherwise go out behind a burst of sends.
- Each item's dedup keys are computed once a run, though the dedup check and the history record
  (a flush later) both use them.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from datetime import timedelta
from typing import Any

import httpx
import pytest
from azure.storage.queue.aio import QueueServiceClient

import pipeline.items as items_module
import pipeline.sources._feeds as feeds_module
from pipeline.clock import Clock
from pipeline.collect import CollectorOptions
from pipeline.har import ReplayTransport
from pipeline.history import HistoryIndex
from pipeline.storage import QueueAdapter, StorageAccount
from tests.pipeline.test_collect import (
    START,
    collect,
    drain,
    feed_items,
    fresh,
    har_entry,
    reddit_listing,
    rss_feed,
    sources,
)

pytestmark = pytest.mark.anyio

HOLD_S = 0.3
STREAMING = CollectorOptions(mode_override="streaming")
LISTING = "https://www.reddit.com/r/b/new.json"


class HeldFirstSendQueue(QueueAdapter):
    """The real queue adapter; its first send waits ``HOLD_S`` before going out."""

    def __init__(self, service: QueueServiceClient, name: str, endpoint: str) -> None:
        super().__init__(service, name, endpoint)
        self.sends = 0
        self.first_done: float | None = None
        self.switch_intervals: list[float] = []  # the interpreter's, as each send went out

    async def send(self, content: str | dict[str, Any], *, visibility_timeout: int | None = None):
        self.sends += 1
        self.switch_intervals.append(sys.getswitchinterval())
        if self.sends == 1:
            await asyncio.sleep(HOLD_S)  # a slow first round trip, not a wait for anything
        message_id = await super().send(content, visibility_timeout=visibility_timeout)
        if self.first_done is None:
            self.first_done = time.monotonic()
        return message_id


class NotingTransport(ReplayTransport):
    """The replay transport, noting when each URL was asked for (wall)."""

    def __init__(self, entries: list[dict[str, Any]], clock: Clock) -> None:
        super().__init__(entries, clock)
        self.asked: dict[str, float] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.asked.setdefault(str(request.url), time.monotonic())
        return await super().handle_async_request(request)


async def test_other_sources_parse_only_once_the_first_message_is_queued(
    connection_string: str, unique_name: str
) -> None:
    page_2 = f"{LISTING}?limit=2&after=t3_b2&raw_json=1"
    entries = [
        har_entry("https://a.example/rss", rss_feed("a.example", feed_items("a.example", 2))),
        har_entry(f"{LISTING}?limit=2&raw_json=1", reddit_listing("b", ["b1", "b2"], "t3_b2"),
                  mime="application/json", time_ms=10),
        har_entry(page_2, reddit_listing("b", ["b3"], None), mime="application/json",
                  time_ms=10, started="2024-05-14T06:00:01.000Z"),
    ]  # fmt: skip
    srcs = sources(
        {"name": "a", "type": "rss", "url": "https://a.example/rss"},
        {"name": "b", "type": "reddit", "subreddit": "b", "limit": 2, "pages": 2,
         "requests_per_minute": 6000},
    )  # fmt: skip
    clock = Clock(1.0)
    transport = NotingTransport(entries, clock)
    default_interval = sys.getswitchinterval()
    assert default_interval > 0.001  # the interpreter's default, 5 ms
    async with (
        StorageAccount(connection_string) as account,
        QueueServiceClient.from_connection_string(connection_string) as service,
        fresh(account, unique_name) as (_, store),
    ):
        queue = HeldFirstSendQueue(service, unique_name, account.queue_endpoint)
        metrics = await collect(entries, srcs, queue, store, options=STREAMING, clock=clock,
                                transport=transport)  # fmt: skip
        messages = await drain(account.queue(unique_name))
    assert metrics.items_queued == len(messages) == 5
    assert queue.first_done is not None
    first = min(metrics.messages, key=lambda m: m.enqueued_at)
    assert first.source_name == "a"
    # b's first page came back 10 ms in, while a's message was held: it was parsed (and its
    # second page asked for) only after that message was on the queue.
    assert transport.asked[page_2] >= queue.first_done, (
        f"b's second page was asked for {queue.first_done - transport.asked[page_2]:.3f} s "
        "before the first message was queued"
    )
    first_interval, *others = queue.switch_intervals
    assert first_interval == pytest.approx(0.0005)
    assert others and all(x == pytest.approx(default_interval) for x in others)
    assert sys.getswitchinterval() == pytest.approx(default_interval)


class TimedQueue(QueueAdapter):
    """The real queue adapter, noting each send's source and when it started (wall)."""

    def __init__(self, service: QueueServiceClient, name: str, endpoint: str) -> None:
        super().__init__(service, name, endpoint)
        self.starts: list[tuple[float, str]] = []

    async def send(self, content: str | dict[str, Any], *, visibility_timeout: int | None = None):
        message = json.loads(content) if isinstance(content, str) else content
        self.starts.append((time.monotonic(), message["source_name"]))
        return await super().send(content, visibility_timeout=visibility_timeout)


def _slow_feed(entries: int) -> str:
    """An RSS feed that takes the parser thread a good while (about 0.5 s for 1,500 entries)
    and yields one new item: every entry has the same guid, so the rest are duplicates."""
    items = "".join(
        f'<item><title>Entry {n} of a slow feed</title><guid isPermaLink="false">slow-1</guid>'
        f"<description>&lt;p&gt;{'Words of a body, parsed slowly. ' * 12}{n}&lt;/p&gt;"
        "</description></item>"
        for n in range(entries)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>slow</title>'
        f"<link>https://slow.example/</link><description>d</description>{items}</channel></rss>"
    )


async def test_no_send_starts_while_an_earlier_feed_is_being_parsed(
    connection_string: str, unique_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The feed's response comes 5 ms in and is parsed in the parser thread for a long while;
    a Reddit page of 20 posts comes 10 ms in and is parsed on the loop, so its first post is
    the first item sent. The feed's item (5 ms on the run's timeline) is still to come: the
    other 19 posts wait until its parse ends, then it goes out first, alone. The flusher
    (every 10 ms here) waits too: it has the first post to write."""
    parses: list[tuple[float, float]] = []
    real_parse = feeds_module._parse_items

    def timed_parse(*args: Any) -> Any:
        start = time.monotonic()
        try:
            return real_parse(*args)
        finally:
            parses.append((start, time.monotonic()))

    monkeypatch.setattr(feeds_module, "_parse_items", timed_parse)
    posts = [f"p{n}" for n in range(20)]
    entries = [
        har_entry("https://slow.example/rss", _slow_feed(1_500), time_ms=5),
        har_entry(f"{LISTING}?limit=20&raw_json=1", reddit_listing("b", posts, None),
                  mime="application/json", time_ms=10),
    ]  # fmt: skip
    srcs = sources(
        {"name": "slow", "type": "rss", "url": "https://slow.example/rss"},
        {"name": "b", "type": "reddit", "subreddit": "b", "limit": 20, "pages": 1},
    )  # fmt: skip
    clock = Clock(1.0)
    async with (
        StorageAccount(connection_string) as account,
        QueueServiceClient.from_connection_string(connection_string) as service,
        fresh(account, unique_name) as (_, store),
    ):
        queue = TimedQueue(service, unique_name, account.queue_endpoint)
        appends: list[float] = []
        real_append = store.append_jsonl

        async def timed_append(*args: Any, **kwargs: Any) -> Any:
            appends.append(time.monotonic())
            return await real_append(*args, **kwargs)

        monkeypatch.setattr(store, "append_jsonl", timed_append)
        options = CollectorOptions(mode_override="streaming", blob_flush_interval_s=0.01)
        metrics = await collect(entries, srcs, queue, store, options=options, clock=clock)
        messages = await drain(account.queue(unique_name))
    assert metrics.items_queued == len(messages) == 21
    assert len(parses) == 1
    parse_start, parse_end = parses[0]
    (first_start, first_source), *_ = queue.starts
    # The scenario: the first post went out while the feed was still being parsed.
    assert first_source == "b" and parse_start < first_start < parse_end, (
        "the feed's parse ended too soon"
    )
    during = [source for start, source in queue.starts if parse_start < start < parse_end]
    assert len(during) == 1, f"{len(during) - 1} more sends started during the earlier parse"
    assert appends and not [t for t in appends if parse_start < t < parse_end], (
        "the collection blob was written during the earlier parse"
    )
    # Then the feed's item went out first, before the other posts.
    assert [source for _, source in queue.starts][:3] == ["b", "slow", "b"]


async def test_each_items_dedup_keys_are_computed_once(
    connection_string: str, unique_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The keys' costly part (normalizing and counting the words) runs once an item, for the
    dedup check, the processing key and the history record together."""
    calls: list[str] = []
    real = items_module.text_identifies_post

    def counted(title: str, body: str) -> bool:
        calls.append(title)
        return real(title, body)

    monkeypatch.setattr(items_module, "text_identifies_post", counted)
    entries = [
        har_entry("https://a.example/rss", rss_feed("a.example", feed_items("a.example", 5)))
    ]
    srcs = sources({"name": "a", "type": "rss", "url": "https://a.example/rss"})
    async with (
        StorageAccount(connection_string) as account,
        fresh(account, unique_name) as (queue, store),
    ):
        history = HistoryIndex(store)
        metrics = await collect(entries, srcs, queue, store, options=STREAMING, history=history)
        recorded = await history.load(START + timedelta(minutes=1))
    assert metrics.items_queued == 5
    assert len(calls) == 5 and len(set(calls)) == 5, calls  # once each
    assert all(recorded.seen([f"id:rss:a.example-{n}"]) for n in range(5))  # ... and recorded

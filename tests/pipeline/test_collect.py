"""Batch and streaming collection against the session's real Azurite, through HAR replay.

Sources are replayed at the transport seam (``ReplayTransport``): the real collectors, parsers,
politeness and retries run; the queue and blobs are Azurite's. Nothing here mocks httpx or the
Azure clients.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import json
import logging
import random
import re
import statistics
from collections import Counter
from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from xml.sax.saxutils import escape

import httpx
import pytest
from azure.storage.blob.aio import ContainerClient
from azure.storage.queue.aio import QueueServiceClient

from pipeline.clock import Clock
from pipeline.collect import CollectorOptions, RunInputs, collect_run
from pipeline.config import SourceConfig, parse_sources
from pipeline.errors import StorageError, StorageUnavailableError
from pipeline.har import ReplayTransport
from pipeline.history import HistoryIndex
from pipeline.items import ContentItem
from pipeline.messages import collection_blob_name, validate_message
from pipeline.metrics import RunMetrics
from pipeline.recording import Recording
from pipeline.storage import MAX_MESSAGE_BYTES, BlobStore, QueueAdapter, StorageAccount
from tests.pipeline.storage_faults import (
    REFUSED,
    Fault,
    FaultyTransport,
    Rule,
    fault_server,
    is_append_block,
    is_queue_send,
    server_busy,
)
from workbench.azurite import Azurite
from workbench.paths import PROJECT_ROOT as ROOT
from workbench.replay import ReplayOptions, replay_recording

pytestmark = pytest.mark.anyio

SHIPPED = ROOT / "data" / "recordings" / "synthetic-tech"
HAR_FIXTURES = ROOT / "tests" / "fixtures" / "har"
MODES = ("batch", "streaming")
START = datetime(2024, 5, 14, 6, 0, tzinfo=UTC)
COLLECTION_BLOB_RE = re.compile(r"collections/\d{4}/\d{2}/\d{2}/\d{6}-[^/]+\.jsonl")
ITEM_FIELDS = {  # a collection blob's line: the item's fields (docs/contracts.md)
    "source", "source_name", "source_id", "url", "title", "body", "author", "published_at",
    "collected_at", "content_hash", "metadata",
}  # fmt: skip


# -- HAR entries built in the tests ------------------------------------------------------------
def har_entry(
    url: str,
    body: bytes | str,
    *,
    status: int = 200,
    mime: str = "application/rss+xml; charset=utf-8",
    time_ms: float = 0.0,
    started: str = "2024-05-14T06:00:00.000Z",
) -> dict[str, Any]:
    text = body.decode("utf-8") if isinstance(body, bytes) else body
    return {
        "startedDateTime": started,
        "time": time_ms,
        "request": {"method": "GET", "url": url, "headers": [], "queryString": []},
        "response": {
            "status": status,
            "headers": [{"name": "content-type", "value": mime}],
            "content": {"size": len(text), "mimeType": mime, "text": text},
        },
        "cache": {},
        "timings": {"send": 0, "wait": time_ms, "receive": 0},
    }


def rss_feed(host: str, items: Iterable[tuple[str, str]]) -> str:
    """An RSS 2.0 document; each item is (title, body), linked under ``https://{host}/``."""
    entries = "".join(
        f"<item><title>{escape(title)}</title><link>https://{host}/post/{n}</link>"
        f'<guid isPermaLink="false">{host}-{n}</guid>'
        f"<pubDate>Tue, 14 May 2024 05:00:00 +0000</pubDate>"
        f"<description>{escape(body)}</description></item>"
        for n, (title, body) in enumerate(items)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>{host}</title><link>https://{host}/</link><description>d</description>"
        f"{entries}</channel></rss>"
    )


def feed_items(host: str, count: int) -> list[tuple[str, str]]:
    return [(f"{host} story number {n} about queues", f"Body {n} of {host}.") for n in range(count)]


def reddit_listing(sub: str, ids: Sequence[str], after: str | None) -> str:
    children = [
        {
            "kind": "t3",
            "data": {
                "id": i,
                "name": f"t3_{i}",
                "subreddit": sub,
                "title": f"Reddit post {i} in r/{sub}",
                "selftext": f"Self text of {i}",
                "is_self": True,
                "permalink": f"/r/{sub}/comments/{i}/x/",
                "author": "someone",
                "score": 5,
                "created_utc": 1715662800.0,
                "stickied": False,
                "over_18": False,
            },
        }
        for i in ids
    ]
    return json.dumps({"kind": "Listing", "data": {"after": after, "children": children}})


def mastodon_statuses(host: str, ids: Sequence[str]) -> str:
    return json.dumps(
        [
            {
                "id": sid,
                "uri": f"https://{host}/users/a/statuses/{sid}",
                "url": f"https://{host}/@a/{sid}",
                "content": f"<p>Toot {sid} about streaming collection</p>",
                "created_at": "2024-05-14T05:00:00.000Z",
                "in_reply_to_id": None,
                "reblog": None,
                "visibility": "public",
                "reblogs_count": 1,
                "favourites_count": 2,
                "account": {"acct": "a"},
            }
            for sid in ids
        ]
    )


def sources(*entries: dict[str, Any], **defaults: Any) -> tuple[SourceConfig, ...]:
    return parse_sources({"defaults": defaults, "sources": list(entries)}).sources


# -- storage helpers ---------------------------------------------------------------------------
@contextlib.asynccontextmanager
async def fresh(
    account: StorageAccount, name: str
) -> AsyncIterator[tuple[QueueAdapter, BlobStore]]:
    """A new queue and container of the same name, deleted afterwards."""
    queue = await account.queue(name).create_if_missing()
    store = await account.container(name).create_if_missing()
    try:
        yield queue, store
    finally:
        await account.delete_queue(name)
        await account.delete_container(name)


async def drain(queue: QueueAdapter, deadline_s: float = 30.0) -> list[dict[str, Any]]:
    """Receive (32 at a time, hidden for 5 min) until nothing is visible; decoded messages."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + deadline_s
    out: list[dict[str, Any]] = []
    while loop.time() < deadline:
        batch = await queue.receive(32, visibility_timeout=300)
        if not batch:
            return out
        for message in batch:
            assert message.content is not None, f"message {message.id} is not base64 text"
            assert len(message.raw_content) < MAX_MESSAGE_BYTES
            out.append({**message.json(), "_raw": message.raw_content})
    raise AssertionError(f"queue {queue.name} not drained within {deadline_s} s")


async def collect(
    entries: Sequence[dict[str, Any]],
    srcs: Sequence[SourceConfig],
    queue: QueueAdapter,
    store: BlobStore,
    *,
    speed: float = 50.0,
    options: CollectorOptions | None = None,
    history: HistoryIndex | None = None,
    started_at: datetime = START,
    collection_id: str | None = None,
    clock: Clock | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> RunMetrics:
    """A run of ``srcs`` replaying ``entries`` (or through ``transport``, which replays them
    on ``clock``)."""
    clock = clock or Clock(speed)
    async with httpx.AsyncClient(transport=transport or ReplayTransport(entries, clock)) as client:
        return await collect_run(
            RunInputs(
                sources=srcs,
                client=client,
                queue=queue,
                store=store,
                history=history or HistoryIndex(store),
                clock=clock,
                started_at=started_at,
                collection_id=collection_id,
                options=options or CollectorOptions(),
            )
        )


async def collect_recorded(
    recording: Recording,
    run_index: int,
    queue: QueueAdapter,
    store: BlobStore,
    history: HistoryIndex,
    mode: str,
    *,
    started_at: datetime | None = None,
    collection_id: str | None = None,
    speed: float = 200.0,
) -> RunMetrics:
    run = recording.run(run_index)
    clock = Clock(speed)
    async with httpx.AsyncClient(transport=ReplayTransport(run.har_path, clock)) as client:
        return await collect_run(
            RunInputs(
                sources=recording.sources.sources,
                client=client,
                queue=queue,
                store=store,
                history=history,
                clock=clock,
                started_at=started_at or run.started_at,
                collection_id=collection_id,
                options=CollectorOptions(mode_override=mode),
            )
        )


# -- 1, 2: the shipped recording in both modes ------------------------------------------------
@dataclasses.dataclass
class ShippedReplay:
    result: dict[str, Any]
    queued: dict[str, list[dict[str, Any]]]  # mode -> every message on its queue
    blobs: dict[str, list[list[dict[str, Any]]]]  # mode -> per run, the collection blob's lines


@pytest.fixture(scope="module")
def shipped(azurite: Azurite) -> ShippedReplay:
    """The shipped recording replayed once per mode at speed 50 (kept, read, then deleted)."""

    async def go() -> ShippedReplay:
        async with StorageAccount(azurite.connection_string) as account:
            result = await replay_recording(
                SHIPPED, account=account, options=ReplayOptions(speed=50, keep=True)
            )
            queued: dict[str, list[dict[str, Any]]] = {}
            blobs: dict[str, list[list[dict[str, Any]]]] = {}
            for mode, doc in result["modes"].items():
                names = doc["end"]["resources"]
                try:
                    queued[mode] = await drain(account.queue(names["queue"]))
                    store = account.container(names["collected"])
                    blobs[mode] = [
                        await store.read_jsonl(r["collection_blob"]) for r in doc["runs"]
                    ]
                finally:
                    for queue in (names["queue"], names["poison_queue"]):
                        await account.delete_queue(queue)
                    for container in (names["collected"], names["processed"]):
                        await account.delete_container(container)
            return ShippedReplay(result, queued, blobs)

    return asyncio.run(go())


def _hashes(runs: Sequence[dict[str, Any]]) -> list[str]:
    return [m["content_hash"] for run in runs for m in run["messages"]]


def test_both_modes_queue_the_same_items_once_each(shipped: ShippedReplay) -> None:
    modes = shipped.result["modes"]
    assert set(modes) == set(MODES)
    hashes = {mode: _hashes(modes[mode]["runs"]) for mode in MODES}
    for mode in MODES:
        assert len(modes[mode]["runs"]) == 3
        duplicates = [h for h, n in Counter(hashes[mode]).items() if n > 1]
        assert duplicates == [], f"{mode}: content hashes queued in more than one run"
        # What is on the queue is what the metrics say was sent, once each.
        on_queue = Counter(m["content_hash"] for m in shipped.queued[mode])
        assert on_queue == Counter(hashes[mode])
    assert set(hashes["batch"]) == set(hashes["streaming"])
    assert len(hashes["batch"]) > 500  # ~300 items a run, minus duplicates

    rates = {mode: modes[mode]["total"]["deduplication_hit_rate"] for mode in MODES}
    assert 0.10 <= rates["batch"] <= 0.20, rates
    assert rates["batch"] == rates["streaming"]
    for mode in MODES:
        total = modes[mode]["total"]
        assert total["items_collected"] == total["items_queued"] + total["duplicates_skipped"]
        assert total["content_hashes_queued_twice"] == 0
        # Runs 2 and 3 see run 1's items again: the history carried over.
        assert all(run["history_keys_loaded"] > 0 for run in modes[mode]["runs"][1:])


def test_queued_messages_are_valid_v1_with_the_same_fields_in_both_modes(
    shipped: ShippedReplay,
) -> None:
    fields = {}
    for mode in MODES:
        messages = shipped.queued[mode]
        assert len(messages) == shipped.result["modes"][mode]["total"]["items_queued"]
        for message in messages:
            message = {k: v for k, v in message.items() if k != "_raw"}
            validate_message(message)
            assert message["mode"] == mode
        fields[mode] = {frozenset(k for k in m if k != "_raw") for m in messages}
        assert len(fields[mode]) == 1, f"{mode}: messages differ in their fields"
    assert fields["batch"] == fields["streaming"]


def test_collection_blob_holds_exactly_the_queued_items(shipped: ShippedReplay) -> None:
    layouts = {}
    for mode in MODES:
        runs = shipped.result["modes"][mode]["runs"]
        by_run = Counter()
        for run, lines in zip(runs, shipped.blobs[mode], strict=True):
            blob = run["collection_blob"]
            assert COLLECTION_BLOB_RE.fullmatch(blob), blob
            day = run["started_at"][:10].replace("-", "/")
            assert blob.startswith(f"collections/{day}/") and run["collection_id"] in blob
            assert len(lines) == run["items_queued"]
            assert Counter(line["content_hash"] for line in lines) == Counter(
                m["content_hash"] for m in run["messages"]
            )
            for line in lines:
                assert set(line) == ITEM_FIELDS
                assert ContentItem.from_dict(line).to_dict() == line
            by_run[run["collection_id"]] = len(lines)
        # Every message points at its own run's blob.
        for message in shipped.queued[mode]:
            run = next(r for r in runs if r["collection_id"] == message["collection_id"])
            assert message["collection_blob"] == run["collection_blob"]
        layouts[mode] = {frozenset(line) for lines in shipped.blobs[mode] for line in lines}
    assert layouts["batch"] == layouts["streaming"] == {frozenset(ITEM_FIELDS)}
    # Same items in the same blobs, whichever mode wrote them.
    for run_b, run_s in zip(*(shipped.blobs[m] for m in MODES), strict=True):
        assert {line["content_hash"] for line in run_b} == {line["content_hash"] for line in run_s}


# -- 3: no item lost on a crash -----------------------------------------------------------------
def crash_after(sends: int) -> tuple[list[int], Rule]:
    """A rule that lets ``sends`` queue sends through, then refuses every connection (the
    storage went away); and the list counting the sends attempted."""
    attempts = [0]

    def rule(method: str, url: str, headers: dict[str, str]) -> Fault | None:
        if not is_queue_send(method, url):
            return None
        attempts[0] += 1
        return REFUSED if attempts[0] > sends else None

    return attempts, rule


@pytest.mark.parametrize("mode", MODES)
async def test_no_item_lost_when_sending_crashes(
    mode: str, connection_string: str, unique_name: str
) -> None:
    recording = Recording.open(SHIPPED)
    run = recording.run(0)
    retry_at = run.started_at + timedelta(minutes=10)  # the next attempt, a little later
    attempts, rule = crash_after(150)
    async with (
        StorageAccount(connection_string) as account,
        fault_server() as server,
        QueueServiceClient.from_connection_string(
            connection_string, transport=FaultyTransport(rule, server), retry_total=1,
            initial_backoff=0.1,
        ) as service,
        fresh(account, f"{unique_name}-ref") as (ref_queue, ref_store),
        fresh(account, unique_name) as (queue, store),
    ):  # fmt: skip
        reference = await collect_recorded(
            recording, 0, ref_queue, ref_store, HistoryIndex(ref_store), mode
        )
        full = {m.content_hash for m in reference.messages}
        assert len(full) == reference.items_queued > 200

        history = HistoryIndex(store)
        crashing = QueueAdapter(service, unique_name, account.queue_endpoint)
        with pytest.raises(StorageUnavailableError, match="not reachable"):
            await collect_recorded(
                recording, 0, crashing, store, history, mode, collection_id=f"crash-{mode}"
            )
        assert attempts[0] > 150
        sent_before_crash = {m["content_hash"] for m in await drain(queue)}
        assert 0 < len(sent_before_crash) <= 150
        # The invariant behind "no item lost": a key reaches the history only once its item
        # is on the queue, so the retry, which skips what the history holds, misses nothing.
        seen = await history.load(retry_at)
        in_history = {h for h in full if seen.seen([f"hash:{h}"])}
        assert in_history <= sent_before_crash
        if mode == "streaming":
            assert in_history  # blob blocks were flushed (every second of the run) before it
        if mode == "batch":
            assert in_history == set()  # the history is written after the whole burst
            crashed_blob = next(
                b.name for b in await store.list("collections/") if "crash" in b.name
            )
            saved = {line["content_hash"] for line in await store.read_jsonl(crashed_blob)}
            assert saved == full  # saved before the first send

        retry = await collect_recorded(
            recording, 0, account.queue(unique_name), store, history, mode, started_at=retry_at
        )
        sent_on_retry = {m["content_hash"] for m in await drain(queue)}
        assert sent_on_retry == {m.content_hash for m in retry.messages}
        assert not sent_on_retry & in_history  # the history spared those a second send
        missing = full - (sent_before_crash | sent_on_retry)
        assert not missing, f"{len(missing)} items never queued after the crash"


async def test_streaming_blob_failure_loses_no_item_and_records_none_unsaved(
    connection_string: str, unique_name: str
) -> None:
    """The streaming write order (collect.py): send, then append to the collection blob, then
    record in the history. The storage fails the third append to the collection blob (HTTP
    503, not retried): the run stops; every key in the history is of an item on the queue and
    in the blob, the items whose append failed are on the queue but not in the history, and
    the next run sends them again."""
    recording = Recording.open(SHIPPED)
    run = recording.run(0)
    retry_at = run.started_at + timedelta(minutes=10)
    appends = [0]

    def third_append_fails(method: str, url: str, headers: dict[str, str]) -> Fault | None:
        if not (is_append_block(method, url, ".jsonl") and "/collections/" in url):
            return None
        appends[0] += 1
        return server_busy() if appends[0] >= 3 else None

    async with (
        StorageAccount(connection_string) as account,
        fault_server() as server,
        ContainerClient.from_connection_string(
            connection_string, unique_name, transport=FaultyTransport(third_append_fails, server),
            retry_total=0,
        ) as container_client,
        fresh(account, f"{unique_name}-ref") as (ref_queue, ref_store),
        fresh(account, unique_name) as (queue, store),
    ):  # fmt: skip
        reference = await collect_recorded(
            recording, 0, ref_queue, ref_store, HistoryIndex(ref_store), "streaming"
        )
        full = {m.content_hash for m in reference.messages}
        faulty = BlobStore(container_client, unique_name, account.blob_endpoint)
        with pytest.raises(StorageError, match=r"HTTP 503, ServerBusy"):
            await collect_recorded(
                recording, 0, queue, faulty, HistoryIndex(faulty), "streaming",
                collection_id="blob-fails",
            )  # fmt: skip
        assert appends[0] == 3
        queued = {m["content_hash"] for m in await drain(queue)}
        blob = next(b.name for b in await store.list("collections/") if "blob-fails" in b.name)
        saved = {line["content_hash"] for line in await store.read_jsonl(blob)}
        history = HistoryIndex(store)
        seen = await history.load(retry_at)
        recorded = {h for h in full if seen.seen([f"hash:{h}"])}
        assert recorded and recorded <= saved <= queued  # two appends (flushes) went through
        unsaved = queued - saved
        assert unsaved, "the failed append held no item"
        assert not unsaved & recorded  # sent, not in the blob: not recorded as seen

        retry = await collect_recorded(
            recording, 0, queue, store, history, "streaming", started_at=retry_at
        )
        sent_on_retry = {m.content_hash for m in retry.messages}
        assert unsaved <= sent_on_retry and not sent_on_retry & recorded
        assert full == queued | sent_on_retry  # nothing lost


# -- 4: per-source mode (phased rollout) ---------------------------------------------------------
async def test_per_source_mode_tags_each_message_with_its_source_mode(
    connection_string: str, unique_name: str
) -> None:
    from pipeline.har import load_har

    entries = [e for har in ("reddit.har", "mastodon.har", "feeds.har")
               for e in load_har(HAR_FIXTURES / har)]  # fmt: skip
    srcs = sources(
        {"name": "reddit-python", "type": "reddit", "subreddit": "Python", "limit": 5,
         "pages": 2, "mode": "batch"},
        {"name": "fosstodon-python", "type": "mastodon", "instance": "https://fosstodon.org",
         "timeline": "tag:python", "limit": 4, "pages": 2},
        {"name": "rss-example", "type": "rss", "url": "https://rss.example/feed.xml"},
        {"name": "atom-example", "type": "rss", "url": "https://atom.example/atom.xml"},
    )  # fmt: skip
    expected_mode = {"reddit-python": "batch", "fosstodon-python": "streaming",
                     "rss-example": "streaming", "atom-example": "streaming"}  # fmt: skip
    async with StorageAccount(connection_string) as account:
        async with fresh(account, unique_name) as (queue, store):
            metrics = await collect(entries, srcs, queue, store, speed=20)
            messages = await drain(queue)
    assert metrics.mode == "mixed"
    assert {n: s["mode"] for n, s in metrics.per_source.items()} == expected_mode
    assert all(s["items_queued"] > 0 for s in metrics.per_source.values()), metrics.per_source
    assert len(messages) == metrics.items_queued
    for message in messages:
        validate_message({k: v for k, v in message.items() if k != "_raw"})
        assert message["mode"] == expected_mode[message["source_name"]], message["source_name"]
    for record in metrics.messages:
        assert record.mode == expected_mode[record.source_name]
    # The batch source's burst comes after its collection; streaming sources did not wait.
    first = {r.mode: r.enqueued_at for r in reversed(metrics.messages)}
    assert first["streaming"] < first["batch"]


# -- 5: rate limit ---------------------------------------------------------------------------
async def test_rate_limit_spaces_streaming_sends(connection_string: str, unique_name: str) -> None:
    count, rate = 40, 20.0
    entries = [har_entry("https://flood.example/rss", rss_feed("flood.example", feed_items(
        "flood.example", count)))]  # fmt: skip
    srcs = sources({"name": "flood", "type": "rss", "url": "https://flood.example/rss"})
    options = CollectorOptions(mode_override="streaming", rate_limit_items_per_s=rate)
    async with StorageAccount(connection_string) as account:
        async with fresh(account, unique_name) as (queue, store):
            metrics = await collect(entries, srcs, queue, store, speed=1, options=options)
    times = sorted(r.enqueued_at for r in metrics.messages)
    assert len(times) == count
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    # Sends start on evenly spaced slots; enqueued_at is taken when a send completes, and a
    # send's wall time varies by tens of ms on a loaded machine (55 ms seen on a fresh clone
    # under load): each time may be late by up to one slow send, but the times never bunch up
    # more than that allows.
    jitter = 0.1
    for i, j in itertools.combinations(range(count), 2):
        assert times[j] - times[i] >= (j - i) / rate - jitter, (i, j, times[i], times[j])
    assert statistics.median(gaps) == pytest.approx(1 / rate, abs=0.005), gaps
    assert times[-1] - times[0] >= (count - 1) / rate * 0.95


class _SleepTally(Clock):
    """A replay clock that adds up the recording seconds every sleep asked for."""

    def __init__(self, speed: float) -> None:
        super().__init__(speed)
        self.slept = 0.0

    async def sleep(self, seconds: float) -> None:
        self.slept += max(seconds, 0.0)
        await super().sleep(seconds)


async def test_rate_limit_waits_once_per_slot_at_any_replay_speed(
    connection_string: str, unique_name: str
) -> None:
    """The senders wait for the slots ahead of them, not again from each item's parse time: the
    sleeps add up to the recorded latency plus one interval per item (a limiter that waits from
    the item's stamp sleeps the queue of slots again for every item, ~count/2 intervals each)."""
    count, rate, latency_s = 60, 10.0, 0.5
    entries = [har_entry("https://flood.example/rss", rss_feed("flood.example", feed_items(
        "flood.example", count)), time_ms=latency_s * 1000)]  # fmt: skip
    srcs = sources({"name": "flood", "type": "rss", "url": "https://flood.example/rss"})
    options = CollectorOptions(mode_override="streaming", rate_limit_items_per_s=rate)
    clock = _SleepTally(speed=100)
    async with StorageAccount(connection_string) as account:
        async with fresh(account, unique_name) as (queue, store):
            metrics = await collect(entries, srcs, queue, store, options=options, clock=clock)
    assert metrics.items_queued == count
    # Slots from the first item on: (count - 1) intervals after it, plus the latency before.
    assert clock.slept <= latency_s + count / rate + 1.0, clock.slept
    assert metrics.time_to_last_item_queued_seconds >= latency_s + (count - 1) / rate * 0.95


async def test_a_run_deletes_history_and_collections_past_the_retention(
    connection_string: str, unique_name: str, caplog: pytest.LogCaptureFixture
) -> None:
    """TTL cleanup is part of a run: after its own writes, the history buckets and collection
    blobs older than the retention (7 days before the run's start) go; newer ones stay."""
    caplog.set_level(logging.INFO, logger="pipeline.collect")
    entries = [har_entry("https://ttl.example/rss", rss_feed("ttl.example", feed_items(
        "ttl.example", 3)))]  # fmt: skip
    srcs = sources({"name": "ttl", "type": "rss", "url": "https://ttl.example/rss"})
    async with StorageAccount(connection_string) as account:
        async with fresh(account, unique_name) as (queue, store):
            history = HistoryIndex(store)
            old, kept = START - timedelta(days=7, hours=2), START - timedelta(days=6)
            await history.record([(["old-key"], old), (["kept-key"], kept)])
            old_blob = collection_blob_name("old-run", old.isoformat())
            kept_blob = collection_blob_name("kept-run", kept.isoformat())
            for blob in (old_blob, kept_blob):
                await store.append_jsonl(blob, [{"n": 1}])
            metrics = await collect(entries, srcs, queue, store, history=history)
            names = {b.name for b in await store.list()}
    assert metrics.items_queued == 3
    assert history.bucket_name(old) not in names and old_blob not in names
    assert history.bucket_name(kept) in names and kept_blob in names
    assert metrics.collection_blob in names and history.bucket_name(START) in names
    assert "history_cleanup" in caplog.text and "blobs_deleted=2" in caplog.text


# -- 6: claim check --------------------------------------------------------------------------
@pytest.mark.parametrize("mode", MODES)
async def test_huge_item_goes_through_a_claim_check(
    mode: str, connection_string: str, unique_name: str
) -> None:
    rng = random.Random(6)
    words = ["queue", "stream", "batch", "azure", "blob", "keda", "python", "collector"]
    huge = " ".join(rng.choice(words) for _ in range(12_000))
    assert len(huge) > 60_000
    feed = rss_feed("big.example", [("A very long article about claim checks", huge),
                                    ("A short article next to it", "Short body.")])  # fmt: skip
    entries = [har_entry("https://big.example/rss", feed)]
    srcs = sources({"name": "big", "type": "rss", "url": "https://big.example/rss"})
    async with StorageAccount(connection_string) as account:
        async with fresh(account, unique_name) as (queue, store):
            metrics = await collect(
                entries, srcs, queue, store, options=CollectorOptions(mode_override=mode)
            )
            messages = await drain(queue)
            big = next(m for m in messages if m["title"].startswith("A very long"))
            container, _, blob = big["claim_check"].partition("/")
            assert container == store.name
            claimed, _ = await store.read_json(blob)
            [collected] = [line for line in await store.read_jsonl(metrics.collection_blob)
                           if line["content_hash"] == big["content_hash"]]  # fmt: skip
    assert metrics.claim_checks == 1 and len(messages) == 2
    raw = big.pop("_raw")
    validate_message(big)
    assert len(raw) < MAX_MESSAGE_BYTES
    assert QueueAdapter.encoded_size(json.dumps(big, separators=(",", ":"))) < MAX_MESSAGE_BYTES
    assert big["body_truncated"] is True and huge.startswith(big["body"])
    assert len(big["body"]) < len(huge)
    assert claimed == collected  # the whole item, as in the collection blob
    assert claimed["body"] == huge and claimed["content_hash"] == big["content_hash"]
    small = next(m for m in messages if m is not big)
    assert small["claim_check"] is None and small["body_truncated"] is False


# -- 7: progress logs ---------------------------------------------------------------------------
async def test_progress_lines_carry_the_collection_id(
    connection_string: str, unique_name: str, caplog: pytest.LogCaptureFixture
) -> None:
    entries = [
        har_entry("https://a.example/rss", rss_feed("a.example", feed_items("a.example", 15))),
        har_entry("https://b.example/rss", rss_feed("b.example", feed_items("b.example", 12))),
    ]
    srcs = sources(
        {"name": "a", "type": "rss", "url": "https://a.example/rss"},
        {"name": "b", "type": "rss", "url": "https://b.example/rss"},
    )
    caplog.set_level(logging.INFO, logger="pipeline.collect")
    async with StorageAccount(connection_string) as account:
        async with fresh(account, unique_name) as (queue, store):
            metrics = await collect(
                entries, srcs, queue, store, options=CollectorOptions(progress_every=10)
            )
    assert metrics.items_collected == 27
    progress = [r.getMessage() for r in caplog.records if r.getMessage().startswith("progress ")]
    assert all(f"progress collection_id={metrics.collection_id} " in line for line in progress)
    collected = [int(re.search(r"collected=(\d+)", line).group(1)) for line in progress]
    assert {10, 20} <= set(collected) and collected[-1] == 27, progress


# -- 8: a failing source does not stop the others ---------------------------------------------
@pytest.mark.parametrize("mode", MODES)
async def test_failing_sources_do_not_stop_the_others(
    mode: str, connection_string: str, unique_name: str
) -> None:
    entries = [
        har_entry("https://ok.example/rss", rss_feed("ok.example", feed_items("ok.example", 5))),
        har_entry("https://down.example/rss", "oops", status=500, mime="text/plain"),
        har_entry("https://down.example/rss", "oops", status=500, mime="text/plain",
                  started="2024-05-14T06:00:01.000Z"),
        har_entry("https://slow.example/rss", rss_feed("slow.example", feed_items(
            "slow.example", 3)), time_ms=5000),
        har_entry("https://www.reddit.com/r/fine/new.json?limit=4&raw_json=1",
                  reddit_listing("fine", ["f1", "f2", "f3"], None), mime="application/json"),
    ]  # fmt: skip
    srcs = sources(
        {"name": "ok", "type": "rss", "url": "https://ok.example/rss"},
        {"name": "down", "type": "rss", "url": "https://down.example/rss", "max_attempts": 2,
         "backoff_base_s": 0.5},
        {"name": "slow", "type": "rss", "url": "https://slow.example/rss", "timeout_s": 1,
         "max_attempts": 1},
        {"name": "fine", "type": "reddit", "subreddit": "fine", "limit": 4},
    )  # fmt: skip
    async with StorageAccount(connection_string) as account:
        async with fresh(account, unique_name) as (queue, store):
            metrics = await collect(
                entries, srcs, queue, store, options=CollectorOptions(mode_override=mode)
            )
            messages = await drain(queue)
    assert metrics.errors == {"down": {"http_status": 1}, "slow": {"timeout": 1}}
    queued = {n: s["items_queued"] for n, s in metrics.per_source.items()}
    assert queued == {"ok": 5, "down": 0, "slow": 0, "fine": 3}
    assert Counter(m["source_name"] for m in messages) == {"ok": 5, "fine": 3}
    assert metrics.per_source["down"]["collector"]["status_codes"] == {"500": 2}


# -- 9: the same times at any replay speed ---------------------------------------------------
def small_recording() -> tuple[list[dict[str, Any]], tuple[SourceConfig, ...]]:
    """Three sources, 10 items; recorded latencies of 1-1.5 s and a 2 s politeness interval."""
    listing = "https://www.reddit.com/r/slow/new.json"
    entries = [
        har_entry(f"{listing}?limit=3&raw_json=1",
                  reddit_listing("slow", ["r1", "r2", "r3"], "t3_r3"),
                  mime="application/json", time_ms=1000),
        har_entry(f"{listing}?after=t3_r3&limit=3&raw_json=1",
                  reddit_listing("slow", ["r4", "r5"], None),
                  mime="application/json", time_ms=1000, started="2024-05-14T06:00:02.000Z"),
        har_entry("https://feed.example/rss", rss_feed("feed.example", feed_items(
            "feed.example", 3)), time_ms=1500),
        har_entry("https://social.example/api/v1/timelines/tag/demo?limit=2",
                  mastodon_statuses("social.example", ["11", "12"]), mime="application/json",
                  time_ms=1200),
    ]  # fmt: skip
    srcs = sources(
        {"name": "reddit-slow", "type": "reddit", "subreddit": "slow", "limit": 3, "pages": 2,
         "requests_per_minute": 30},
        {"name": "feed", "type": "rss", "url": "https://feed.example/rss"},
        {"name": "social", "type": "mastodon", "instance": "https://social.example",
         "timeline": "tag:demo", "limit": 2},
    )  # fmt: skip
    return entries, srcs


@pytest.mark.parametrize("mode", MODES)
async def test_reported_times_do_not_depend_on_replay_speed(
    mode: str, connection_string: str, unique_name: str
) -> None:
    entries, srcs = small_recording()
    metrics: dict[float, RunMetrics] = {}
    async with StorageAccount(connection_string) as account:
        for speed in (1.0, 20.0):
            async with fresh(account, f"{unique_name}-{int(speed)}") as (queue, store):
                metrics[speed] = await collect(
                    entries, srcs, queue, store, speed=speed,
                    options=CollectorOptions(mode_override=mode),
                )  # fmt: skip
    for m in metrics.values():
        assert m.items_queued == 10 and m.errors == {}
    expected_first = {"streaming": 1.0, "batch": 2.0 + 1.0 + 1.5 + 1.2}[mode]
    for key in ("time_to_first_item_queued_seconds", "time_to_last_item_queued_seconds"):
        slow, fast = (getattr(metrics[s], key) for s in (1.0, 20.0))
        assert abs(slow - fast) <= 0.05 * max(slow, fast), (key, slow, fast)
        assert fast >= expected_first - 1e-6, (key, fast)
    first = metrics[20.0].time_to_first_item_queued_seconds
    assert first == pytest.approx(expected_first, rel=0.05)

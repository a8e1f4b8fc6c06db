"""Batch and streaming collection: sources -> dedup -> queue + collection blob + history.

Both modes take the same inputs (sources, one HTTP client, storage, a clock) and write the same
outputs: v1 queue messages (``pipeline.messages``), one collection blob per run
(``collections/YYYY/MM/DD/HHMMSS-<collection_id>.jsonl``, one ``ContentItem`` per line) and
history entries (``pipeline.history``). The mode is chosen per source (phased rollout): batch
sources are read one after another and sent as a burst at the end, streaming sources are read
concurrently and each new item is sent at once; both groups share the run's dedup set.

No item is lost, whatever the point of a crash. The order of writes is:

* **batch**: collect everything -> save the collection blob -> send every message -> record
  the keys in the history. A crash before the history write leaves the items unmarked, so the
  next run collects and sends them again.
* **streaming**: for each new item, send the queue message -> append the item to the
  collection blob (buffered, a block per flush) -> record its keys in the history (after the
  blob block that holds it). An item's keys reach the history only once its message is on the
  queue and the item is in the blob, so a crash at any point leaves every unsent item unmarked
  and the next run sends it.

What a crash can cause is a duplicate message (sent, not yet in the history); the processor is
idempotent by ``content_hash`` and absorbs it. Only the keys of queued items are recorded: the
keys of a skipped duplicate are not, since its original may still be in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import math
import statistics
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from pipeline._tasks import first_error
from pipeline.clock import Clock
from pipeline.config import SourceConfig
from pipeline.history import HistoryIndex, SeenKeys
from pipeline.items import ContentItem
from pipeline.messages import (
    build_message,
    claim_blob_name,
    collection_blob_name,
    encode_message,
    needs_claim_check,
)
from pipeline.sources import SourceStats, collect_source
from pipeline.storage import BlobStore, QueueAdapter
from pipeline.validators import Validators, load_validators, save_validators

__all__ = [
    "CollectorOptions",
    "MessageRecord",
    "RunMetrics",
    "collect_run",
]

log = logging.getLogger(__name__)

MODES = ("batch", "streaming")


@dataclasses.dataclass(frozen=True)
class CollectorOptions:
    """How a run behaves; every field has the default the report uses."""

    mode_override: str | None = None  # batch | streaming for every source, else per source
    # Messages in flight at once (batch burst and streaming). Sends cost CPU in the SDK
    # (~3 ms each); beyond ~8 in flight throughput stays flat while each send waits longer.
    send_concurrency: int = 8
    outbox_items: int = 10_000  # streaming: new items waiting for a send slot
    rate_limit_items_per_s: float | None = None  # streaming send limit (flood protection)
    progress_every: int = 50  # a progress log line every N items collected
    blob_flush_items: int = 64  # streaming: append to the collection blob every N items...
    blob_flush_interval_s: float = 1.0  # ...or after this many recording seconds

    def __post_init__(self) -> None:
        if self.mode_override not in (None, *MODES):
            raise ValueError(f"mode must be one of {MODES}, got {self.mode_override!r}")
        if self.send_concurrency < 1:
            raise ValueError(f"send_concurrency must be >= 1, got {self.send_concurrency}")
        if self.rate_limit_items_per_s is not None and not self.rate_limit_items_per_s > 0:
            raise ValueError(
                f"rate_limit_items_per_s must be > 0, got {self.rate_limit_items_per_s}"
            )
        if self.progress_every < 1 or self.blob_flush_items < 1 or self.outbox_items < 1:
            raise ValueError("progress_every, blob_flush_items and outbox_items must be >= 1")


@dataclasses.dataclass(frozen=True, slots=True)
class MessageRecord:
    """One message the run put on the queue."""

    message_id: str  # the v1 message's id
    queue_message_id: str
    content_hash: str
    source: str
    source_name: str
    mode: str
    enqueued_at: float  # recording seconds from the start of the run


@dataclasses.dataclass
class RunMetrics:
    """PRODUCT.md section 5, collector side; times in recording seconds from the run's start."""

    mode: str
    collection_id: str
    collection_blob: str
    started_at: str
    time_to_first_item_queued_seconds: float | None
    time_to_last_item_queued_seconds: float | None
    collection_seconds: float
    items_collected: int
    items_queued: int
    duplicates_skipped: int
    deduplication_hit_rate: float
    throughput_items_per_second: float
    peak_enqueue_rate_10s: float
    gap_cv: float | None
    claim_checks: int
    history_keys_loaded: int
    history_load_wall_seconds: float
    per_source: dict[str, dict[str, Any]]
    errors: dict[str, dict[str, int]]
    rejections: dict[str, int]
    messages: list[MessageRecord]
    first_item_limit_seconds: float | None = None

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["messages"] = [dataclasses.asdict(m) for m in self.messages]
        return data


@dataclasses.dataclass(frozen=True, slots=True)
class _Stamp:
    """A point on the run's timeline: a time on a source's schedule plus real work since.

    Recorded waits (latency, politeness, back-off, rate limit) count in recording seconds, as
    the clock plays them; real work done since (storage calls, waiting for a send slot) counts
    in wall seconds, as it would take in production. A replay at speed S then reports the same
    times as at speed 1 instead of multiplying the storage round trips by S.
    """

    schedule_s: float
    wall: float

    @classmethod
    def at(cls, schedule_s: float) -> _Stamp:
        return cls(schedule_s, time.monotonic())

    def now(self) -> float:
        return self.schedule_s + (time.monotonic() - self.wall)


class _RateLimiter:
    """At most ``rate`` sends per recording second, spaced evenly on the run's timeline."""

    def __init__(self, rate: float, clock: Clock) -> None:
        self._interval = 1.0 / rate
        self._clock = clock
        self._next = 0.0

    async def acquire(self, stamp: _Stamp) -> _Stamp:
        """Wait for the next slot; returns the stamp of the moment the send may start."""
        now = stamp.now()
        slot = max(now, self._next)
        self._next = slot + self._interval
        if slot > now:
            await self._clock.sleep(slot - now)
            return _Stamp.at(slot)
        return stamp


class _Run:
    """The state of one collection run; ``collect_run`` is its public face."""

    def __init__(
        self,
        *,
        sources: Sequence[SourceConfig],
        client: httpx.AsyncClient,
        queue: QueueAdapter,
        store: BlobStore,
        history: HistoryIndex,
        clock: Clock,
        started_at: datetime,
        collection_id: str,
        options: CollectorOptions,
    ) -> None:
        self.sources = list(sources)
        self.client = client
        self.queue = queue
        self.store = store
        self.history = history
        self.clock = clock
        self.started_at = started_at
        self.collection_id = collection_id
        self.options = options
        self.blob = collection_blob_name(collection_id, started_at.isoformat())
        self.seen_history = SeenKeys()
        self.seen_run = SeenKeys()
        self.stats = {s.name: SourceStats(name=s.name, type=s.type) for s in self.sources}
        self.validators = Validators()  # conditional requests: read before, written after
        self.collected: Counter[str] = Counter()
        self.duplicates: Counter[str] = Counter()
        self.records: list[MessageRecord] = []
        self.claim_checks = 0
        self.limiter = (
            _RateLimiter(options.rate_limit_items_per_s, clock)
            if options.rate_limit_items_per_s
            else None
        )
        self._pending: list[ContentItem] = []  # streaming: sent, waiting for blob + history
        self._flush_lock = asyncio.Lock()
        self._blob_ready = False
        self._first_sent = asyncio.Event()
        self._flush_now = asyncio.Event()
        self.end_s = 0.0  # the run's last moment on its timeline (see _Stamp)

    def mode_of(self, source: SourceConfig) -> str:
        return self.options.mode_override or source.mode

    def now_utc(self, stamp: _Stamp) -> datetime:
        return self.started_at + timedelta(seconds=stamp.now())

    # -- dedup ---------------------------------------------------------------------------
    def accept(self, item: ContentItem) -> bool:
        """Count the item and say whether it is new (not in the history nor this run)."""
        self.collected[item.source_name] += 1
        total = sum(self.collected.values())
        keys = item.dedup_keys()
        new = not self.seen_history.seen(keys) and not self.seen_run.seen(keys)
        self.seen_run.add(keys)
        if not new:
            self.duplicates[item.source_name] += 1
        if total % self.options.progress_every == 0:
            self.log_progress()
        return new

    def log_progress(self) -> None:
        log.info(
            "progress collection_id=%s collected=%d queued=%d duplicates=%d t=%.2f",
            self.collection_id,
            sum(self.collected.values()),
            len(self.records),
            sum(self.duplicates.values()),
            self.clock.task_time(),
        )

    # -- output --------------------------------------------------------------------------
    async def ensure_blob(self) -> None:
        if not self._blob_ready:
            await self.store.ensure_append_blob(self.blob)
            self._blob_ready = True

    async def send(self, item: ContentItem, mode: str, stamp: _Stamp) -> None:
        if self.limiter is not None:
            stamp = await self.limiter.acquire(stamp)
        message = build_message(
            item, collection_id=self.collection_id, collection_blob=self.blob, mode=mode
        )
        text = encode_message(message)
        if needs_claim_check(text):
            claim = claim_blob_name(self.collection_id, item.content_hash)
            await self.store.write_json(claim, item.to_dict())
            message = build_message(
                item,
                collection_id=self.collection_id,
                collection_blob=self.blob,
                mode=mode,
                message_id=message["id"],
                claim_check=f"{self.store.name}/{claim}",
            )
            text = encode_message(message)
            self.claim_checks += 1
        queue_id = await self.queue.send(text)
        record = MessageRecord(
            message_id=message["id"],
            queue_message_id=queue_id,
            content_hash=item.content_hash,
            source=item.source,
            source_name=item.source_name,
            mode=mode,
            enqueued_at=stamp.now(),
        )
        self.records.append(record)
        self._first_sent.set()
        if len(self.records) == 1:
            log.info(
                "first_item_queued collection_id=%s source=%s t=%.3f",
                self.collection_id,
                item.source_name,
                record.enqueued_at,
            )

    async def send_all(self, items: Sequence[ContentItem], mode: str, stamp: _Stamp) -> None:
        """Send with at most ``send_concurrency`` in flight."""
        semaphore = asyncio.Semaphore(self.options.send_concurrency)

        async def one(item: ContentItem) -> None:
            async with semaphore:
                await self.send(item, mode, stamp)

        # A task group, so that one failed send cancels the others instead of orphaning them.
        async with asyncio.TaskGroup() as group:
            for item in items:
                group.create_task(one(item))

    async def flush(self) -> None:
        """Streaming: append the sent items to the blob, then record their keys."""
        async with self._flush_lock:
            items, self._pending = self._pending, []
            if not items:
                return
            await self.ensure_blob()
            await self.store.append_jsonl(self.blob, [i.to_dict() for i in items])
            await self.history.record([(i.dedup_keys(), i.collected_at) for i in items])

    # -- the two groups ------------------------------------------------------------------
    async def read_source(self, source: SourceConfig) -> Any:
        """The source's items, each with the stamp of when it was parsed (its schedule time)."""
        async with contextlib.aclosing(
            collect_source(
                self.client, source, self.clock, self.stats[source.name], self.validators
            )
        ) as items:
            async for item in items:
                stamp = _Stamp.at(self.clock.task_time())
                self.note_end(stamp.schedule_s)
                yield dataclasses.replace(item, collected_at=self.now_utc(stamp)), stamp

    def note_end(self, t: float) -> None:
        self.end_s = max(self.end_s, t)

    async def run_batch_group(self, sources: Sequence[SourceConfig]) -> None:
        if not sources:
            return
        collected: list[ContentItem] = []
        for source in sources:
            async for item, _ in self.read_source(source):
                collected.append(item)
        done = _Stamp.at(self.clock.task_time())  # every source read, one after another
        self.note_end(done.schedule_s)
        new_items = [item for item in collected if self.accept(item)]
        if new_items:
            await self.ensure_blob()
            await self.store.append_jsonl(self.blob, [i.to_dict() for i in new_items])
            await self.send_all(new_items, "batch", done)
            await self.history.record([(i.dedup_keys(), i.collected_at) for i in new_items])
        self.note_end(done.now())

    async def run_streaming_source(self, source: SourceConfig, outbox: asyncio.Queue[Any]) -> None:
        async for item, stamp in self.read_source(source):
            if self.accept(item):
                await outbox.put((item, stamp))
        self.note_end(self.clock.task_time())

    async def sender(self, outbox: asyncio.Queue[Any], first: bool) -> None:
        if not first:
            # Slow start: the other senders join once the first message is on the queue, so the
            # run's first item does not share the loop with a burst of sends (the design's
            # headline metric), and a broken queue fails on one message, not on a burst.
            await self._first_sent.wait()
        while True:
            entry = await outbox.get()
            try:
                if entry is None:
                    return
                item, stamp = entry
                await self.send(item, "streaming", stamp)
                self._pending.append(item)
                if len(self._pending) >= self.options.blob_flush_items:
                    self._flush_now.set()  # the flusher writes; this sender goes on sending
            finally:
                outbox.task_done()

    async def flusher(self, stop: asyncio.Event) -> None:
        """Flush every ``blob_flush_interval_s`` until ``stop``; never cancelled mid-flush, so
        no sent item misses its blob line or history entry."""
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._flush_now.wait(), self.clock.wall(self.options.blob_flush_interval_s)
                )
            self._flush_now.clear()
            await self.flush()

    async def run(self) -> None:
        batch = [s for s in self.sources if self.mode_of(s) == "batch"]
        streaming = [s for s in self.sources if self.mode_of(s) == "streaming"]
        # Sized for a flood, not for the steady state: a source blocked on a full outbox stops
        # reading, which is the back-pressure wanted only when sends cannot keep up at all.
        outbox: asyncio.Queue[Any] = asyncio.Queue(maxsize=self.options.outbox_items)
        try:
            # A failing task (e.g. storage down) cancels the others instead of leaving
            # producers blocked on a full outbox.
            async with asyncio.TaskGroup() as group:
                senders = [
                    group.create_task(self.sender(outbox, first=i == 0))
                    for i in range(self.options.send_concurrency if streaming else 0)
                ]
                stop_flusher = asyncio.Event()
                if streaming:
                    group.create_task(self.flusher(stop_flusher))
                await asyncio.gather(
                    self.run_batch_group(batch),
                    *(self.run_streaming_source(s, outbox) for s in streaming),
                )
                if outbox.empty():  # nothing new at all (duplicates, 304s): no first send comes
                    self._first_sent.set()
                for _ in senders:
                    await outbox.put(None)
                await asyncio.gather(*senders)
                stop_flusher.set()
                self._flush_now.set()
        except BaseExceptionGroup as group_error:
            raise first_error(group_error) from None
        await self.flush()


async def collect_run(
    *,
    sources: Sequence[SourceConfig],
    client: httpx.AsyncClient,
    queue: QueueAdapter,
    store: BlobStore,
    history: HistoryIndex,
    clock: Clock,
    started_at: datetime | None = None,
    collection_id: str | None = None,
    options: CollectorOptions | None = None,
) -> RunMetrics:
    """Run one collection and return its metrics.

    The history of the lookback window is loaded first; the run's clock starts (``t = 0``)
    once it is loaded, when the first request goes out. ``started_at`` is the run's time in
    UTC (a replay passes the recorded start), used for the history window and blob names.
    """
    options = options or CollectorOptions()
    started = (started_at or datetime.now(UTC)).astimezone(UTC)
    run = _Run(
        sources=sources,
        client=client,
        queue=queue,
        store=store,
        history=history,
        clock=clock,
        started_at=started,
        collection_id=collection_id or f"{started:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}",
        options=options,
    )
    # Preparation, before the run's clock starts: load the history window, check that the
    # queue answers (a dead queue fails here, before any source is read) and create the
    # collection blob, so the first item pays for none of these.
    wall_start = asyncio.get_running_loop().time()
    run.seen_history, _, _, run.validators = await asyncio.gather(
        history.load(started), queue.approximate_count(), run.ensure_blob(), load_validators(store)
    )
    history_wall = asyncio.get_running_loop().time() - wall_start
    modes = Counter(run.mode_of(s) for s in sources)
    log.info(
        "collection_start collection_id=%s sources=%d modes=%s history_keys=%d",
        run.collection_id,
        len(sources),
        dict(modes),
        len(run.seen_history),
    )
    clock.reset()
    await run.run()
    elapsed = max([run.end_s, *(r.enqueued_at for r in run.records)])
    run.log_progress()
    await save_validators(store, run.validators)  # only after everything was queued and stored
    # TTL cleanup (the design's risk of history growing without bound), after the run's own
    # writes so that it never competes with them.
    removed = await history.cleanup(started)
    removed += await history.cleanup_collections(started, store=store)
    if removed:
        log.info("history_cleanup collection_id=%s blobs_deleted=%d", run.collection_id, removed)
    metrics = _metrics(run, elapsed, history_wall)
    log.info(
        "collection_end collection_id=%s queued=%d duplicates=%d first_item_s=%s elapsed_s=%.2f",
        run.collection_id,
        metrics.items_queued,
        metrics.duplicates_skipped,
        metrics.time_to_first_item_queued_seconds,
        elapsed,
    )
    return metrics


def arrival_shape(times: Sequence[float], window_s: float = 10.0) -> tuple[float, float | None]:
    """(peak enqueue rate over any ``window_s`` window in items/s, CV of the gaps)."""
    ordered = sorted(times)
    peak = 0
    start = 0
    for end, t in enumerate(ordered):
        while t - ordered[start] > window_s:
            start += 1
        peak = max(peak, end - start + 1)
    gaps = [b - a for a, b in zip(ordered, ordered[1:], strict=False)]
    cv = None
    if len(gaps) >= 2:
        mean = statistics.fmean(gaps)
        cv = statistics.pstdev(gaps) / mean if mean > 0 else math.inf
    return peak / window_s, cv


def _metrics(run: _Run, elapsed: float, history_wall: float) -> RunMetrics:
    times = [r.enqueued_at for r in run.records]
    first = min(times) if times else None
    last = max(times) if times else None
    collected = sum(run.collected.values())
    dups = sum(run.duplicates.values())
    peak, cv = arrival_shape(times)
    per_source: dict[str, dict[str, Any]] = {}
    queued_by_source = Counter(r.source_name for r in run.records)
    for name, stats in run.stats.items():
        source_times = [r.enqueued_at for r in run.records if r.source_name == name]
        source_last = max(source_times) if source_times else None
        per_source[name] = {
            "type": stats.type,
            "mode": next(run.mode_of(s) for s in run.sources if s.name == name),
            "items_collected": run.collected[name],
            "items_queued": queued_by_source[name],
            "duplicates_skipped": run.duplicates[name],
            "time_to_first_item_queued_seconds": min(source_times) if source_times else None,
            "throughput_items_per_second": (
                queued_by_source[name] / source_last if source_last else 0.0
            ),
            "collector": stats.to_dict(),
        }
    errors = {name: dict(s.errors) for name, s in run.stats.items() if s.errors}
    rejections: Counter[str] = Counter()
    for s in run.stats.values():
        rejections.update(s.rejections)
    return RunMetrics(
        mode=_run_mode(run),
        collection_id=run.collection_id,
        collection_blob=run.blob,
        started_at=run.started_at.isoformat(),
        time_to_first_item_queued_seconds=first,
        time_to_last_item_queued_seconds=last,
        collection_seconds=elapsed,
        items_collected=collected,
        items_queued=len(run.records),
        duplicates_skipped=dups,
        deduplication_hit_rate=dups / collected if collected else 0.0,
        throughput_items_per_second=len(times) / last if last else 0.0,
        peak_enqueue_rate_10s=peak,
        gap_cv=cv,
        claim_checks=run.claim_checks,
        history_keys_loaded=len(run.seen_history),
        history_load_wall_seconds=history_wall,
        per_source=per_source,
        errors=errors,
        rejections=dict(rejections),
        messages=sorted(run.records, key=lambda r: r.enqueued_at),
    )


def _run_mode(run: _Run) -> str:
    modes = {run.mode_of(s) for s in run.sources}
    return modes.pop() if len(modes) == 1 else "mixed"

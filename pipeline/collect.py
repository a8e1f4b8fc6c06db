"""Batch and streaming collection: sources -> dedup -> queue + collection blob + history.

Both modes take the same inputs (sources, one HTTP client, storage, a clock) and write the same
outputs: v1 queue messages (``pipeline.messages``), one collection blob per run
(``collections/YYYY/MM/DD/HHMMSS-<collection_id>.jsonl``, one ``ContentItem`` per line) and
history entries (``pipeline.history``). The mode is chosen per source (phased rollout): batch
sources are read one after another and sent as a burst at the end, streaming sources are read
concurrently and each new item is sent at once; both groups share the run's dedup set.
``collect_run(RunInputs(...))`` runs one collection and returns its ``RunMetrics``
(``pipeline.metrics``).

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
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from pipeline._tasks import first_error
from pipeline.clock import Clock
from pipeline.config import SourceConfig
from pipeline.history import HistoryIndex, SeenKeys, first_seen_index
from pipeline.items import ContentItem, key_kind
from pipeline.messages import (
    build_message,
    claim_blob_name,
    collection_blob_name,
    collection_line,
    encode_collection_line,
    encode_item,
    encode_message,
    item_line,
    item_message,
    line_needs_claim_check,
    message_frame,
    needs_claim_check,
    new_message_id,
)
from pipeline.metrics import MessageRecord, RunMetrics, RunTally
from pipeline.sources import ParseGate, SourceStats, collect_source
from pipeline.storage import BlobStore, QueueAdapter
from pipeline.validators import Validators, load_validators, save_validators

__all__ = ["CollectorOptions", "RunInputs", "collect_run"]

log = logging.getLogger(__name__)

MODES = ("batch", "streaming")
_YIELD_EVERY_ITEMS = 32  # streaming: a source lets the senders run after queuing this many
# While an early message is in flight, the interpreter's thread switch interval (5 ms by
# default): a feed parse already running in the parser thread when the first item turns up
# cannot be stopped, and the event loop would wait up to the whole interval for the GIL after
# each of the send's system calls (measured: a 3-5 ms send taking 9-27 ms).
_EARLY_SWITCH_INTERVAL_S = 0.0005


class _QuickGilHandoff:
    """Lowers the process's switch interval while at least one early send is in flight (any
    run, any thread) and restores the previous value after the last one."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._active = 0
        self._saved = 0.0

    @contextlib.contextmanager
    def __call__(self) -> Iterator[None]:
        with self._lock:
            if not self._active:
                self._saved = sys.getswitchinterval()
                sys.setswitchinterval(min(self._saved, _EARLY_SWITCH_INTERVAL_S))
            self._active += 1
        try:
            yield
        finally:
            with self._lock:
                self._active -= 1
                if not self._active:
                    sys.setswitchinterval(self._saved)


_quick_gil_handoff = _QuickGilHandoff()


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
    # Streaming: append the sent items to the collection blob (and their keys to the history)
    # every N items or after this many recording seconds, whichever comes first. Two storage
    # writes a flush: at flood rates the interval sets the pace, so the blob and the history
    # cost the queue a few writes a second, not two per handful of messages.
    blob_flush_items: int = 1_000
    blob_flush_interval_s: float = 1.0

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


@dataclasses.dataclass(frozen=True)
class RunInputs:
    """What one collection run reads and writes, and how it behaves: ``collect_run``'s input.

    ``started_at`` is the run's time in UTC (a replay passes the recorded start; default: now),
    used for the history window and blob names. ``collection_id`` defaults to the start time
    and 8 random hex digits.
    """

    sources: Sequence[SourceConfig]
    client: httpx.AsyncClient
    queue: QueueAdapter
    store: BlobStore
    history: HistoryIndex
    clock: Clock
    started_at: datetime | None = None
    collection_id: str | None = None
    options: CollectorOptions = dataclasses.field(default_factory=CollectorOptions)


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
    """At most ``rate`` sends per recording second, spaced evenly on the run's timeline.

    Senders take slots one at a time, each waiting from the slot granted before it: an item
    parsed long ago (its stamp far behind on the timeline) waits only for the slots still
    ahead. Waiting from its own stamp instead would sleep the whole queue of slots again for
    every item, which a fast replay clock turns into minutes of wall time.
    """

    def __init__(self, rate: float, clock: Clock) -> None:
        self._interval = 1.0 / rate
        self._clock = clock
        self._next = 0.0
        self._last: _Stamp | None = None  # the last slot granted
        self._lock = asyncio.Lock()

    async def acquire(self, stamp: _Stamp) -> _Stamp:
        """Wait for the next slot; returns the stamp of the moment the send may start."""
        async with self._lock:
            now = stamp.now() if self._last is None else max(stamp.now(), self._last.now())
            slot = max(now, self._next)
            self._next = slot + self._interval
            if slot > now:
                await self._clock.sleep(slot - now)
            self._last = _Stamp.at(slot)
            return self._last


class _Run:
    """The state of one collection run; ``collect_run`` is its public face."""

    def __init__(self, inputs: RunInputs) -> None:
        self.inputs = inputs
        started = (inputs.started_at or datetime.now(UTC)).astimezone(UTC)
        self.started_at = started
        self.collection_id = (
            inputs.collection_id or f"{started:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
        )
        self.blob = collection_blob_name(self.collection_id, started.isoformat())
        self._frames = {  # what every message of the run adds to its item, encoded once
            mode: message_frame(
                collection_id=self.collection_id, collection_blob=self.blob, mode=mode
            )
            for mode in MODES
        }
        self.seen_history = SeenKeys()
        self.seen_run = SeenKeys()
        self.validators = Validators()  # conditional requests: read before, written after
        modes: dict[str, str] = {}
        for source in inputs.sources:
            modes.setdefault(source.name, self.mode_of(source))
        self.tally = RunTally(
            modes=modes,
            stats={s.name: SourceStats(name=s.name, type=s.type) for s in inputs.sources},
        )
        rate = inputs.options.rate_limit_items_per_s
        self.limiter = _RateLimiter(rate, inputs.clock) if rate else None
        # Streaming: sent, waiting for the blob and the history (its blob line, the item).
        self._pending: list[tuple[bytes, ContentItem]] = []
        self._collected = 0  # items collected so far, all sources
        self._claims: dict[str, str] = {}  # content hash -> claim check written this run
        self._flush_lock = asyncio.Lock()
        self._blob_ready = False
        self._first_sent = asyncio.Event()
        # Streaming: the earliest schedule time of an item sent by ``send_early``. The sources
        # hold their parsing (CPU work on the loop or in the parser thread) while ``parse_gate``
        # is closed by an early send, and the senders and the flusher hold their next request
        # while it is closed or a parse may still bring out an earlier item (``quiet``).
        self._earliest_s = math.inf
        self.parse_gate = ParseGate()
        self._flush_now = asyncio.Event()
        self.end_s = 0.0  # the run's last moment on its timeline (see _Stamp)

    def mode_of(self, source: SourceConfig) -> str:
        return self.inputs.options.mode_override or source.mode

    def now_utc(self, stamp: _Stamp) -> datetime:
        return self.started_at + timedelta(seconds=stamp.now())

    # -- dedup ---------------------------------------------------------------------------
    def accept(self, item: ContentItem) -> bool:
        """Count the item and say whether it is new (not in the history nor this run)."""
        self.tally.collected[item.source_name] += 1
        self._collected += 1
        digests = item.key_digests()
        matched = first_seen_index(digests, self.seen_history, self.seen_run)
        self.seen_run.add_digests(digests)
        if matched is not None:
            self.tally.count_duplicate(item.source_name, key_kind(item.dedup_keys()[matched]))
        if self._collected % self.inputs.options.progress_every == 0:
            self.log_progress()
        return matched is None

    def log_progress(self) -> None:
        log.info(
            "progress collection_id=%s collected=%d queued=%d duplicates=%d t=%.2f",
            self.collection_id,
            sum(self.tally.collected.values()),
            len(self.tally.records),
            sum(self.tally.duplicates.values()),
            self.inputs.clock.task_time(),
        )

    # -- output --------------------------------------------------------------------------
    async def ensure_blob(self) -> None:
        if not self._blob_ready:
            await self.inputs.store.ensure_append_blob(self.blob)
            self._blob_ready = True

    async def send(self, item: ContentItem, mode: str, stamp: _Stamp, item_json: str) -> None:
        """Send the item's message; ``item_json`` is ``encode_item(item)`` (the item's fields
        are encoded once for the message and the blob line)."""
        if self.limiter is not None:
            stamp = await self.limiter.acquire(stamp)
        message_id = new_message_id()
        text = item_message(item_json, message_id, self._frames[mode])
        if needs_claim_check(text):
            message = build_message(
                item,
                collection_id=self.collection_id,
                collection_blob=self.blob,
                mode=mode,
                message_id=message_id,
                claim_check=await self.claim(item),
            )
            text = encode_message(message)
            self.tally.claim_checks += 1
        queue_id = await self.inputs.queue.send(text)
        record = MessageRecord(
            item_id=message_id,
            queue_message_id=queue_id,
            content_hash=item.content_hash,
            processing_key=item.processing_key(),
            source=item.source,
            source_name=item.source_name,
            mode=mode,
            enqueued_at=stamp.now(),
        )
        self.tally.records.append(record)
        self._first_sent.set()
        if len(self.tally.records) == 1:
            log.info(
                "first_item_queued collection_id=%s source=%s t=%.3f",
                self.collection_id,
                item.source_name,
                record.enqueued_at,
            )

    async def claim(self, item: ContentItem) -> str:
        """The item's claim check (``<container>/claims/...``: the whole item), written once
        per run and shared by its message and its collection-blob line."""
        ref = self._claims.get(item.content_hash)
        if ref is None:
            claim = claim_blob_name(self.collection_id, item.content_hash)
            await self.inputs.store.write_json(claim, item.to_dict())
            ref = self._claims[item.content_hash] = f"{self.inputs.store.name}/{claim}"
        return ref

    async def blob_line(self, item: ContentItem, item_json: str) -> bytes:
        """The item's collection-blob line from ``item_json`` (``encode_item(item)``); an item
        over the append-block limit is claim-checked, so that one huge item does not fail the
        append of the whole run."""
        line = item_line(item_json)
        if line_needs_claim_check(line):
            line = encode_collection_line(collection_line(item, await self.claim(item)))
        return line

    async def send_all(
        self, items: Sequence[tuple[ContentItem, str]], mode: str, stamp: _Stamp
    ) -> None:
        """Send ``(item, encode_item(item))`` pairs with at most ``send_concurrency`` in
        flight."""
        semaphore = asyncio.Semaphore(self.inputs.options.send_concurrency)

        async def one(item: ContentItem, item_json: str) -> None:
            async with semaphore:
                await self.send(item, mode, stamp, item_json)

        # A task group, so that one failed send cancels the others instead of orphaning them.
        async with asyncio.TaskGroup() as group:
            for item, item_json in items:
                group.create_task(one(item, item_json))

    async def flush(self) -> None:
        """Streaming: append the sent items to the blob, then record their keys."""
        async with self._flush_lock:
            entries, self._pending = self._pending, []
            if not entries:
                return
            await self.ensure_blob()
            await self.inputs.store.append_jsonl(self.blob, [line for line, _ in entries])
            await self.record_history([item for _, item in entries])

    async def record_history(self, items: Sequence[ContentItem]) -> None:
        """Record the key digests of queued items in the history, at their collection times."""
        await self.inputs.history.record_digests([(i.key_digests(), i.collected_at) for i in items])

    # -- the two groups ------------------------------------------------------------------
    async def read_source(self, source: SourceConfig) -> Any:
        """The source's items, each with the stamp of when it was parsed (its schedule time)."""
        async with contextlib.aclosing(
            collect_source(
                self.inputs.client,
                source,
                self.inputs.clock,
                self.tally.stats[source.name],
                self.validators,
                parse_gate=self.parse_gate,
            )
        ) as items:
            async for item in items:
                stamp = _Stamp.at(self.inputs.clock.task_time())
                self.note_end(stamp.schedule_s)
                yield item.collected(self.now_utc(stamp)), stamp

    def note_end(self, t: float) -> None:
        self.end_s = max(self.end_s, t)

    async def run_batch_group(self, sources: Sequence[SourceConfig]) -> None:
        if not sources:
            return
        collected: list[ContentItem] = []
        for source in sources:
            async for item, _ in self.read_source(source):
                collected.append(item)
        done = _Stamp.at(self.inputs.clock.task_time())  # every source read, one after another
        self.note_end(done.schedule_s)
        new_items = [(item, encode_item(item)) for item in collected if self.accept(item)]
        if new_items:
            await self.ensure_blob()
            await self.inputs.store.append_jsonl(
                self.blob, [await self.blob_line(item, data) for item, data in new_items]
            )
            await self.send_all(new_items, "batch", done)
            await self.record_history([item for item, _ in new_items])
        self.note_end(done.now())

    async def run_streaming_source(self, source: SourceConfig, outbox: asyncio.Queue[Any]) -> None:
        queued = 0
        async for item, stamp in self.read_source(source):
            if not self.accept(item):
                continue
            if stamp.schedule_s < self._earliest_s:
                await self.send_early(item, stamp)
            else:
                await outbox.put((item, stamp))
                queued += 1
                if queued % _YIELD_EVERY_ITEMS == 0:
                    await asyncio.sleep(0)  # a long page does not hold the loop from the senders
        self.note_end(self.inputs.clock.task_time())

    async def send_early(self, item: ContentItem, stamp: _Stamp) -> None:
        """Send an item collected earlier on the run's timeline than any sent so far: it may be
        the run's first (the design's headline metric). The source task that found it sends
        it at once (no hand-off to a sender) and the other sources hold their parsing until
        it is on the queue. The first new item of a run always comes this way; a later one
        only when a long parse (untimed) brought it out after a later-collected item."""
        self._earliest_s = stamp.schedule_s
        with self.parse_gate.closed(), _quick_gil_handoff():
            await self.send_streaming(item, stamp)

    async def quiet(self) -> None:
        """Return when a sender or the flusher may start a request: not while an early message
        is in flight (``send_early``), nor while a feed is being parsed whose items would be
        earlier on the run's timeline than any sent so far (they will be sent early: a burst
        of sends started meanwhile would still be in flight). Both happen only at the start."""
        await self.parse_gate.wait_quiet(self._earliest_s)

    async def send_streaming(self, item: ContentItem, stamp: _Stamp) -> None:
        item_json = encode_item(item)
        await self.send(item, "streaming", stamp, item_json)
        # The blob line is made here, item by item between the sends, so that a flush holds the
        # loop only for its two requests, not for the lines of a second's worth of items.
        self._pending.append((await self.blob_line(item, item_json), item))
        if len(self._pending) >= self.inputs.options.blob_flush_items:
            self._flush_now.set()  # the flusher writes; the sender goes on sending

    async def sender(self, outbox: asyncio.Queue[Any]) -> None:
        # Slow start: the senders join once the first message is on the queue (send_early), so
        # the run's first item does not share the loop with a burst of sends, and a broken
        # queue fails on one message, not on a burst.
        await self._first_sent.wait()
        while True:
            entry = await outbox.get()
            try:
                if entry is None:
                    return
                await self.quiet()
                await self.send_streaming(*entry)
            finally:
                outbox.task_done()

    async def flusher(self, stop: asyncio.Event) -> None:
        """Flush every ``blob_flush_interval_s`` until ``stop``; never cancelled mid-flush, so
        no sent item misses its blob line or history entry."""
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._flush_now.wait(),
                    self.inputs.clock.wall(self.inputs.options.blob_flush_interval_s),
                )
            self._flush_now.clear()
            await self.quiet()
            await self.flush()

    async def run(self) -> None:
        batch = [s for s in self.inputs.sources if self.mode_of(s) == "batch"]
        streaming = [s for s in self.inputs.sources if self.mode_of(s) == "streaming"]
        # Sized for a flood, not for the steady state: a source blocked on a full outbox stops
        # reading, which is the back-pressure wanted only when sends cannot keep up at all.
        outbox: asyncio.Queue[Any] = asyncio.Queue(maxsize=self.inputs.options.outbox_items)
        try:
            # A failing task (e.g. storage down) cancels the others instead of leaving
            # producers blocked on a full outbox.
            async with asyncio.TaskGroup() as group:
                senders = [
                    group.create_task(self.sender(outbox))
                    for _ in range(self.inputs.options.send_concurrency if streaming else 0)
                ]
                stop_flusher = asyncio.Event()
                if streaming:
                    group.create_task(self.flusher(stop_flusher))
                await asyncio.gather(
                    self.run_batch_group(batch),
                    *(self.run_streaming_source(s, outbox) for s in streaming),
                )
                self._first_sent.set()  # every source is read: no first send may still come
                for _ in senders:
                    await outbox.put(None)
                await asyncio.gather(*senders)
                stop_flusher.set()
                self._flush_now.set()
        except BaseExceptionGroup as group_error:
            raise first_error(group_error) from None
        await self.flush()


async def collect_run(inputs: RunInputs) -> RunMetrics:
    """Run one collection and return its metrics.

    The history of the lookback window is loaded first; the run's clock starts (``t = 0``)
    once it is loaded, when the first request goes out.
    """
    run = _Run(inputs)
    # Preparation, before the run's clock starts: load the history window, check that the
    # queue answers (a dead queue fails here, before any source is read) and create the
    # collection blob, so the first item pays for none of these.
    wall_start = asyncio.get_running_loop().time()
    run.seen_history, _, _, run.validators = await asyncio.gather(
        inputs.history.load(run.started_at),
        inputs.queue.approximate_count(),
        run.ensure_blob(),
        load_validators(inputs.store),
    )
    history_wall = asyncio.get_running_loop().time() - wall_start
    log.info(
        "collection_start collection_id=%s sources=%d modes=%s history_keys=%d",
        run.collection_id,
        len(inputs.sources),
        dict(Counter(run.mode_of(s) for s in inputs.sources)),
        len(run.seen_history),
    )
    inputs.clock.reset()
    await run.run()
    elapsed = max([run.end_s, *(r.enqueued_at for r in run.tally.records)])
    run.log_progress()
    await save_validators(
        inputs.store, run.validators
    )  # only after everything was queued and stored
    # TTL cleanup (the design's risk of history growing without bound), after the run's own
    # writes so that it never competes with them.
    removed = await inputs.history.cleanup(run.started_at)
    removed += await inputs.history.cleanup_collections(run.started_at, store=inputs.store)
    if removed:
        log.info("history_cleanup collection_id=%s blobs_deleted=%d", run.collection_id, removed)
    metrics = run.tally.metrics(
        collection_id=run.collection_id,
        collection_blob=run.blob,
        started_at=run.started_at,
        elapsed_s=elapsed,
        history_keys_loaded=len(run.seen_history),
        history_load_wall_seconds=history_wall,
    )
    log.info(
        "collection_end collection_id=%s queued=%d duplicates=%d first_item_s=%s elapsed_s=%.2f",
        run.collection_id,
        metrics.items_queued,
        metrics.duplicates_skipped,
        metrics.time_to_first_item_queued_seconds,
        elapsed,
    )
    return metrics

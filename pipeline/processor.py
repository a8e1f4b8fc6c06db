"""The processor (PRODUCT.md section 4): turns each queued content item into an article.

A ``Processor`` receives messages in batches (up to 32), works on up to ``concurrency`` of them
at once and keeps every message it holds hidden by renewing its visibility. For each message:

- delivered more than ``max_deliveries`` times, or not valid base64 JSON v1: copied to the
  poison queue (raw content kept, with a reason) and deleted;
- ``processed-content/<content_hash>.json`` already there: deleted without doing the work
  (idempotent by ``content_hash``);
- otherwise: the real light ``transform``, then a simulated delay that brings the handling time
  up to a draw from ``service_time`` (the real work counts as part of the drawn time; the delay
  is slept on the clock), the result written create-only (a conflict means another worker won),
  then the message deleted.

Times in records are ``clock.now()`` (recording seconds); ``service_time``, ``empty_pause_s`` and
``idle_exit_s`` are recording seconds too. ``visibility_timeout_s`` is wall seconds, since the
queue service keeps it. Logs are one ``event=... key=value`` line each and never hold secrets.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import json
import logging
import math
import re
import signal
import unicodedata
import zlib
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from pipeline.clock import Clock
from pipeline.errors import (
    MessageTooLargeError,
    StorageAuthError,
    StorageError,
    StorageUnavailableError,
)
from pipeline.messages import validate_message
from pipeline.service_time import Distribution, parse_distribution
from pipeline.storage import (
    MAX_RECEIVE_BATCH,
    ETagConflictError,
    QueueAdapter,
    ReceivedMessage,
    StorageAccount,
)

__all__ = [
    "DEFAULT_POISON_QUEUE",
    "DEFAULT_QUEUE",
    "DEFAULT_RESULTS_CONTAINER",
    "OUTCOMES",
    "POISON_SCHEMA",
    "RESULT_SCHEMA",
    "ProcessedRecord",
    "Processor",
    "ProcessorStats",
    "install_signal_handlers",
    "result_blob_name",
    "transform",
]

DEFAULT_QUEUE = "content-processing-requests"
DEFAULT_POISON_QUEUE = "content-processing-requests-poison"
DEFAULT_RESULTS_CONTAINER = "processed-content"
RESULT_SCHEMA = "processed-content/v1"
POISON_SCHEMA = "poison-message/v1"
POISON_BLOBS_PREFIX = "poison/"
OUTCOMES = ("processed", "duplicate", "poisoned", "invalid", "released")

log = logging.getLogger(__name__)

_BACKOFF_CAP_S = 30.0  # recording seconds between retries of a failing storage call, at most
_RETRY_VISIBILITY_CAP_S = 30  # wall seconds a failed message stays hidden, at most


def result_blob_name(content_hash: str) -> str:
    return f"{content_hash}.json"


# ---------------------------------------------------------------------------------------------
# The real light transformation
# ---------------------------------------------------------------------------------------------

_WORDS_PER_MINUTE = 230
_SUMMARY_SENTENCES = 2
_SUMMARY_MAX_CHARS = 300
_KEYWORDS = 8
_URL_RE = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_SPACE_RE = re.compile(r"\s+")
_SENTENCE_END_RE = re.compile(r"(?<=[.!?…])\s+|(?<=[。！？])")
# Ideographs and kana count one word each (those scripts do not separate words by spaces).
_TOKEN_RE = re.compile(
    r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]|[^\W_]+(?:['’][^\W_]+)*"
)
# A compact multilingual list (en, de, fr, es, it, pt, nl): no language detection needed.
_STOP_WORDS = frozenset(
    """
    a about above after again against all also am an and any are aren't as at be because been
    before being below between both but by can could did do does doing down during each few for
    from further had has have having he her here hers herself him himself his how i if in into
    is it it's its itself just let's me more most my myself no nor not now of off on once only
    or other our ours ourselves out over own same she should so some such than that that's the
    their theirs them themselves then there these they this those through to too under until up
    us very was we were what when where which while who whom why will with would you your yours
    yourself yourselves new one two get got like via use using used i'm you're we're they're
    don't doesn't didn't can't won't isn't
    der die das und ist nicht ein eine einen einem einer mit von zu den dem des auf für sich
    auch als wie bei oder aber wenn nur noch nach aus wir ihr sie er es ich du im am zum zur
    le la les un une des du de et est dans pour par sur pas plus que qui ne se ce cette ces avec
    au aux ou mais son sa ses leur nous vous ils elles été être
    el los las una unos unas y en por con para es lo al del se su sus como más pero sin sobre
    il lo gli di che non per con una nel della delle dei sono
    o os um uma em no na nos nas do da dos das com não mais seu sua
    het een en van ik je dat niet zijn op te met voor aan er maar om ook als dan bij
    """.split()
)


def clean_text(text: str) -> str:
    """NFKC, HTML entities decoded, control characters dropped, whitespace collapsed."""
    text = unicodedata.normalize("NFKC", html.unescape(text or ""))
    text = "".join(ch if ch.isspace() or unicodedata.category(ch)[0] != "C" else " " for ch in text)
    return _SPACE_RE.sub(" ", text).strip()


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END_RE.split(text) if s and s.strip()]


def _summary(sentences: list[str]) -> str:
    summary = " ".join(sentences[:_SUMMARY_SENTENCES])
    if len(summary) <= _SUMMARY_MAX_CHARS:
        return summary
    cut = summary[: _SUMMARY_MAX_CHARS - 1]
    if " " in cut:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:") + "…"


def _keywords(tokens: Iterable[str]) -> list[str]:
    counts = Counter(
        t
        for t in tokens
        if len(t) >= 3 and not t.isdigit() and t not in _STOP_WORDS and "'" not in t
    )
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return [word for word, _ in ranked[:_KEYWORDS]]


def transform(message: dict[str, Any]) -> dict[str, Any]:
    """The article for one item (a v1 message, or the whole item of a claim check).

    Deterministic and language-agnostic: cleaned title and body, word and sentence counts,
    reading time, a summary from the first sentences, keywords by frequency without stop words.
    """
    title = clean_text(str(message.get("title") or ""))
    body = clean_text(str(message.get("body") or ""))
    prose = _SPACE_RE.sub(" ", _URL_RE.sub(" ", body)).strip()
    tokens = [t.casefold().replace("’", "'") for t in _TOKEN_RE.findall(prose)]
    title_tokens = [t.casefold().replace("’", "'") for t in _TOKEN_RE.findall(title)]
    sentences = _sentences(prose)
    word_count = len(tokens)
    return {
        "title": title,
        "summary": _summary(sentences) if sentences else title,
        "body": body,
        "word_count": word_count,
        "sentence_count": len(sentences),
        "reading_time_s": math.ceil(word_count * 60 / _WORDS_PER_MINUTE),
        "keywords": _keywords(title_tokens + tokens),
        "links": sorted(set(_URL_RE.findall(body))),
    }


# ---------------------------------------------------------------------------------------------
# Records and statistics
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProcessedRecord:
    """What happened to one delivery of one message. Times are ``clock.now()`` seconds."""

    message_id: str
    item_id: str | None
    content_hash: str | None
    outcome: str  # processed | duplicate | poisoned | invalid | released
    dequeue_count: int
    started_at: float
    finished_at: float
    worker: str
    reason: str = ""  # why it was poisoned, found invalid or released
    service_time_s: float = 0.0  # the drawn handling time (recording seconds)
    mode: str | None = None  # batch | streaming, from the message
    source: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(slots=True)
class ProcessorStats:
    """Counts by outcome, plus the storage errors retried and the visibility renewals made."""

    processed: int = 0
    duplicate: int = 0
    poisoned: int = 0
    invalid: int = 0
    released: int = 0
    storage_errors: int = 0
    visibility_renewals: int = 0
    batches_received: int = 0

    def count(self, outcome: str) -> None:
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {outcome!r}; expected one of {OUTCOMES}")
        setattr(self, outcome, getattr(self, outcome) + 1)

    @property
    def handled(self) -> int:
        """Deliveries that ended, whatever the outcome."""
        return sum(getattr(self, outcome) for outcome in OUTCOMES)

    def as_dict(self) -> dict[str, int]:
        return asdict(self)

    def __str__(self) -> str:
        return " ".join(f"{k}={v}" for k, v in self.as_dict().items())


def _kv(event: str, **fields: Any) -> str:
    """``event=x key=value ...``; values with spaces or quotes are quoted."""
    parts = [f"event={event}"]
    for key, value in fields.items():
        if value is None:
            continue
        text = f"{value:.3f}" if isinstance(value, float) else str(value)
        if not text or any(c.isspace() or c in '"=' for c in text):
            text = json.dumps(text, ensure_ascii=False)
        parts.append(f"{key}={text}")
    return " ".join(parts)


# ---------------------------------------------------------------------------------------------
# The processor
# ---------------------------------------------------------------------------------------------


class _Invalid(Exception):
    """The message cannot be processed: it goes to the poison queue as 'invalid'."""


class _InvalidClaim(_Invalid, ValueError):
    """A claim check that points nowhere useful."""


class _Lease:
    """A message we hold, with its latest pop receipt; the lock orders renewals and the end."""

    __slots__ = ("message", "lock", "keeper", "lost", "started", "ended")

    def __init__(self, message: ReceivedMessage) -> None:
        self.message = message
        self.lock = asyncio.Lock()
        self.keeper: asyncio.Task[None] | None = None
        self.lost = False  # the receipt is no longer ours
        self.started = False  # a worker began on it
        self.ended = False  # deleted or released


class Processor:
    """One processor instance (a pod's worker). Run several with asyncio tasks to scale out."""

    def __init__(
        self,
        account: StorageAccount,
        *,
        clock: Clock,
        queue_name: str = DEFAULT_QUEUE,
        poison_queue_name: str = DEFAULT_POISON_QUEUE,
        results_container: str = DEFAULT_RESULTS_CONTAINER,
        service_time: str | Distribution = "constant(0)",
        concurrency: int = 1,
        batch_size: int = MAX_RECEIVE_BATCH,
        visibility_timeout_s: int = 60,
        max_deliveries: int = 5,
        empty_pause_s: float = 1.0,
        idle_exit_s: float | None = None,
        name: str = "processor-1",
        seed: int = 0,
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be >= 1, got {concurrency}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if int(visibility_timeout_s) != visibility_timeout_s or visibility_timeout_s < 1:
            raise ValueError(
                f"visibility_timeout_s must be a whole number of seconds >= 1, "
                f"got {visibility_timeout_s}"
            )
        if max_deliveries < 1:
            raise ValueError(f"max_deliveries must be >= 1, got {max_deliveries}")
        if not empty_pause_s >= 0:
            raise ValueError(f"empty_pause_s must be >= 0, got {empty_pause_s}")
        if idle_exit_s is not None and not idle_exit_s >= 0:
            raise ValueError(f"idle_exit_s must be >= 0 or None, got {idle_exit_s}")
        self.account = account
        self.clock = clock
        self.queue_name = queue_name
        self.poison_queue_name = poison_queue_name
        self.results_container = results_container
        self.service_time = parse_distribution(service_time)
        self.concurrency = concurrency
        self.batch_size = min(batch_size, MAX_RECEIVE_BATCH)
        self.visibility_timeout_s = int(visibility_timeout_s)
        self.max_deliveries = max_deliveries
        self.empty_pause_s = float(empty_pause_s)
        self.idle_exit_s = idle_exit_s
        self.name = name
        self.seed = seed
        # Seeded by name as well, so instances sharing a seed still draw different delays.
        self._rng = np.random.default_rng([seed, zlib.crc32(name.encode("utf-8"))])
        self.records: list[ProcessedRecord] = []
        self.stats = ProcessorStats()
        self._stop = asyncio.Event()
        self._abort = False
        self._fatal: BaseException | None = None
        self._pending: deque[_Lease] = deque()
        self._active: dict[asyncio.Task[None], _Lease] = {}
        self._running = False
        self._queue: QueueAdapter | None = None

    def __repr__(self) -> str:
        return (
            f"Processor(name={self.name!r}, queue={self.queue_name!r}, "
            f"concurrency={self.concurrency}, service_time={str(self.service_time)!r})"
        )

    # -- control ---------------------------------------------------------------------------

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    @property
    def in_progress(self) -> list[str]:
        """Ids of the messages being worked on now."""
        return [lease.message.id for lease in self._active.values() if lease.started]

    @property
    def held(self) -> int:
        """Messages received and not yet finished (in progress or waiting for a worker)."""
        return len(self._active) + len(self._pending)

    def request_stop(self, *, abort: bool = False) -> None:
        """Stop receiving; finish the messages in progress (``abort``: release them instead).
        Messages received but not started are released at once either way."""
        if abort and not self._abort:
            self._abort = True
            for task in list(self._active):
                task.cancel()
        self._stop.set()

    def install_signal_handlers(self) -> Callable[[], None]:
        """SIGTERM/SIGINT stop this processor (a second signal aborts); returns an uninstaller."""
        return install_signal_handlers([self])

    # -- the loop --------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event | None = None) -> ProcessorStats:
        """Process messages until ``stop`` is set (or ``request_stop``), or until idle for
        longer than ``idle_exit_s``. Raises ``StorageAuthError`` when the key is refused."""
        if self._running:
            raise RuntimeError(f"processor {self.name!r} is already running")
        self._running = True
        self._queue = self.account.queue(self.queue_name)
        watcher = asyncio.ensure_future(self._watch(stop)) if stop is not None else None
        stop_waiter = asyncio.ensure_future(self._stop.wait())
        failures = 0
        try:
            # The first validation imports jsonschema (~2 s): do it off the loop, before timing.
            await asyncio.to_thread(_warm_up_validation)
            last_activity = self.clock.now()
            log.info(
                _kv(
                    "processor_started",
                    worker=self.name,
                    queue=self.queue_name,
                    concurrency=self.concurrency,
                    batch_size=self.batch_size,
                    service_time=str(self.service_time),
                    visibility_timeout_s=self.visibility_timeout_s,
                )
            )
            while not self._stop.is_set() and self._fatal is None:
                self._pending.extendleft(self._reap())
                if self._fatal is not None:
                    break
                if len(self._active) >= self.concurrency:
                    await asyncio.wait(
                        [*self._active, stop_waiter], return_when=asyncio.FIRST_COMPLETED
                    )
                    last_activity = self.clock.now()
                    continue
                if self._pending:
                    lease = self._pending.popleft()
                    task = asyncio.ensure_future(self._handle(lease))
                    self._active[task] = lease
                    continue
                try:
                    batch = await self._queue.receive(
                        self.batch_size, visibility_timeout=self.visibility_timeout_s
                    )
                except StorageAuthError as exc:
                    self._fatal = exc
                    break
                except StorageError as exc:
                    failures += 1
                    self.stats.storage_errors += 1
                    pause = min(_BACKOFF_CAP_S, 2.0 ** (failures - 1))
                    log.warning(
                        _kv(
                            "receive_failed",
                            worker=self.name,
                            queue=self.queue_name,
                            attempt=failures,
                            retry_in_s=pause,
                            error=str(exc),
                        )
                    )
                    await self._pause(pause)
                    continue
                failures = 0
                if batch:
                    self.stats.batches_received += 1
                    for message in batch:
                        lease = _Lease(message)
                        lease.keeper = asyncio.ensure_future(self._keep(lease))
                        self._pending.append(lease)
                    last_activity = self.clock.now()
                    log.debug(_kv("batch_received", worker=self.name, messages=len(batch)))
                    continue
                if self._active:
                    last_activity = self.clock.now()
                elif self.idle_exit_s is not None and (
                    self.clock.now() - last_activity >= self.idle_exit_s
                ):
                    log.info(_kv("idle_exit", worker=self.name, idle_s=self.idle_exit_s))
                    break
                await self._pause(self.empty_pause_s)
        except asyncio.CancelledError:
            # Cancelled from outside: release the work in hand rather than finish it.
            self.request_stop(abort=True)
            raise
        finally:
            await self._shutdown()
            stop_waiter.cancel()
            if watcher is not None:
                watcher.cancel()
            await asyncio.gather(
                stop_waiter, *([watcher] if watcher else []), return_exceptions=True
            )
            self._running = False
            log.info(_kv("processor_stopped", worker=self.name, **self.stats.as_dict()))
        if self._fatal is not None:
            raise self._fatal
        return self.stats

    async def _watch(self, stop: asyncio.Event) -> None:
        await stop.wait()
        self.request_stop()

    async def _pause(self, seconds: float) -> None:
        """Sleep ``seconds`` on the clock, waking early when a stop is requested."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), timeout=max(self.clock.wall(seconds), 0))

    def _reap(self) -> list[_Lease]:
        """Forget finished tasks; returns the leases of tasks cancelled before they started."""
        unstarted = []
        for task in [t for t in self._active if t.done()]:
            lease = self._active.pop(task)
            if task.cancelled():
                if not lease.ended:
                    unstarted.append(lease)
            elif task.exception() is not None and self._fatal is None:
                self._fatal = task.exception()
        return unstarted

    async def _shutdown(self) -> None:
        """Release what was received but not started; finish (or, aborting, cancel) the rest."""
        pending = list(self._pending)
        self._pending.clear()
        await asyncio.gather(*(self._release_unstarted(lease) for lease in pending))
        if self._fatal is not None or self._abort:
            for task in self._active:
                if not task.cancelling():  # a second cancel would cut its release short
                    task.cancel()
        unstarted: list[_Lease] = []
        while self._active:
            try:
                await asyncio.wait(list(self._active))
            except asyncio.CancelledError:
                # The caller gave up waiting: release what is in progress, then stop.
                for task in self._active:
                    task.cancel()
                await asyncio.wait(list(self._active))
                self._reap()
                raise
            unstarted += self._reap()
        await asyncio.gather(*(self._release_unstarted(lease) for lease in unstarted))

    async def _release_unstarted(self, lease: _Lease) -> None:
        now = self.clock.now()
        reason = "stop requested before start"
        try:
            await self._end_lease(lease, release_after_s=0, reason=reason)
        except StorageError as exc:
            # Not released: it becomes visible again when its visibility timeout lapses.
            log.warning(self._event("release_failed", lease.message, error=str(exc)))
        self._record(lease.message, _try_decode(lease.message), "released", now, reason=reason)

    # -- visibility ------------------------------------------------------------------------

    async def _keep(self, lease: _Lease) -> None:
        """Renew the message's visibility before it lapses, until the lease ends."""
        interval = self.visibility_timeout_s / 2
        assert self._queue is not None
        while True:
            await asyncio.sleep(interval)
            async with lease.lock:
                try:
                    lease.message = await self._queue.update_visibility(
                        lease.message, self.visibility_timeout_s
                    )
                except StorageAuthError as exc:
                    self._fatal = self._fatal or exc
                    self.request_stop(abort=True)
                    return
                except StorageUnavailableError as exc:
                    self.stats.storage_errors += 1
                    interval = max(self.visibility_timeout_s / 8, 0.05)
                    log.warning(self._event("renew_failed", lease.message, error=str(exc)))
                    continue
                except StorageError as exc:
                    # The receipt is no longer ours (it lapsed and another worker took it).
                    self.stats.storage_errors += 1
                    lease.lost = True
                    log.warning(self._event("lease_lost", lease.message, error=str(exc)))
                    return
            self.stats.visibility_renewals += 1
            interval = self.visibility_timeout_s / 2

    async def _end_lease(
        self, lease: _Lease, *, delete: bool = False, release_after_s: int = 0, reason: str = ""
    ) -> None:
        """Stop renewing, then delete the message or make it visible after ``release_after_s``."""
        assert self._queue is not None
        async with lease.lock:
            if lease.keeper is not None:
                lease.keeper.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await lease.keeper
                lease.keeper = None
            if lease.lost or lease.ended:
                return
            lease.ended = True
            try:
                if delete:
                    await self._queue.delete(lease.message)
                else:
                    lease.message = await self._queue.update_visibility(
                        lease.message, release_after_s
                    )
            except StorageAuthError:
                raise
            except StorageError as exc:
                self.stats.storage_errors += 1
                event = "delete_failed" if delete else "release_failed"
                log.warning(self._event(event, lease.message, reason=reason, error=str(exc)))

    # -- one message -----------------------------------------------------------------------

    def _event(self, event: str, message: ReceivedMessage, **fields: Any) -> str:
        return _kv(
            event,
            worker=self.name,
            message_id=message.id,
            dequeue_count=message.dequeue_count,
            **fields,
        )

    def _record(
        self,
        message: ReceivedMessage,
        data: dict[str, Any] | None,
        outcome: str,
        started_at: float,
        *,
        reason: str = "",
        service_time_s: float = 0.0,
    ) -> ProcessedRecord:
        data = data or {}

        def text(key: str) -> str | None:
            value = data.get(key)
            return value if isinstance(value, str) else None

        record = ProcessedRecord(
            message_id=message.id,
            item_id=text("id"),
            content_hash=text("content_hash"),
            outcome=outcome,
            dequeue_count=message.dequeue_count,
            started_at=started_at,
            finished_at=self.clock.now(),
            worker=self.name,
            reason=reason,
            service_time_s=service_time_s,
            mode=text("mode"),
            source=text("source"),
        )
        self.records.append(record)
        self.stats.count(outcome)
        level = logging.WARNING if outcome in ("poisoned", "invalid") else logging.DEBUG
        log.log(
            level,
            self._event(
                outcome,
                message,
                item_id=record.item_id,
                content_hash=record.content_hash,
                reason=reason or None,
                service_time_s=service_time_s if outcome == "processed" else None,
            ),
        )
        return record

    async def _handle(self, lease: _Lease) -> None:
        lease.started = True
        message = lease.message
        started_at = self.clock.now()
        data: dict[str, Any] | None = None
        try:
            if message.dequeue_count > self.max_deliveries:
                data = _try_decode(message)
                reason = (
                    f"delivered {message.dequeue_count} times, over max_deliveries="
                    f"{self.max_deliveries}"
                )
                await self._poison(lease, reason)
                self._record(message, data, "poisoned", started_at, reason=reason)
                return
            try:
                data = _decode(message)
                validate_message(data)
            except ValueError as exc:
                await self._poison(lease, str(exc))
                self._record(message, data, "invalid", started_at, reason=str(exc))
                return
            try:
                await self._process(lease, data, started_at)
            except _Invalid as exc:
                await self._poison(lease, str(exc))
                self._record(message, data, "invalid", started_at, reason=str(exc))
        except asyncio.CancelledError:
            reason = "aborted while in progress"
            await self._end_lease(lease, release_after_s=0, reason=reason)
            self._record(lease.message, data, "released", started_at, reason=reason)
            raise
        except StorageAuthError as exc:
            self._fatal = self._fatal or exc
            self.request_stop(abort=True)
            raise
        except StorageError as exc:
            # Retried by the queue itself: hidden for a while, then delivered again.
            self.stats.storage_errors += 1
            delay = min(_RETRY_VISIBILITY_CAP_S, 2**message.dequeue_count)
            reason = f"storage error, retry in {delay} s: {exc}"
            await self._end_lease(lease, release_after_s=delay, reason=reason)
            self._record(lease.message, data, "released", started_at, reason=reason)
        except Exception as exc:
            # A bug or an item we cannot handle must not stop the worker: the message comes
            # back later and reaches the poison queue after max_deliveries.
            delay = min(_RETRY_VISIBILITY_CAP_S, 2**message.dequeue_count)
            reason = f"{type(exc).__name__} while processing, retry in {delay} s: {exc}"
            log.exception(self._event("processing_failed", message, error=type(exc).__name__))
            await self._end_lease(lease, release_after_s=delay, reason=reason)
            self._record(lease.message, data, "released", started_at, reason=reason)

    async def _process(self, lease: _Lease, data: dict[str, Any], started_at: float) -> None:
        results = self.account.container(self.results_container)
        blob = result_blob_name(data["content_hash"])
        if await results.exists(blob):
            await self._end_lease(lease, delete=True)
            self._record(lease.message, data, "duplicate", started_at, reason="result exists")
            return
        item = await self._claimed_item(data) if data.get("claim_check") else data
        article = transform(item)
        service_time_s = self.service_time.sample(self._rng)
        # The drawn service time is the item's whole handling time: the simulated delay fills
        # what the real work (idempotency check, claim check, transform) left of it. So the
        # storage round trips, which a fast replay clock multiplies by its speed, do not add
        # to the model's service time unless they exceed it.
        await self.clock.sleep(service_time_s - (self.clock.now() - started_at))
        message = lease.message
        result = {
            "schema": RESULT_SCHEMA,
            "item_id": data["id"],
            "content_hash": data["content_hash"],
            "source": data["source"],
            "source_name": data.get("source_name"),
            "source_id": data["source_id"],
            "url": data["url"],
            "author": item.get("author"),
            "published_at": data["published_at"],
            "collected_at": data["collected_at"],
            "collection_id": data["collection_id"],
            "collection_blob": data["collection_blob"],
            "mode": data["mode"],
            "message_id": message.id,
            "dequeue_count": message.dequeue_count,
            "queued_at": message.inserted_on.isoformat() if message.inserted_on else None,
            "processed_at": datetime.now(UTC).isoformat(),
            "processed_by": self.name,
            "started_at_s": started_at,
            "finished_at_s": self.clock.now(),
            "service_time_s": service_time_s,
            "article": article,
        }
        try:
            await results.write_json(blob, result, create_only=True)
        except ETagConflictError:
            await self._end_lease(lease, delete=True)
            self._record(
                lease.message,
                data,
                "duplicate",
                started_at,
                reason="another worker wrote the result first",
                service_time_s=service_time_s,
            )
            return
        await self._end_lease(lease, delete=True)
        self._record(lease.message, data, "processed", started_at, service_time_s=service_time_s)

    async def _claimed_item(self, data: dict[str, Any]) -> dict[str, Any]:
        """The whole item behind a claim check (``<container>/<blob>``), over the message."""
        ref = str(data["claim_check"])
        container, sep, blob = ref.partition("/")
        if not sep or not container or not blob:
            raise _InvalidClaim(f"claim_check {ref!r} is not '<container>/<blob>'")
        claimed, _ = await self.account.container(container).read_json(blob)
        if claimed is None:
            raise _InvalidClaim(f"claim_check blob {ref!r} not found")
        if not isinstance(claimed, dict):
            raise _InvalidClaim(f"claim_check blob {ref!r} does not hold a JSON object")
        return {**data, **claimed, "body_truncated": False}

    async def _poison(self, lease: _Lease, reason: str) -> None:
        """Copy the message, raw, to the poison queue with the reason; then delete it."""
        message = lease.message
        poison = await self.account.queue(self.poison_queue_name).create_if_missing()
        envelope: dict[str, Any] = {
            "schema": POISON_SCHEMA,
            "reason": reason,
            "source_queue": self.queue_name,
            "message_id": message.id,
            "dequeue_count": message.dequeue_count,
            "inserted_on": message.inserted_on.isoformat() if message.inserted_on else None,
            "poisoned_at": datetime.now(UTC).isoformat(),
            "poisoned_by": self.name,
            "raw_content": message.raw_content,
            "raw_blob": None,
        }
        try:
            await poison.send(envelope)
        except MessageTooLargeError:
            # The raw content plus the envelope passes 64 KiB: keep the raw content in a blob.
            name = f"{POISON_BLOBS_PREFIX}{self.queue_name}/{message.id}.txt"
            results = self.account.container(self.results_container)
            await results.write_bytes(
                name, message.raw_content.encode("utf-8"), content_type="text/plain"
            )
            envelope.update(raw_content=None, raw_blob=f"{self.results_container}/{name}")
            await poison.send(envelope)
        await self._end_lease(lease, delete=True)


def _decode(message: ReceivedMessage) -> dict[str, Any]:
    if message.content is None:
        raise ValueError("message is not base64 text")
    try:
        data = json.loads(message.content)
    except ValueError as exc:
        raise ValueError(f"message is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError(f"message is not a JSON object (a {type(data).__name__})")
    return data


def _warm_up_validation() -> None:
    with contextlib.suppress(ValueError):
        validate_message({})


def _try_decode(message: ReceivedMessage) -> dict[str, Any] | None:
    try:
        return _decode(message)
    except ValueError:
        return None


def install_signal_handlers(
    processors: Iterable[Processor],
    signals: Iterable[signal.Signals] = (signal.SIGTERM, signal.SIGINT),
) -> Callable[[], None]:
    """Make SIGTERM/SIGINT stop every processor cleanly on the running loop; a second signal
    aborts (messages in progress are released). Returns a function that removes the handlers."""
    loop = asyncio.get_running_loop()
    targets = list(processors)
    installed = list(signals)
    received = 0

    def on_signal(signum: int) -> None:
        nonlocal received
        received += 1
        log.info(_kv("stop_signal", signal=signal.Signals(signum).name, count=received))
        for processor in targets:
            processor.request_stop(abort=received > 1)

    for sig in installed:
        loop.add_signal_handler(sig, on_signal, sig)

    def uninstall() -> None:
        for sig in installed:
            loop.remove_signal_handler(sig)

    return uninstall

"""The processor instance: the receive loop, one task per message, a clean stop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable
from typing import Any

from pipeline.clock import Clock
from pipeline.errors import MessageTooLargeError, StorageAuthError, StorageError
from pipeline.messages import validate_message
from pipeline.processor._documents import (
    InvalidClaimError,
    claim_reference,
    claimed_item,
    decode,
    message_processing_key,
    poison_blob_name,
    poison_envelope,
    result_blob_name,
    result_document,
    try_decode,
    warm_up_validation,
)
from pipeline.processor._leases import Lease, Leases
from pipeline.processor._records import ProcessedRecord, ProcessorStats, log_line, message_line
from pipeline.processor._settings import ProcessorSettings, Work
from pipeline.processor._signals import install_signal_handlers
from pipeline.processor._transform import transform
from pipeline.storage import ETagConflictError, ReceivedMessage, StorageAccount

log = logging.getLogger("pipeline.processor")

_BACKOFF_CAP_S = 30.0  # recording seconds between retries of a failing storage call, at most
_RETRY_VISIBILITY_CAP_S = 30  # wall seconds a failed message stays hidden, at most
_LAST_FAILURES_KEPT = 10_000


class Processor:
    """One processor instance (a pod's worker). Run several with asyncio tasks to scale out.

    ``work``: the simulated work per item (see ``Work``); None: only the real work.
    """

    def __init__(
        self,
        account: StorageAccount,
        settings: ProcessorSettings | None = None,
        *,
        clock: Clock,
        work: Work | None = None,
        name: str = "processor-1",
    ) -> None:
        if work is not None and not callable(work):
            raise TypeError(f"work must be a callable returning seconds or None, got {work!r}")
        self.account = account
        self.settings = settings or ProcessorSettings()
        self.clock = clock
        self.work = work
        self.name = name
        self.records: list[ProcessedRecord] = []
        self.stats = ProcessorStats()
        self._stop = asyncio.Event()
        self._abort = False
        self._fatal: BaseException | None = None
        self._pending: deque[Lease] = deque()
        self._active: dict[asyncio.Task[None], Lease] = {}
        self._running = False
        self._leases: Leases | None = None
        # Why each message this instance released last failed, so that its poisoning after
        # max_deliveries names the cause (bounded: another instance may take it for good).
        self._last_failure: dict[str, str] = {}

    def __repr__(self) -> str:
        return (
            f"Processor(name={self.name!r}, queue={self.settings.queue_name!r}, "
            f"concurrency={self.settings.concurrency}, work={self._work_name()})"
        )

    def _work_name(self) -> str | None:
        return None if self.work is None else str(self.work)

    # -- control ---------------------------------------------------------------------------

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    @property
    def in_progress(self) -> list[str]:
        """Queue ids of the messages being worked on now."""
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

    def _fail(self, exc: StorageAuthError) -> None:
        """The key was refused: nothing else will work, so stop at once and raise it from run."""
        self._fatal = self._fatal or exc
        self.request_stop(abort=True)

    # -- the loop --------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event | None = None) -> ProcessorStats:
        """Process messages until ``stop`` is set (or ``request_stop``), or until idle for
        longer than ``idle_exit_s``. Raises ``StorageAuthError`` when the key is refused."""
        if self._running:
            raise RuntimeError(f"processor {self.name!r} is already running")
        self._running = True
        settings = self.settings
        queue = self.account.queue(settings.queue_name)
        self._leases = Leases(
            queue,
            visibility_timeout_s=int(settings.visibility_timeout_s),
            stats=self.stats,
            worker=self.name,
            on_auth_failure=self._fail,
        )
        watcher = asyncio.ensure_future(self._watch(stop)) if stop is not None else None
        stop_waiter = asyncio.ensure_future(self._stop.wait())
        failures = 0
        try:
            # The first validation imports jsonschema (~2 s): do it off the loop, before timing.
            await asyncio.to_thread(warm_up_validation)
            last_activity = self.clock.now()
            log.info(
                log_line(
                    "processor_started",
                    worker=self.name,
                    queue=settings.queue_name,
                    concurrency=settings.concurrency,
                    batch_size=settings.receive_batch_size,
                    work=self._work_name(),
                    visibility_timeout_s=self._leases.visibility_timeout_s,
                )
            )
            while not self._stop.is_set() and self._fatal is None:
                self._pending.extendleft(self._reap())
                if self._fatal is not None:
                    break
                if len(self._active) >= settings.concurrency:
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
                    batch = await queue.receive(
                        settings.receive_batch_size,
                        visibility_timeout=self._leases.visibility_timeout_s,
                    )
                except StorageAuthError as exc:
                    self._fail(exc)
                    break
                except StorageError as exc:
                    failures += 1
                    self.stats.storage_errors += 1
                    pause = min(_BACKOFF_CAP_S, 2.0 ** (failures - 1))
                    log.warning(
                        log_line(
                            "receive_failed",
                            worker=self.name,
                            queue=settings.queue_name,
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
                    self._pending.extend(self._leases.hold(message) for message in batch)
                    last_activity = self.clock.now()
                    log.debug(log_line("batch_received", worker=self.name, messages=len(batch)))
                    continue
                if self._active:
                    last_activity = self.clock.now()
                elif settings.idle_exit_s is not None and (
                    self.clock.now() - last_activity >= settings.idle_exit_s
                ):
                    log.info(log_line("idle_exit", worker=self.name, idle_s=settings.idle_exit_s))
                    break
                await self._pause(settings.empty_pause_s)
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
            log.info(log_line("processor_stopped", worker=self.name, **self.stats.as_dict()))
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

    def _reap(self) -> list[Lease]:
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
        unstarted: list[Lease] = []
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

    async def _release_unstarted(self, lease: Lease) -> None:
        assert self._leases is not None
        now = self.clock.now()
        reason = "stop requested before start"
        try:
            await self._leases.end(lease, release_after_s=0, reason=reason)
        except StorageError as exc:
            # Not released: it becomes visible again when its visibility timeout lapses.
            log.warning(message_line("release_failed", self.name, lease.message, error=str(exc)))
        self._record(lease.message, try_decode(lease.message), "released", now, reason=reason)

    # -- one message -----------------------------------------------------------------------

    def _record(
        self,
        message: ReceivedMessage,
        data: dict[str, Any] | None,
        outcome: str,
        started_at: float,
        *,
        reason: str = "",
        work_s: float = 0.0,
        warn: bool = False,
    ) -> None:
        record = ProcessedRecord.of(
            message,
            data,
            outcome,
            started_at=started_at,
            finished_at=self.clock.now(),
            worker=self.name,
            reason=reason,
            work_s=work_s,
        )
        self.records.append(record)
        self.stats.count(outcome)
        if outcome != "released":
            self._last_failure.pop(message.id, None)
        warn = warn or outcome in ("poisoned", "invalid")
        level = logging.WARNING if warn else logging.DEBUG
        log.log(
            level,
            message_line(
                outcome,
                self.name,
                message,
                item_id=record.item_id,
                content_hash=record.content_hash,
                reason=reason or None,
                work_s=work_s if outcome == "processed" else None,
            ),
        )

    async def _handle(self, lease: Lease) -> None:
        assert self._leases is not None
        lease.started = True
        message = lease.message
        started_at = self.clock.now()
        data: dict[str, Any] | None = None
        try:
            if message.dequeue_count > self.settings.max_deliveries:
                data = try_decode(message)
                reason = (
                    f"delivered {message.dequeue_count} times, over max_deliveries="
                    f"{self.settings.max_deliveries}"
                )
                if message.id in self._last_failure:
                    reason += f"; last failure: {self._last_failure.pop(message.id)}"
                await self._poison(lease, reason)
                self._record(message, data, "poisoned", started_at, reason=reason)
                return
            try:
                data = decode(message)
                validate_message(data)
            except ValueError as exc:
                await self._poison(lease, str(exc))
                self._record(message, data, "invalid", started_at, reason=str(exc))
                return
            try:
                await self._process(lease, data, started_at)
            except InvalidClaimError as exc:
                await self._poison(lease, str(exc))
                self._record(message, data, "invalid", started_at, reason=str(exc))
        except asyncio.CancelledError:
            reason = "aborted while in progress"
            await self._leases.end(lease, release_after_s=0, reason=reason)
            self._record(lease.message, data, "released", started_at, reason=reason)
            raise
        except StorageAuthError as exc:
            self._fail(exc)
            raise
        except StorageError as exc:
            # Retried by the queue itself: hidden for a while, then delivered again.
            self.stats.storage_errors += 1
            delay = min(_RETRY_VISIBILITY_CAP_S, 2**message.dequeue_count)
            await self._retry_later(lease, data, started_at, delay, f"storage error: {exc}")
        except Exception as exc:
            # A bug or an item we cannot handle must not stop the worker: the message comes
            # back later and reaches the poison queue after max_deliveries.
            delay = min(_RETRY_VISIBILITY_CAP_S, 2**message.dequeue_count)
            log.exception(
                message_line("processing_failed", self.name, message, error=type(exc).__name__)
            )
            cause = f"{type(exc).__name__} while processing: {exc}"
            await self._retry_later(lease, data, started_at, delay, cause)

    async def _retry_later(
        self,
        lease: Lease,
        data: dict[str, Any] | None,
        started_at: float,
        delay: int,
        cause: str,
    ) -> None:
        """Release the message for another delivery in ``delay`` wall seconds, logged at
        WARNING with its cause, which the poisoning after max_deliveries repeats."""
        assert self._leases is not None
        reason = f"{cause} (retry in {delay} s)"
        await self._leases.end(lease, release_after_s=delay, reason=reason)
        self._last_failure.pop(lease.message.id, None)
        self._last_failure[lease.message.id] = cause
        while len(self._last_failure) > _LAST_FAILURES_KEPT:
            del self._last_failure[next(iter(self._last_failure))]
        self._record(lease.message, data, "released", started_at, reason=reason, warn=True)

    async def _process(self, lease: Lease, data: dict[str, Any], started_at: float) -> None:
        assert self._leases is not None
        results = self.account.container(self.settings.results_container)
        blob = result_blob_name(message_processing_key(data))
        if await results.exists(blob):
            await self._leases.end(lease, delete=True)
            self._record(lease.message, data, "duplicate", started_at, reason="result exists")
            return
        item = await self._claimed_item(data) if data.get("claim_check") else data
        article = transform(item)
        work_s = 0.0
        if self.work is not None:
            work_s = self.work()
            # The drawn time is the item's whole handling time: the simulated delay fills what
            # the real work (idempotency check, claim check, transform) left of it. So the
            # storage round trips, which a fast replay clock multiplies by its speed, do not
            # add to the model's service time unless they exceed it.
            await self.clock.sleep(work_s - (self.clock.now() - started_at))
        result = result_document(
            data,
            item,
            article,
            lease.message,
            worker=self.name,
            started_at_s=started_at,
            finished_at_s=self.clock.now(),
            work_s=work_s,
        )
        try:
            await results.write_json(blob, result, create_only=True)
        except ETagConflictError:
            await self._leases.end(lease, delete=True)
            reason = "another worker wrote the result first"
            self._record(lease.message, data, "duplicate", started_at, reason=reason, work_s=work_s)
            return
        await self._leases.end(lease, delete=True)
        self._record(lease.message, data, "processed", started_at, work_s=work_s)

    async def _claimed_item(self, data: dict[str, Any]) -> dict[str, Any]:
        cap = self.settings.max_claim_bytes
        container, blob = claim_reference(data, self.settings.claims_container)
        content = await self.account.container(container).read_bytes(blob, max_bytes=cap)
        return claimed_item(data, content, cap)

    async def _poison(self, lease: Lease, reason: str) -> None:
        """Copy the message, raw, to the poison queue with the reason; then delete it."""
        assert self._leases is not None
        message = lease.message
        settings = self.settings
        poison = await self.account.queue(settings.poison_queue_name).create_if_missing()
        envelope = poison_envelope(
            message, reason=reason, source_queue=settings.queue_name, worker=self.name
        )
        try:
            await poison.send(envelope)
        except MessageTooLargeError:
            # The raw content plus the envelope passes 64 KiB: keep the raw content in a blob.
            name = poison_blob_name(settings.queue_name, message.id)
            results = self.account.container(settings.results_container)
            await results.write_bytes(
                name, message.raw_content.encode("utf-8"), content_type="text/plain"
            )
            envelope.update(raw_content=None, raw_blob=f"{settings.results_container}/{name}")
            await poison.send(envelope)
        await self._leases.end(lease, delete=True)

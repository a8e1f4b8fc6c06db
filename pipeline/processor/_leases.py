"""Visibility leases: a message the processor holds stays hidden (its visibility renewed at half
the timeout) until it is deleted or released."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from pipeline.errors import StorageAuthError, StorageError, StorageUnavailableError
from pipeline.processor._records import ProcessorStats, message_line
from pipeline.storage import QueueAdapter, ReceivedMessage

log = logging.getLogger("pipeline.processor")


class Lease:
    """A message we hold, with its latest pop receipt; the lock orders renewals and the end."""

    __slots__ = ("message", "lock", "keeper", "lost", "started", "ended")

    def __init__(self, message: ReceivedMessage) -> None:
        self.message = message
        self.lock = asyncio.Lock()
        self.keeper: asyncio.Task[None] | None = None
        self.lost = False  # the receipt is no longer ours
        self.started = False  # a worker began on it
        self.ended = False  # deleted or released


class Leases:
    """Takes and ends the leases of one processor instance on ``queue``."""

    def __init__(
        self,
        queue: QueueAdapter,
        *,
        visibility_timeout_s: int,
        stats: ProcessorStats,
        worker: str,
        on_auth_failure: Callable[[StorageAuthError], None],
    ) -> None:
        self.queue = queue
        self.visibility_timeout_s = visibility_timeout_s
        self.stats = stats
        self.worker = worker
        self.on_auth_failure = on_auth_failure

    def hold(self, message: ReceivedMessage) -> Lease:
        """Start renewing the visibility of a message just received."""
        lease = Lease(message)
        lease.keeper = asyncio.ensure_future(self._keep(lease))
        return lease

    async def _keep(self, lease: Lease) -> None:
        """Renew the message's visibility before it lapses, until the lease ends."""
        interval = self.visibility_timeout_s / 2
        while True:
            await asyncio.sleep(interval)
            async with lease.lock:
                try:
                    lease.message = await self.queue.update_visibility(
                        lease.message, self.visibility_timeout_s
                    )
                except StorageAuthError as exc:
                    self.on_auth_failure(exc)
                    return
                except StorageUnavailableError as exc:
                    self.stats.storage_errors += 1
                    interval = max(self.visibility_timeout_s / 8, 0.05)
                    log.warning(
                        message_line("renew_failed", self.worker, lease.message, error=str(exc))
                    )
                    continue
                except StorageError as exc:
                    # The receipt is no longer ours (it lapsed and another worker took it).
                    self.stats.storage_errors += 1
                    lease.lost = True
                    log.warning(
                        message_line("lease_lost", self.worker, lease.message, error=str(exc))
                    )
                    return
            self.stats.visibility_renewals += 1
            interval = self.visibility_timeout_s / 2

    async def end(
        self, lease: Lease, *, delete: bool = False, release_after_s: int = 0, reason: str = ""
    ) -> None:
        """Stop renewing, then delete the message or make it visible after ``release_after_s``.
        Raises ``StorageAuthError``; other storage errors are logged (the message comes back
        when its visibility lapses)."""
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
                    await self.queue.delete(lease.message)
                else:
                    lease.message = await self.queue.update_visibility(
                        lease.message, release_after_s
                    )
            except StorageAuthError:
                raise
            except StorageError as exc:
                self.stats.storage_errors += 1
                event = "delete_failed" if delete else "release_failed"
                log.warning(
                    message_line(event, self.worker, lease.message, reason=reason, error=str(exc))
                )

"""``HistoryIndex``: record the keys of queued items, load the keys of the lookback window.

One append blob per hour of the items' times (``layout``); each ``record()`` call appends one
block of version 2 lines (``codec``) per hour bucket it touches. ``load(now)`` lists the days
of the window (``(now - lookback, now]``, ``window``), downloads only the hour buckets inside it
(concurrently, bounded by count and by bytes in flight), parses each as it arrives and never
reads a collection blob. Retention (``cleanup``, ``cleanup_collections``) lives in ``retention``.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import gc
import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from pipeline._tasks import gather_bounded
from pipeline.errors import StorageError
from pipeline.history.codec import add_window_entries, encode_lines
from pipeline.history.keys import SeenKeys, key_digests
from pipeline.history.layout import HISTORY_PREFIX, bucket_hour, bucket_name, day_path
from pipeline.history.retention import cleanup_buckets, cleanup_collections
from pipeline.history.window import (
    DEFAULT_LOOKBACK,
    DEFAULT_RETENTION,
    Window,
    check_lookback_and_retention,
    floor_hour,
    utc,
)
from pipeline.messages import COLLECTIONS_PREFIX
from pipeline.storage import BlobInfo, BlobStore

__all__ = ["HistoryIndex", "LoadStats"]

log = logging.getLogger(__name__)

_ONE_US = timedelta(microseconds=1)
# An append blob takes at most 50,000 blocks; past that a bucket rolls over to a new part.
_BLOCK_LIMIT_CODE = "BlockCountExceedsLimit"
_MAX_PARTS = 1_000
# A load downloads buckets of at most this many bytes at once (any one bucket, whatever its
# size, when none is in flight). Buckets downloaded together arrive together: a day of 100,000
# items makes three buckets of about 2 MB, and the three in flight at once all arrived before
# the first could be parsed. One at a time, each is parsed while the next one downloads.
_BYTES_IN_FLIGHT = 2 * 1024 * 1024


class _DownloadBudget:
    """At most ``count`` downloads in flight and, past the first, ``max_bytes`` bytes; the
    waiters are let in in order."""

    def __init__(self, count: int, max_bytes: int) -> None:
        self._count = count
        self._max_bytes = max_bytes
        self._in_flight = 0
        self._bytes = 0
        self._waiters: collections.deque[tuple[int, asyncio.Future[None]]] = collections.deque()

    def _fits(self, size: int) -> bool:
        return not self._in_flight or (
            self._in_flight < self._count and self._bytes + size <= self._max_bytes
        )

    def _take(self, size: int) -> None:
        self._in_flight += 1
        self._bytes += size

    async def acquire(self, size: int) -> None:
        if not self._waiters and self._fits(size):
            self._take(size)
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append((size, waiter))
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release(size)  # let in, then cancelled: pass it on
            else:
                self._waiters.remove((size, waiter))
            raise

    def release(self, size: int) -> None:
        self._in_flight -= 1
        self._bytes -= size
        while self._waiters and self._fits(self._waiters[0][0]):
            size, waiter = self._waiters.popleft()
            self._take(size)
            waiter.set_result(None)


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@dataclass(frozen=True, slots=True)
class LoadStats:
    """What the last ``HistoryIndex.load`` read (for logs and the benchmark)."""

    buckets_read: int
    bytes_read: int
    entries_in_window: int
    digests: int


class HistoryIndex:
    """The dedup history in ``store`` under ``prefix``: hour buckets of key digests.

    ``lookback``: how far back ``load`` sees (default 24 h). ``retention``: how long buckets
    (and, with ``cleanup_collections``, collection blobs) are kept (default 7 days).
    ``max_concurrency``: downloads or deletes in flight at once.
    """

    def __init__(
        self,
        store: BlobStore,
        *,
        lookback: timedelta = DEFAULT_LOOKBACK,
        retention: timedelta = DEFAULT_RETENTION,
        prefix: str = HISTORY_PREFIX,
        max_concurrency: int = 8,
    ) -> None:
        check_lookback_and_retention(lookback, retention)
        if not prefix or not prefix.endswith("/"):
            raise ValueError(f"history prefix must be non-empty and end with '/', got {prefix!r}")
        if prefix.startswith(COLLECTIONS_PREFIX) or COLLECTIONS_PREFIX.startswith(prefix):
            raise ValueError(
                f"history prefix {prefix!r} overlaps the collections prefix {COLLECTIONS_PREFIX!r}"
            )
        if isinstance(max_concurrency, bool) or not (
            isinstance(max_concurrency, int) and max_concurrency >= 1
        ):
            raise ValueError(f"max_concurrency must be an integer >= 1, got {max_concurrency!r}")
        self.store = store
        self.lookback = lookback
        self.retention = retention
        self.prefix = prefix
        self.max_concurrency = max_concurrency
        self.last_load: LoadStats | None = None
        self._parts: dict[datetime, int] = {}  # bucket hour -> overflow part being appended to

    def __repr__(self) -> str:
        return (
            f"HistoryIndex(container={self.store.name!r}, prefix={self.prefix!r}, "
            f"lookback={self.lookback}, retention={self.retention})"
        )

    def bucket_name(self, hour: datetime, part: int = 0) -> str:
        """``<prefix>YYYY/MM/DD/HH.jsonl`` for the hour holding ``hour`` (``HH.<part>.jsonl``
        for an overflow part)."""
        return bucket_name(self.prefix, hour, part)

    # -- write ---------------------------------------------------------------------------
    async def record(self, entries: Iterable[tuple[Iterable[str], datetime]]) -> int:
        """Append ``(keys, time)`` entries to their hour buckets; returns entries written.

        One append per bucket per call (grouped), so concurrent writers lose nothing.
        Entries without keys are skipped.
        """
        return await self.record_digests((key_digests(keys), when) for keys, when in entries)

    async def record_digests(self, entries: Iterable[tuple[Sequence[bytes], datetime]]) -> int:
        """``record`` for keys already digested (``key_digests``): the collector digests an
        item's keys once, for its dedup check, and records those digests."""
        buckets: dict[datetime, tuple[list[int], list[Sequence[bytes]]]] = {}
        for digests, when in entries:
            if not digests:
                continue
            moment = utc(when)
            hour = floor_hour(moment)
            times, keys_of = buckets.setdefault(hour, ([], []))
            times.append((moment - hour) // _ONE_US)
            keys_of.append(digests)
        if not buckets:
            return 0
        await gather_bounded(self.max_concurrency, self._append, buckets.items())
        return sum(len(times) for times, _ in buckets.values())

    async def _append(
        self, bucket: tuple[datetime, tuple[list[int], list[Sequence[bytes]]]]
    ) -> None:
        hour, (times, keys_of) = bucket
        lines = encode_lines(hour, times, keys_of)
        part = self._parts.get(hour, 0)
        while True:
            try:
                await self.store.append_jsonl(self.bucket_name(hour, part), lines)
            except StorageError as exc:
                # A full append blob (50,000 blocks): go on in the next part. Entries that
                # went into the full part before the error are repeated, which is harmless.
                if _BLOCK_LIMIT_CODE not in str(exc) or part >= _MAX_PARTS:
                    raise
                part += 1
                self._parts[hour] = part
                continue
            return

    # -- read ----------------------------------------------------------------------------
    async def load(self, now: datetime) -> SeenKeys:
        """The keys recorded with a time in ``(now - lookback, now]``.

        The window's days are listed (with sizes) and only the hour buckets inside the window
        are downloaded (bounded by count and by bytes in flight), each parsed as it arrives.
        Unreadable lines are logged and skipped, not fatal.
        """
        window = Window.ending_at(now, self.lookback)
        lo_us, hi_us = window.bounds_us()
        first_hour, last_hour = window.hours()

        seen = SeenKeys()
        # The set of digests is a container the collector traverses on every pass over the
        # generation it is in: moved to the oldest generation while still empty (a pass over
        # the young ones is cheap), a load of 300,000 digests does not cost the run's first
        # passes tens of milliseconds each.
        gc.collect(1)
        budget = _DownloadBudget(self.max_concurrency, _BYTES_IN_FLIGHT)

        async def read_bucket(bucket: BlobInfo) -> tuple[int, int]:
            """(bytes, entries in the window) of one bucket; parsed as soon as it arrives."""
            await budget.acquire(bucket.size)
            try:
                data = await self.store.read_bytes(bucket.name)
            finally:
                budget.release(bucket.size)
            await asyncio.sleep(0)  # the download let in by the release goes out first
            if data is None:  # deleted by a cleanup between list and download
                return 0, -1
            return len(data), add_window_entries(seen, bucket.name, data, lo_us, hi_us)

        # One listing a day of the window, at once: a listing with sizes costs its parse per
        # blob, and a prefix shared by the window's days would list other days' buckets too.
        listings = await gather_bounded(
            self.max_concurrency,
            self.store.list,
            [self.prefix + day_path(d) for d in window.days()],
        )
        buckets = [
            info
            for listing in listings
            for info in listing
            if (hour := bucket_hour(self.prefix, info.name)) is not None
            and first_hour <= hour <= last_hour
        ]
        # Tens of thousands of small strings, no cycles: a collection pass over the process's
        # heap after every few hundred of them would cost more than the whole parse.
        with _gc_paused():
            results = await asyncio.gather(*(read_bucket(bucket) for bucket in buckets))
        size = sum(size for size, _ in results)
        entries = sum(count for _, count in results if count >= 0)
        self.last_load = LoadStats(
            buckets_read=sum(1 for _, count in results if count >= 0),
            bytes_read=size,
            entries_in_window=entries,
            digests=len(seen),
        )
        log.info(
            "history_load window_start=%s now=%s buckets=%d bytes=%d entries=%d digests=%d",
            window.start.isoformat(),
            window.end.isoformat(),
            self.last_load.buckets_read,
            size,
            entries,
            len(seen),
        )
        return seen

    # -- retention -----------------------------------------------------------------------
    async def cleanup(self, now: datetime) -> int:
        """Delete index buckets whose whole hour is older than ``now - retention``; returns
        blobs deleted. Blobs under the prefix that do not follow the layout are left alone."""
        return await cleanup_buckets(
            self.store,
            now,
            self.retention,
            prefix=self.prefix,
            max_concurrency=self.max_concurrency,
        )

    async def cleanup_collections(
        self,
        now: datetime,
        *,
        store: BlobStore | None = None,
        prefix: str = COLLECTIONS_PREFIX,
    ) -> int:
        """Delete collection blobs (default: this index's container) that started before
        ``now - retention``; returns blobs deleted."""
        return await cleanup_collections(
            store or self.store,
            now,
            self.retention,
            prefix=prefix,
            max_concurrency=self.max_concurrency,
        )

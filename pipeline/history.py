"""History dedup shared by runs and collector instances through blob storage.

The index is a set of append blobs, one per hour of the items' times::

    history/YYYY/MM/DD/HH.jsonl        (overflow parts: HH.1.jsonl, HH.2.jsonl, ...)

Each ``record()`` call appends one JSON line per hour bucket it touches (one append block)::

    {"v": 1, "t0": <bucket start, epoch microseconds>, "t": [<offset microseconds>, ...],
     "k": [[<digest>, ...], ...]}

Entry ``i`` has the time ``t0 + t[i]`` and ``k[i]`` holds the digests of its dedup keys
(``key_digest``: 12 bytes of SHA-256, URL-safe base64, 16 characters). Loading the window
``(now - lookback, now]`` lists only the day prefixes the window touches, downloads only the
hour buckets inside it (concurrently, bounded) and never reads a collection blob.

Window rule: an entry at exactly ``now - lookback`` is outside (not seen); one at exactly
``now`` is inside. Times are the caller's (``now`` may be a replayed recording time), never the
wall clock nor a blob's ``last_modified``; naive datetimes are taken as UTC.

Concurrent writers: appends to an append blob are atomic blocks of whole lines, so two
collectors recording into the same bucket at the same time both land. A crash loses at most
the lines not yet appended (a possible duplicate message later, which the processor's
idempotence absorbs); a retried append can only repeat entries, which a set ignores.

``load_history_from_collections`` is the design document's loader (download every collection
blob of the window and hash its items), kept as the benchmark's baseline.
"""

from __future__ import annotations

import array
import asyncio
import base64
import contextlib
import gc
import hashlib
import json
import logging
import re
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import chain
from typing import Any, TypeVar

from pipeline.errors import StorageError
from pipeline.items import ContentItem
from pipeline.messages import COLLECTIONS_PREFIX
from pipeline.storage import BlobStore

__all__ = [
    "DEFAULT_LOOKBACK",
    "DEFAULT_RETENTION",
    "HISTORY_PREFIX",
    "HistoryIndex",
    "LoadStats",
    "SeenKeys",
    "cleanup_collections",
    "collection_started_at",
    "key_digest",
    "load_history_from_collections",
]

log = logging.getLogger(__name__)

DEFAULT_LOOKBACK = timedelta(hours=24)
DEFAULT_RETENTION = timedelta(days=7)
HISTORY_PREFIX = "history/"
_FORMAT_VERSION = 2  # readers also take version 1 lines (a list of digests per entry)
_DIGEST_CHARS = 16
_DIGEST_BYTES = 12  # a multiple of 3: base64 without padding
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US = timedelta(microseconds=1)
_HOUR = timedelta(hours=1)
# Entries per JSON line: keeps one line far below the 4 MiB append block limit.
_MAX_ENTRIES_PER_LINE = 5_000
# An append blob takes at most 50,000 blocks; past that a bucket rolls over to a new part.
_BLOCK_LIMIT_CODE = "BlockCountExceedsLimit"
_MAX_PARTS = 1_000
_BUCKET_RE = re.compile(r"(\d{4})/(\d{2})/(\d{2})/(\d{2})(?:\.(\d+))?\.jsonl")
_COLLECTION_RE = re.compile(r"(\d{4})/(\d{2})/(\d{2})/(\d{2})(\d{2})(\d{2})-[^/]*\.jsonl")

T = TypeVar("T")
A = TypeVar("A")


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def key_digest(key: str) -> str:
    """A short stable digest of a dedup key: 12 bytes of SHA-256 as URL-safe base64 (16 chars).

    96 bits: a false "seen" needs a collision among the window's digests, about
    ``keys_checked * keys_in_window / 2**96`` (1e-19 a day at 30,000 keys a day)."""
    raw = hashlib.sha256(key.encode("utf-8")).digest()[:_DIGEST_BYTES]
    return base64.urlsafe_b64encode(raw).decode("ascii")


class SeenKeys:
    """An in-memory set of key digests: the loaded history, or the keys of one run."""

    __slots__ = ("_digests",)

    def __init__(self, keys: Iterable[str] = ()) -> None:
        self._digests: set[str] = {key_digest(k) for k in keys}

    def __repr__(self) -> str:
        return f"SeenKeys({len(self._digests)} digests)"

    def __len__(self) -> int:
        return len(self._digests)

    def seen(self, keys: Iterable[str]) -> bool:
        """True when ANY of the keys was seen (an item is a duplicate on any key)."""
        digests = self._digests
        return any(key_digest(k) in digests for k in keys)

    def add(self, keys: Iterable[str]) -> None:
        self._digests.update(key_digest(k) for k in keys)

    def add_digests(self, digests: Iterable[str]) -> None:
        """Add digests already computed by ``key_digest`` (as read from the index)."""
        self._digests.update(digests)

    def update(self, other: SeenKeys) -> None:
        self._digests.update(other._digests)

    def digests(self) -> frozenset[str]:
        return frozenset(self._digests)


@dataclass(frozen=True, slots=True)
class LoadStats:
    """What the last ``HistoryIndex.load`` read (for logs and the benchmark)."""

    buckets_read: int
    bytes_read: int
    entries_in_window: int
    digests: int


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _epoch_us(value: datetime) -> int:
    return (_utc(value) - _EPOCH) // _ONE_US


def _floor_hour(value: datetime) -> datetime:
    return value.replace(minute=0, second=0, microsecond=0)


def _days(start: datetime, end: datetime) -> Iterator[datetime]:
    """Midnights of every UTC day from ``start``'s to ``end``'s, both included."""
    day = start.replace(hour=0, minute=0, second=0, microsecond=0)
    while day <= end:
        yield day
        day += timedelta(days=1)


def _day_path(day: datetime) -> str:
    return f"{day:%Y/%m/%d}/"


def _describe(value: object) -> str:
    if isinstance(value, timedelta):
        return f"{value} ({value.total_seconds():g} s)"
    return repr(value)


def _check_window(lookback: timedelta, retention: timedelta) -> None:
    if not isinstance(lookback, timedelta) or lookback <= timedelta(0):
        raise ValueError(
            f"history lookback must be a positive timedelta, got {_describe(lookback)}"
        )
    if not isinstance(retention, timedelta) or retention <= timedelta(0):
        raise ValueError(
            f"history retention must be a positive timedelta, got {_describe(retention)}"
        )
    if retention < lookback:
        raise ValueError(
            f"history retention ({retention}) must be at least the lookback ({lookback}): "
            "entries still inside the lookback window would be deleted"
        )


async def _bounded(limit: int, job: Callable[[A], Awaitable[T]], args: Iterable[A]) -> list[T]:
    """``job(arg)`` for every arg, at most ``limit`` at a time; results in the args' order."""
    semaphore = asyncio.Semaphore(limit)

    async def run(arg: A) -> T:
        async with semaphore:
            return await job(arg)

    return list(await asyncio.gather(*(run(arg) for arg in args)))


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
        _check_window(lookback, retention)
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

    # -- names ---------------------------------------------------------------------------
    def bucket_name(self, hour: datetime, part: int = 0) -> str:
        """``<prefix>YYYY/MM/DD/HH.jsonl`` for the hour holding ``hour`` (``HH.<part>.jsonl``
        for an overflow part)."""
        start = _floor_hour(_utc(hour))
        suffix = f".{part}" if part else ""
        return f"{self.prefix}{start:%Y/%m/%d/%H}{suffix}.jsonl"

    def _parse_bucket(self, name: str) -> datetime | None:
        """The hour a bucket blob covers, or None for a name outside the layout."""
        if not name.startswith(self.prefix):
            return None
        match = _BUCKET_RE.fullmatch(name[len(self.prefix) :])
        if match is None:
            return None
        year, month, day, hour = (int(g) for g in match.groups()[:4])
        try:
            return datetime(year, month, day, hour, tzinfo=UTC)
        except ValueError:
            return None

    # -- write ---------------------------------------------------------------------------
    async def record(self, entries: Iterable[tuple[Iterable[str], datetime]]) -> int:
        """Append ``(keys, time)`` entries to their hour buckets; returns entries written.

        One append per bucket per call (grouped), so concurrent writers lose nothing.
        Entries without keys are skipped.
        """
        buckets: dict[datetime, tuple[list[int], list[list[str]]]] = {}
        for keys, when in entries:
            digests = [key_digest(k) for k in keys]
            if not digests:
                continue
            moment = _utc(when)
            hour = _floor_hour(moment)
            times, keys_of = buckets.setdefault(hour, ([], []))
            times.append((moment - hour) // _ONE_US)
            keys_of.append(digests)
        if not buckets:
            return 0
        await _bounded(self.max_concurrency, self._append, buckets.items())
        return sum(len(times) for times, _ in buckets.values())

    async def _append(self, bucket: tuple[datetime, tuple[list[int], list[list[str]]]]) -> None:
        hour, (times, keys_of) = bucket
        lines = []
        for i in range(0, len(times), _MAX_ENTRIES_PER_LINE):
            chunk = keys_of[i : i + _MAX_ENTRIES_PER_LINE]
            offsets = times[i : i + _MAX_ENTRIES_PER_LINE]
            # v2: digests packed in one string (16 chars each); entry times (µs into the hour,
            # which fit 32 bits) and key counts packed as base64 arrays; the line's first and
            # last time in clear, so a line wholly inside the window is read without unpacking.
            lines.append(
                {
                    "v": _FORMAT_VERSION,
                    "t0": _epoch_us(hour),
                    "lo": min(offsets),
                    "hi": max(offsets),
                    "t": _pack("I", offsets),
                    "n": _pack("B", [len(keys) for keys in chunk]),
                    "d": "".join(chain.from_iterable(chunk)),
                }
            )
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

        Lists the window's day prefixes only and downloads the hour buckets of the window
        (bounded concurrency), each parsed as it arrives. Unreadable lines are logged and
        skipped, not fatal.
        """
        now = _utc(now)
        start = now - self.lookback
        lo_us, hi_us = _epoch_us(start), _epoch_us(now)
        first_hour, last_hour = _floor_hour(start), _floor_hour(now)

        seen = SeenKeys()
        semaphore = asyncio.Semaphore(self.max_concurrency)

        async def read_bucket(name: str) -> tuple[int, int]:
            """(bytes, entries in the window) of one bucket; parsed as soon as it arrives."""
            async with semaphore:
                data = await self.store.read_bytes(name)
            if data is None:  # deleted by a cleanup between list and download
                return 0, -1
            return len(data), _add_lines(seen, name, data, lo_us, hi_us)

        async def read_day(day: datetime) -> list[tuple[int, int]]:
            async with semaphore:
                listing = await self.store.list(self.prefix + _day_path(day))
            names = [
                info.name
                for info in listing
                if (hour := self._parse_bucket(info.name)) is not None
                and first_hour <= hour <= last_hour
            ]
            return list(await asyncio.gather(*(read_bucket(name) for name in names)))

        # Tens of thousands of small strings, no cycles: a collection pass over the process's
        # heap after every few hundred of them would cost more than the whole parse.
        with _gc_paused():
            days = await asyncio.gather(*(read_day(day) for day in _days(first_hour, last_hour)))
        results = [result for day in days for result in day]
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
            start.isoformat(),
            now.isoformat(),
            self.last_load.buckets_read,
            size,
            entries,
            len(seen),
        )
        return seen

    # -- cleanup -------------------------------------------------------------------------
    async def cleanup(self, now: datetime) -> int:
        """Delete index buckets whose whole hour is older than ``now - retention``; returns
        blobs deleted. Blobs under the prefix that do not follow the layout are left alone."""
        cutoff = _utc(now) - self.retention
        doomed = [
            info.name
            async for info in self.store.iter(self.prefix)
            if (hour := self._parse_bucket(info.name)) is not None and hour + _HOUR <= cutoff
        ]
        deleted = await _bounded(self.max_concurrency, self.store.delete, doomed)
        count = sum(deleted)
        log.info("history_cleanup cutoff=%s deleted=%d", cutoff.isoformat(), count)
        return count

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


def _add_lines(seen: SeenKeys, name: str, data: bytes, lo_us: int, hi_us: int) -> int:
    """Add the digests of the entries with ``lo_us < t <= hi_us``; returns entries added."""
    added = 0
    for number, line in enumerate(data.splitlines(), 1):
        if not line.strip():
            continue
        try:
            record: Any = json.loads(line)
            base: int = record["t0"]
            if not isinstance(base, int):
                raise ValueError("bad t0")
            if record.get("v", 1) == 1:
                times: list[int] = record["t"]
                if not times:
                    continue
                first, last = min(times), max(times)
            else:
                first, last = record["lo"], record["hi"]
        except (ValueError, KeyError, TypeError):
            log.warning("history_bad_line blob=%s line=%d skipped", name, number)
            continue
        lo, hi = lo_us - base, hi_us - base  # the window in the line's offsets
        if hi < first or last <= lo:  # wholly outside the window
            continue
        try:
            if lo < first and last <= hi and record.get("v", 1) != 1:  # the usual case
                packed: str = record["d"]
                count = len(_unpack("B", record["n"]))
                if len(packed) != _DIGEST_CHARS * sum(_unpack("B", record["n"])):
                    raise ValueError("digest string and counts disagree")
                step = _DIGEST_CHARS
                seen.add_digests(packed[i : i + step] for i in range(0, len(packed), step))
                added += count
                continue
            entries = list(zip(_times_of(record), _keys_of(record), strict=True))
        except (ValueError, KeyError, TypeError):
            log.warning("history_bad_line blob=%s line=%d skipped", name, number)
            continue
        for when, keys in entries:
            if lo < when <= hi:
                seen.add_digests(keys)
                added += 1
    return added


def _pack(typecode: str, values: list[int]) -> str:
    return base64.b64encode(array.array(typecode, values).tobytes()).decode("ascii")


def _unpack(typecode: str, text: str) -> array.array[int]:
    values = array.array(typecode)
    values.frombytes(base64.b64decode(text))
    return values


def _times_of(record: Any) -> list[int]:
    """Each entry's time (µs into the line's hour) of an index line, version 2 or 1."""
    if record.get("v", 1) == 1:
        times: list[int] = record["t"]
        return times
    return list(_unpack("I", record["t"]))


def _keys_of(record: Any) -> list[list[str]]:
    """The digests of each entry of an index line, version 2 or 1."""
    if record.get("v", 1) == 1:
        keys: list[list[str]] = record["k"]
        return keys
    packed: str = record["d"]
    counts = _unpack("B", record["n"])
    if len(packed) != _DIGEST_CHARS * sum(counts):
        raise ValueError("digest string and counts disagree")
    out = []
    at = 0
    for count in counts:
        end = at + count * _DIGEST_CHARS
        out.append([packed[i : i + _DIGEST_CHARS] for i in range(at, end, _DIGEST_CHARS)])
        at = end
    return out


# -- collection blobs: the design's loader and the retention of collections --------------
def collection_started_at(name: str, prefix: str = COLLECTIONS_PREFIX) -> datetime | None:
    """The start time in a collection blob's name
    (``collections/YYYY/MM/DD/HHMMSS-<id>.jsonl``), or None for another name."""
    if not name.startswith(prefix):
        return None
    match = _COLLECTION_RE.fullmatch(name[len(prefix) :])
    if match is None:
        return None
    try:
        year, month, day, hour, minute, second = (int(g) for g in match.groups())
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError:
        return None


async def cleanup_collections(
    store: BlobStore,
    now: datetime,
    retention: timedelta = DEFAULT_RETENTION,
    *,
    prefix: str = COLLECTIONS_PREFIX,
    max_concurrency: int = 8,
) -> int:
    """Delete the collection blobs whose name says they started before ``now - retention``;
    returns blobs deleted. Names outside the layout are left alone."""
    if not isinstance(retention, timedelta) or retention <= timedelta(0):
        raise ValueError(
            f"collection retention must be a positive timedelta, got {_describe(retention)}"
        )
    cutoff = _utc(now) - retention
    doomed = [
        info.name
        async for info in store.iter(prefix)
        if (started := collection_started_at(info.name, prefix)) is not None and started < cutoff
    ]
    deleted = await _bounded(max_concurrency, store.delete, doomed)
    count = sum(deleted)
    log.info("collections_cleanup cutoff=%s deleted=%d", cutoff.isoformat(), count)
    return count


async def load_history_from_collections(
    store: BlobStore,
    now: datetime,
    lookback: timedelta = DEFAULT_LOOKBACK,
    *,
    prefix: str = COLLECTIONS_PREFIX,
    max_concurrency: int = 8,
) -> SeenKeys:
    """The design document's loader: every collection blob that started in
    ``(now - lookback, now]`` (judged by its name) is downloaded and each item's dedup keys
    are digested. The baseline ``HistoryIndex.load`` is measured against."""
    if not isinstance(lookback, timedelta) or lookback <= timedelta(0):
        raise ValueError(
            f"history lookback must be a positive timedelta, got {_describe(lookback)}"
        )
    now = _utc(now)
    start = now - lookback
    listings = await _bounded(
        max_concurrency, store.list, [prefix + _day_path(day) for day in _days(start, now)]
    )
    names = [
        info.name
        for listing in listings
        for info in listing
        if (started := collection_started_at(info.name, prefix)) is not None
        and start < started <= now
    ]
    collections = await _bounded(max_concurrency, store.read_jsonl, names)
    seen = SeenKeys()
    for records in collections:
        for record in records:
            seen.add(ContentItem.from_dict(record).dedup_keys())
    return seen

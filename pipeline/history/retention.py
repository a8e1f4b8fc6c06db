"""Retention: deleting index buckets and collection blobs older than ``now - retention``.

The design's risk "history growing without bound": after each run the collector deletes the
index's hour buckets whose whole hour ended before the cutoff, and the collection blobs whose
name says they started before it. Names outside the layout are left alone.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from pipeline._tasks import gather_bounded
from pipeline.history.layout import bucket_hour, collection_started_at
from pipeline.history.window import DEFAULT_RETENTION, require_positive, utc
from pipeline.messages import COLLECTIONS_PREFIX
from pipeline.storage import BlobStore

__all__ = ["cleanup_buckets", "cleanup_collections"]

log = logging.getLogger(__name__)

_HOUR = timedelta(hours=1)


async def cleanup_buckets(
    store: BlobStore,
    now: datetime,
    retention: timedelta,
    *,
    prefix: str,
    max_concurrency: int = 8,
) -> int:
    """Delete the index buckets under ``prefix`` whose whole hour is older than
    ``now - retention``; returns blobs deleted."""
    require_positive("history retention", retention)
    cutoff = utc(now) - retention

    def doomed(name: str) -> bool:
        hour = bucket_hour(prefix, name)
        return hour is not None and hour + _HOUR <= cutoff

    count = await _delete_where(store, prefix, doomed, max_concurrency)
    log.info("history_cleanup cutoff=%s deleted=%d", cutoff.isoformat(), count)
    return count


async def cleanup_collections(
    store: BlobStore,
    now: datetime,
    retention: timedelta = DEFAULT_RETENTION,
    *,
    prefix: str = COLLECTIONS_PREFIX,
    max_concurrency: int = 8,
) -> int:
    """Delete the collection blobs whose name says they started before ``now - retention``;
    returns blobs deleted."""
    require_positive("collection retention", retention)
    cutoff = utc(now) - retention

    def doomed(name: str) -> bool:
        started = collection_started_at(name, prefix)
        return started is not None and started < cutoff

    count = await _delete_where(store, prefix, doomed, max_concurrency)
    log.info("collections_cleanup cutoff=%s deleted=%d", cutoff.isoformat(), count)
    return count


async def _delete_where(
    store: BlobStore, prefix: str, doomed: Callable[[str], bool], max_concurrency: int
) -> int:
    """Delete the blobs under ``prefix`` whose name ``doomed`` picks; returns blobs deleted."""
    names = [info.name async for info in store.iter(prefix) if doomed(info.name)]
    return sum(await gather_bounded(max_concurrency, store.delete, names))

"""The history loader the original design proposed, kept only as the baseline of bench_history_load.py.

It downloads every collection blob that started in the window and digests each item's dedup
keys, where ``HistoryIndex.load`` reads the window's hour buckets of digests. It imports
``pipeline``: the project root must be on ``sys.path`` (the benchmark puts it there, pytest's
``pythonpath`` does for the tests).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pipeline._tasks import gather_bounded
from pipeline.history import SeenKeys, collection_started_at
from pipeline.history.layout import day_path
from pipeline.history.window import DEFAULT_LOOKBACK, Window
from pipeline.items import ContentItem
from pipeline.messages import COLLECTIONS_PREFIX
from pipeline.storage import BlobStore


async def load_history_from_collections(
    store: BlobStore,
    now: datetime,
    lookback: timedelta = DEFAULT_LOOKBACK,
    *,
    prefix: str = COLLECTIONS_PREFIX,
    max_concurrency: int = 8,
) -> SeenKeys:
    """The original design's loader: every collection blob that started in
    ``(now - lookback, now]`` (judged by its name) is downloaded and each item's dedup keys
    are digested. The baseline ``HistoryIndex.load`` is measured against."""
    window = Window.ending_at(now, lookback)
    listings = await gather_bounded(
        max_concurrency, store.list, [prefix + day_path(day) for day in window.days()]
    )
    names = [
        info.name
        for listing in listings
        for info in listing
        if (started := collection_started_at(info.name, prefix)) is not None and started in window
    ]
    collections = await gather_bounded(max_concurrency, store.read_jsonl, names)
    seen = SeenKeys()
    for records in collections:
        for record in records:
            seen.add(ContentItem.from_dict(record).dedup_keys())
    return seen

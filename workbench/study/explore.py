"""Notebook 01: what a recording holds, per run and per source, before any storage is involved.

Every run is replayed through the real collectors twice: all sources at once on a fast clock
(when each item becomes available within the run) and one source after another with no waiting
(the items in configuration order, for the overlap between runs, and the time a sequential
batch collection needs).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pipeline.clock import Clock
from pipeline.recording import (
    Recording,
    first_item_limit_seconds,
    replay_run,
    replay_run_sequential,
)
from workbench._inspect import DEFAULT_SPEED, run_document
from workbench.study import _sync
from workbench.study._results import EXPLORE_FILE, Results, recording_paths, shown_path

# A dedup key's prefix (``ContentItem.dedup_keys``) and the word the report uses for it.
KEY_KINDS = {"id": "id", "url": "link", "hash": "text"}


def explore_recordings(
    recordings: list[str | Path], results: Results, speed: float = DEFAULT_SPEED
) -> dict[str, Any]:
    """Explore every recording and write ``explore.json``; returns its document."""
    doc = {
        "speed": speed,
        "recordings": {
            path.name: _sync.call(explore_recording, path, speed)
            for path in recording_paths(recordings)
        },
    }
    results.save(EXPLORE_FILE, doc)
    return doc


@contextlib.contextmanager
def _sources_quiet() -> Iterator[None]:
    """Source errors are counted in the tables; three replays per run would log each thrice."""
    logger = logging.getLogger("pipeline.sources")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def explore_recording(path: str | Path, speed: float = DEFAULT_SPEED) -> dict[str, Any]:
    """Per run: per-source counters, when each source's items became available, the first-item
    limit, and how the run's items overlap with earlier runs (by key kind)."""
    with _sources_quiet():
        return _explore(Recording.open(path), speed)


def _explore(recording: Recording, speed: float) -> dict[str, Any]:
    runs = []
    for run in recording.runs:
        result = asyncio.run(replay_run(recording, run.index, Clock(speed)))
        limit, per_source = first_item_limit_seconds(recording, run.index)
        doc = run_document(result, limit, per_source)
        doc["concurrent_collection_seconds"] = doc.pop("duration_s")
        doc["accepted_at"] = {name: list(times) for name, times in result.accepted_at.items()}
        runs.append(doc)
    overlap = overlap_by_key_kind(recording)
    for doc, run_overlap in zip(runs, overlap, strict=True):
        doc["overlap"] = run_overlap
    collected = sum(r["overlap"]["items_collected"] for r in runs)
    duplicates = sum(r["overlap"]["duplicates"] for r in runs)
    return {
        "recording": shown_path(recording.path),
        "synthetic": bool(recording.manifest.get("synthetic", False)),
        "sources": {s.name: s.type for s in recording.sources.sources},
        "runs": runs,
        "items_collected": collected,
        "duplicates": duplicates,
        "deduplication_hit_rate": duplicates / collected if collected else 0.0,
    }


def overlap_by_key_kind(recording: Recording) -> list[dict[str, Any]]:
    """Per run, in configuration order: items, duplicates (an item whose key was seen in this
    run or, as the history keeps the keys of new items, in an earlier run), and which kinds of
    key matched (an item may match by several)."""
    seen: set[str] = set()
    out = []
    for run in recording.runs:
        result = asyncio.run(replay_run_sequential(recording, run.index))
        run_seen: set[str] = set()
        new_keys: set[str] = set()
        by_kind: Counter[str] = Counter()
        earlier = within = 0
        items = result.all_items()
        for item in items:
            keys = item.dedup_keys()
            matched = [k for k in keys if k in seen or k in run_seen]
            if matched:
                if any(k in seen for k in matched):
                    earlier += 1
                else:
                    within += 1
                by_kind.update({KEY_KINDS[k.split(":", 1)[0]] for k in matched})
            else:
                new_keys.update(keys)
            run_seen.update(keys)
        seen |= new_keys
        duplicates = earlier + within
        out.append(
            {
                "items_collected": len(items),
                "duplicates": duplicates,
                "duplicates_seen_in_earlier_runs": earlier,
                "duplicates_within_run": within,
                "duplicates_by_key": {kind: by_kind.get(kind, 0) for kind in KEY_KINDS.values()},
                "deduplication_hit_rate": duplicates / len(items) if items else 0.0,
                "sequential_collection_seconds": result.duration_s,
            }
        )
    return out

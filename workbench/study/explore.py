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
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pipeline.clock import Clock
from pipeline.recording import (
    Recording,
    first_item_limit_seconds,
    replay_run,
)
from workbench.inspection import DEFAULT_SPEED, dedup_summary, run_document
from workbench.study import _sync
from workbench.study._results import EXPLORE_FILE, Results, recording_paths, shown_path


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
    limit, and how the run's items overlap with earlier runs (duplicates by key kind, per
    source, with examples: ``workbench.inspection.dedup_summary``)."""
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
    dedup = dedup_summary(recording)
    for doc, run_dedup in zip(runs, dedup["runs"], strict=True):
        doc["overlap"] = _overlap(run_dedup)
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
        # Over all runs: duplicates by key kind, per source, and examples (docs/dedup.md).
        "deduplication": {
            key: dedup[key] for key in ("key_order", "by_key", "per_source", "examples")
        },
    }


def _overlap(run: dict[str, Any]) -> dict[str, Any]:
    """A run's entry of ``dedup_summary`` under the names the overlap table reads."""
    collected = run["items_collected"]
    return {
        "items_collected": collected,
        "duplicates": run["duplicates"],
        "duplicates_seen_in_earlier_runs": run["duplicates_seen_in_earlier_runs"],
        "duplicates_within_run": run["duplicates_within_run"],
        "duplicates_by_key": run["by_key"],
        "deduplication_hit_rate": run["duplicates"] / collected if collected else 0.0,
        "sequential_collection_seconds": run["sequential_collection_seconds"],
        "per_source": run["per_source"],
        "examples": run["examples"],
    }

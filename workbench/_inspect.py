"""``workbench inspect``: replay a recording through the collectors and count what happened."""

from __future__ import annotations

import asyncio
import math
from collections import Counter
from pathlib import Path
from typing import Any

from pipeline.clock import Clock
from pipeline.recording import (
    CollectedRun,
    Recording,
    first_item_limit_seconds,
    replay_run,
    replay_run_sequential,
)

DEFAULT_SPEED = 100.0


def inspect_recording(path: str | Path, speed: float = DEFAULT_SPEED) -> dict[str, Any]:
    """Replay every run (sources concurrently, on a clock at ``speed``) and report per source."""
    recording = Recording.open(path)
    runs = []
    for run in recording.runs:
        result = asyncio.run(replay_run(recording, run.index, Clock(speed)))
        limit, per_source = first_item_limit_seconds(recording, run.index)
        runs.append(run_document(result, limit, per_source))
    return {
        "recording": str(recording.path),
        "synthetic": bool(recording.manifest.get("synthetic", False)),
        "speed": speed,
        "sources": [s.name for s in recording.sources.sources],
        "runs": runs,
        "deduplication": dedup_summary(recording),
    }


def run_document(
    result: CollectedRun, limit: float, per_source_limit: dict[str, float]
) -> dict[str, Any]:
    by_type: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    rejections: Counter[str] = Counter()
    statuses: Counter[str] = Counter()
    for stats in result.stats.values():
        by_type[stats.type] += stats.accepted
        errors.update(stats.errors)
        rejections.update(stats.rejections)
        statuses.update({str(k): v for k, v in stats.status_codes.items()})
    firsts = [s.first_accepted_at for s in result.stats.values() if s.first_accepted_at is not None]
    return {
        **result.to_dict(),
        "first_item_limit_seconds": None if math.isinf(limit) else limit,
        "first_item_limit_per_source_seconds": per_source_limit,
        "first_accepted_at": min(firsts) if firsts else None,
        "totals": {
            "requests": sum(s.requests for s in result.stats.values()),
            "status_codes": dict(sorted(statuses.items())),
            "accepted": sum(by_type.values()),
            "accepted_by_type": {t: by_type.get(t, 0) for t in ("reddit", "rss", "mastodon")},
            "rejections": dict(sorted(rejections.items())),
            "errors": dict(sorted(errors.items())),
            "retries": sum(s.retries for s in result.stats.values()),
        },
    }


def dedup_summary(recording: Recording) -> dict[str, Any]:
    """Duplicates by any key (source id, canonical link, content hash) against the earlier
    runs (all within 24 h here: the history keeps the keys of new items) and the run's own
    items (every key seen), sources in configuration order."""
    seen: set[str] = set()
    collected = duplicates = 0
    per_run = []
    for run in recording.runs:
        result = asyncio.run(replay_run_sequential(recording, run.index))
        run_seen: set[str] = set()
        new_keys: set[str] = set()
        run_dups = 0
        items = result.all_items()
        for item in items:
            keys = item.dedup_keys()
            if any(k in seen or k in run_seen for k in keys):
                run_dups += 1
            else:
                new_keys.update(keys)
            run_seen.update(keys)
        seen |= new_keys
        collected += len(items)
        duplicates += run_dups
        per_run.append(
            {
                "index": run.index,
                "items_collected": len(items),
                "duplicates": run_dups,
                "sequential_collection_seconds": result.duration_s,
            }
        )
    return {
        "items_collected": collected,
        "duplicates": duplicates,
        "hit_rate": duplicates / collected if collected else 0.0,
        "runs": per_run,
    }


def _fmt_s(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _fmt_counts(counts: dict[str, int]) -> str:
    return ",".join(f"{k}={v}" for k, v in counts.items()) or "-"


def format_report(doc: dict[str, Any]) -> str:
    """The report as text: one block per run, one line per source."""
    lines = [
        f"recording {doc['recording']} ({'synthetic' if doc['synthetic'] else 'recorded'}), "
        f"{len(doc['runs'])} runs, replayed at speed {doc['speed']:g}; times in recording s"
    ]
    header = (
        f"  {'source':<26} {'type':<8} {'req':>3} {'status':<14} {'accepted':>8} "
        f"{'first_s':>7}  {'rejections':<30} errors"
    )
    for run in doc["runs"]:
        totals = run["totals"]
        lines.append("")
        lines.append(
            f"run {run['index']} started {run['started_at']}: {totals['accepted']} accepted "
            f"({_fmt_counts(totals['accepted_by_type'])}), {totals['requests']} requests, "
            f"{totals['retries']} retries, errors {_fmt_counts(totals['errors'])}, "
            f"first item {_fmt_s(run['first_accepted_at'])} s "
            f"(limit {_fmt_s(run['first_item_limit_seconds'])} s), "
            f"done at {run['duration_s']:.1f} s"
        )
        lines.append(header)
        for name, s in run["sources"].items():
            lines.append(
                f"  {name:<26} {s['type']:<8} {s['requests']:>3} "
                f"{_fmt_counts(s['status_codes']):<14} {s['accepted']:>8} "
                f"{_fmt_s(s['first_accepted_at']):>7}  {_fmt_counts(s['rejections']):<30} "
                f"{_fmt_counts(s['errors'])}"
                + (f" (warnings {_fmt_counts(s['warnings'])})" if s["warnings"] else "")
            )
    dedup = doc.get("deduplication")
    if dedup:
        lines.append("")
        lines.append(
            f"deduplication (any key, history carried across runs): {dedup['duplicates']} of "
            f"{dedup['items_collected']} items = {dedup['hit_rate']:.1%}"
        )
        for run in dedup["runs"]:
            lines.append(
                f"  run {run['index']}: {run['items_collected']} collected, "
                f"{run['duplicates']} duplicates, sources read one after another (batch) "
                f"in {run['sequential_collection_seconds']:.1f} s"
            )
    return "\n".join(lines)

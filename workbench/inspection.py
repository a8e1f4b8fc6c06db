"""``workbench inspect``: replay a recording through the collectors and count what happened."""

from __future__ import annotations

import asyncio
import dataclasses
import math
from collections import Counter
from pathlib import Path
from typing import Any

from pipeline.clock import Clock
from pipeline.items import KEY_KINDS, key_kind
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


EXAMPLES_PER_KIND = 3  # examples of duplicates kept per key kind, overall, per run, per source


@dataclasses.dataclass(frozen=True, slots=True)
class _Sighting:
    """Where an item that holds a key was first seen."""

    run: int
    source: str
    title: str

    def to_dict(self) -> dict[str, Any]:
        return {"run": self.run, "source": self.source, "title": self.title}


class _DedupCounts:
    """Duplicates by key kind, with the first few examples of each kind."""

    def __init__(self) -> None:
        self.duplicates = 0
        self.by_key: Counter[str] = Counter()
        self.examples: dict[str, list[dict[str, Any]]] = {kind: [] for kind in KEY_KINDS}

    def add(self, kind: str, example: dict[str, Any]) -> None:
        self.duplicates += 1
        self.by_key[kind] += 1
        if len(self.examples[kind]) < EXAMPLES_PER_KIND:
            self.examples[kind].append(example)

    def to_dict(self, examples: bool = True) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "duplicates": self.duplicates,
            "by_key": {kind: self.by_key[kind] for kind in KEY_KINDS},
        }
        if examples:
            doc["examples"] = {kind: list(found) for kind, found in self.examples.items()}
        return doc


def dedup_summary(recording: Recording) -> dict[str, Any]:
    """Duplicates by any key (source id, canonical link, content hash) against the earlier
    runs (all within 24 h here: the history keeps the keys of new items) and the run's own
    items (every key seen), sources in configuration order, as the collectors count them.

    Each duplicate counts under the kind of the first key that matched, in the order id,
    link, text (``KEY_KINDS``); its example names both items and the key."""
    names = [s.name for s in recording.sources.sources]
    history: dict[str, _Sighting] = {}
    total = _DedupCounts()
    total_by_source = {name: _DedupCounts() for name in names}
    collected = 0
    per_run = []
    for run in recording.runs:
        result = asyncio.run(replay_run_sequential(recording, run.index))
        run_seen: dict[str, _Sighting] = {}
        new_keys: dict[str, _Sighting] = {}
        counts = _DedupCounts()
        by_source = {name: _DedupCounts() for name in names}
        earlier = 0  # duplicates whose matched key an earlier run recorded
        items = result.all_items()
        for item in items:
            keys = item.dedup_keys()
            here = _Sighting(run.index, item.source_name, item.title)
            matched = next((k for k in keys if k in history or k in run_seen), None)
            if matched is None:
                for key in keys:
                    new_keys.setdefault(key, here)
            else:
                kind = key_kind(matched)
                earlier += matched in history
                first = history.get(matched) or run_seen[matched]
                example = {"key": matched, "item": here.to_dict(), "first_seen": first.to_dict()}
                for tally in (counts, total, by_source.setdefault(item.source_name, _DedupCounts()),
                              total_by_source.setdefault(item.source_name, _DedupCounts())):  # fmt: skip
                    tally.add(kind, example)
            for key in keys:
                run_seen.setdefault(key, here)
        for key, sighting in new_keys.items():
            history.setdefault(key, sighting)
        collected += len(items)
        per_run.append(
            {
                "index": run.index,
                "items_collected": len(items),
                **counts.to_dict(),
                "duplicates_seen_in_earlier_runs": earlier,
                "duplicates_within_run": counts.duplicates - earlier,
                "per_source": {name: c.to_dict() for name, c in by_source.items()},
                "sequential_collection_seconds": result.duration_s,
            }
        )
    return {
        "items_collected": collected,
        **total.to_dict(),
        "hit_rate": total.duplicates / collected if collected else 0.0,
        "key_order": list(KEY_KINDS),
        "per_source": {name: c.to_dict(examples=False) for name, c in total_by_source.items()},
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
        lines.extend(format_dedup(dedup))
    return "\n".join(lines)


def _quote(title: str, width: int = 48) -> str:
    short = title if len(title) <= width else title[: width - 3] + "..."
    return f'"{short}"'


def format_dedup(dedup: dict[str, Any]) -> list[str]:
    """The deduplication block of the report: counts by key kind, per run and per source,
    and examples of each kind."""
    lines = [
        f"deduplication (any key, history carried across runs): {dedup['duplicates']} of "
        f"{dedup['items_collected']} items = {dedup['hit_rate']:.1%}; by key "
        f"{_fmt_counts(dedup['by_key'])} (a duplicate counts under the first key that "
        f"matched, in the order {', '.join(dedup['key_order'])})"
    ]
    for run in dedup["runs"]:
        lines.append(
            f"  run {run['index']}: {run['items_collected']} collected, "
            f"{run['duplicates']} duplicates ({_fmt_counts(run['by_key'])}), sources read one "
            f"after another (batch) in {run['sequential_collection_seconds']:.1f} s"
        )
        for name, source in run["per_source"].items():
            if source["duplicates"]:
                lines.append(
                    f"    - {name:<26} {source['duplicates']:>3} ({_fmt_counts(source['by_key'])})"
                )
    for kind, examples in dedup["examples"].items():
        if not examples:
            continue
        lines.append(f"  examples by {kind} (of {dedup['by_key'][kind]}):")
        for ex in examples:
            item, first = ex["item"], ex["first_seen"]
            lines.append(
                f"    run {item['run']} {item['source']} {_quote(item['title'])} = run "
                f"{first['run']} {first['source']} {_quote(first['title'])}  [{ex['key']}]"
            )
    return lines

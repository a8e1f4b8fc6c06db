"""The replay's JSON documents: one run's (the collector's metrics with what the processors did
to each message) and a mode's total over its runs. Times are recording seconds from the start
of each run; percentiles use the one definition (``sim.percentile``)."""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Sequence
from typing import Any

from pipeline.metrics import RunMetrics
from pipeline.processor import ProcessedRecord, Processor
from sim import percentile


def _percentile(values: Sequence[float], q: float) -> float | None:
    """The one percentile definition (``sim.percentile``); None when there are no values."""
    return percentile(values, q) if values else None


def run_document(
    index: int,
    metrics: RunMetrics,
    processors: Sequence[Processor],
    per_source_limits: dict[str, float],
) -> dict[str, Any]:
    doc = metrics.to_dict()
    doc["run"] = index
    doc["first_item_limit_per_source_seconds"] = per_source_limits
    records: list[ProcessedRecord] = [r for p in processors for r in p.records]
    done_by_item: dict[str, ProcessedRecord] = {}
    deliveries: Counter[str] = Counter()
    for rec in records:
        deliveries[rec.item_id] += 1
        if rec.outcome in ("processed", "duplicate"):
            prev = done_by_item.get(rec.item_id)
            if prev is None or rec.finished_at < prev.finished_at:
                done_by_item[rec.item_id] = rec
    for message in doc["messages"]:
        rec = done_by_item.get(message["item_id"])
        message["processed_at"] = rec.finished_at if rec else None
        message["processed_by"] = rec.worker if rec else None
        message["outcome"] = rec.outcome if rec else None
    if processors:
        latencies = [
            m["processed_at"] - m["enqueued_at"]
            for m in doc["messages"]
            if m["processed_at"] is not None
        ]
        processed_times = [m["processed_at"] for m in doc["messages"] if m["processed_at"]]
        outcomes = Counter(r.outcome for r in records)
        per_worker = Counter(r.worker for r in records if r.outcome == "processed")
        doc["processing"] = {
            "items_processed": outcomes.get("processed", 0),
            "duplicates_absorbed": outcomes.get("duplicate", 0),
            "poisoned": outcomes.get("poisoned", 0) + outcomes.get("invalid", 0),
            "unprocessed": sum(1 for m in doc["messages"] if m["processed_at"] is None),
            "redeliveries": sum(n - 1 for n in deliveries.values() if n > 1),
            "time_to_first_item_processed_seconds": min(processed_times, default=None),
            "makespan_seconds": max(processed_times, default=None),
            "latency_p50_seconds": _percentile(latencies, 50),
            "latency_p95_seconds": _percentile(latencies, 95),
            "latency_max_seconds": max(latencies, default=None),
            "items_per_processor": dict(sorted(per_worker.items())),
            "items_per_processor_cv": _cv([per_worker.get(p.name, 0) for p in processors]),
        }
    return doc


_SUM_KEYS = ("items_collected", "items_queued", "duplicates_skipped", "claim_checks")


def mode_total(runs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    total: dict[str, Any] = {k: sum(r[k] for r in runs) for k in _SUM_KEYS}
    total["runs"] = len(runs)
    total["deduplication_hit_rate"] = (
        total["duplicates_skipped"] / total["items_collected"] if total["items_collected"] else 0.0
    )
    for key in (
        "time_to_first_item_queued_seconds",
        "first_item_limit_seconds",
        "time_to_last_item_queued_seconds",
        "throughput_items_per_second",
        "peak_enqueue_rate_10s",
        "gap_cv",
    ):
        values = [r[key] for r in runs if r.get(key) is not None]
        total[key] = statistics.fmean(values) if values else None
        total[f"{key}_max"] = max(values) if values else None
    # An item's identity is its processing key (its content hash, or its id when the text is
    # too short to identify a post): two distinct "How?" posts are not one hash queued twice.
    keys = [m["processing_key"] for r in runs for m in r["messages"]]
    total["distinct_content_hashes"] = len(set(keys))
    total["content_hashes_queued_twice"] = len(keys) - len(set(keys))
    errors: Counter[str] = Counter()
    for r in runs:
        for source, kinds in r["errors"].items():
            for kind, n in kinds.items():
                errors[f"{source}:{kind}"] += n
    total["errors"] = dict(errors)
    if all("processing" in r for r in runs) and runs:
        processing = [r["processing"] for r in runs]
        total["processing"] = {
            k: sum(p[k] for p in processing)
            for k in (
                "items_processed",
                "duplicates_absorbed",
                "poisoned",
                "unprocessed",
                "redeliveries",
            )
        }
        for key in ("latency_p50_seconds", "latency_p95_seconds", "latency_max_seconds",
                    "makespan_seconds", "time_to_first_item_processed_seconds",
                    "items_per_processor_cv"):  # fmt: skip
            values = [p[key] for p in processing if p[key] is not None]
            total["processing"][key] = statistics.fmean(values) if values else None
    return total


def _cv(counts: Sequence[int]) -> float | None:
    """Coefficient of variation (population sd / mean) of the items each instance handled."""
    if not counts or sum(counts) == 0:
        return None
    return statistics.pstdev(counts) / statistics.fmean(counts)

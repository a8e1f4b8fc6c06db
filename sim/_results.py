"""Results of runs: per-message records, timeline, scale events and summary metrics
(docs/simulation.md, Outputs)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from sim._engine import run_once
from sim._records import RunRecords
from sim._scenario import Scenario
from sim._stats import aggregate, percentile

METRICS: tuple[str, ...] = (
    "messages",
    "time_to_first_replica_ready_s",
    "time_to_first_item_processed_s",
    "latency_p50_s",
    "latency_p95_s",
    "latency_max_s",
    "latency_mean_s",
    "wait_mean_s",
    "makespan_s",
    "peak_queue_depth",
    "peak_visible",
    "max_replicas",
    "replica_seconds",
    "cost",
    "scale_events",
    "scale_ups",
    "scale_downs",
    "pods_started",
    "items_per_replica_mean",
    "items_per_replica_cv",
    "redeliveries",
    "duplicate_processing",
    "poisoned",
    "unfinished",
    "end_s",
)


def _nan_if_none(x: float | None) -> float:
    return math.nan if x is None else float(x)


@dataclass
class RunResult:
    """One replication: raw records plus DataFrames and the summary at the edge."""

    scenario: Scenario
    records: RunRecords

    @property
    def seed(self) -> int:
        return self.records.seed

    def summary(self) -> dict[str, float]:
        rec, scenario = self.records, self.scenario
        msgs = rec.messages
        warm = [m for m in msgs if m.enqueued_at >= scenario.warmup_s]
        finished = np.array([m.finished_at for m in warm if m.finished_at is not None], dtype=float)
        enq = np.array([m.enqueued_at for m in warm if m.finished_at is not None], dtype=float)
        latency = finished - enq
        starts = [
            (m.deliveries[0].started_at, m.enqueued_at)
            for m in warm
            if m.deliveries and m.deliveries[0].started_at is not None
        ]
        waits = np.array([s - e for s, e in starts], dtype=float)
        all_finished = [m.finished_at for m in msgs if m.finished_at is not None]
        deliveries = sum(len(m.deliveries) for m in msgs)
        first_deliveries = sum(1 for m in msgs if m.deliveries)
        completed = sum(sum(1 for d in m.deliveries if d.finished_at is not None) for m in msgs)
        processed = sum(1 for m in msgs if m.finished_at is not None)
        items = np.array([p.items for p in rec.pods if p.ready_at is not None], dtype=float)
        ups = sum(1 for e in rec.scale_events if e.to_replicas > e.from_replicas)
        out = {
            "messages": float(len(msgs)),
            "time_to_first_replica_ready_s": _nan_if_none(rec.first_ready_at),
            "time_to_first_item_processed_s": min(all_finished) if all_finished else math.nan,
            "latency_p50_s": percentile(latency, 50),
            "latency_p95_s": percentile(latency, 95),
            "latency_max_s": float(latency.max()) if latency.size else math.nan,
            "latency_mean_s": float(latency.mean()) if latency.size else math.nan,
            "wait_mean_s": float(waits.mean()) if waits.size else math.nan,
            "makespan_s": max(all_finished) if all_finished else math.nan,
            "peak_queue_depth": float(rec.peak_queue_depth),
            "peak_visible": float(rec.peak_visible),
            "max_replicas": float(rec.max_replicas),
            "replica_seconds": rec.replica_seconds,
            "cost": rec.replica_seconds / 3600.0 * scenario.price_per_replica_hour,
            "scale_events": float(len(rec.scale_events)),
            "scale_ups": float(ups),
            "scale_downs": float(len(rec.scale_events) - ups),
            "pods_started": float(items.size),
            "items_per_replica_mean": float(items.mean()) if items.size else math.nan,
            "items_per_replica_cv": (
                float(items.std() / items.mean()) if items.size and items.mean() > 0 else math.nan
            ),
            "redeliveries": float(deliveries - first_deliveries),
            "duplicate_processing": float(completed - processed),
            "poisoned": float(rec.poisoned),
            "unfinished": float(len(msgs) - processed),
            "end_s": rec.end_s,
        }
        return out

    def messages(self) -> pd.DataFrame:
        """One row per message: enqueued, first delivery and start, finished, pod, deliveries."""
        rows = []
        for m in self.records.messages:
            first = m.deliveries[0] if m.deliveries else None
            rows.append(
                {
                    "message_id": m.message_id,
                    "enqueued_at": m.enqueued_at,
                    "first_delivered_at": first.delivered_at if first else math.nan,
                    "started_at": _nan_if_none(first.started_at if first else None),
                    "finished_at": _nan_if_none(m.finished_at),
                    "deleted_at": _nan_if_none(m.deleted_at),
                    "pod": m.processed_by,
                    "deliveries": len(m.deliveries),
                    "redeliveries": max(len(m.deliveries) - 1, 0),
                    "poisoned": m.poisoned,
                }
            )
        return pd.DataFrame(rows)

    def deliveries(self) -> pd.DataFrame:
        """One row per delivery, with why the next one happened."""
        rows = []
        for m in self.records.messages:
            for d in m.deliveries:
                if d.deleted:
                    outcome = "deleted"
                elif d.finished_at is not None:
                    outcome = "delete-failed"
                elif d.pod_removed_at is not None:
                    outcome = "pod-removed"
                else:
                    outcome = "not-finished"
                rows.append(
                    {
                        "message_id": m.message_id,
                        "delivery": d.n,
                        "delivered_at": d.delivered_at,
                        "pod": d.pod_id,
                        "started_at": _nan_if_none(d.started_at),
                        "finished_at": _nan_if_none(d.finished_at),
                        "pod_removed_at": _nan_if_none(d.pod_removed_at),
                        "outcome": outcome,
                    }
                )
        return pd.DataFrame(
            rows,
            columns=[
                "message_id",
                "delivery",
                "delivered_at",
                "pod",
                "started_at",
                "finished_at",
                "pod_removed_at",
                "outcome",
            ],
        )

    def timeline(self) -> pd.DataFrame:
        return pd.DataFrame(
            [vars(r) for r in self.records.timeline],
            columns=[
                "t",
                "visible",
                "in_flight",
                "metric",
                "replicas",
                "ready_replicas",
                "desired",
            ],
        )

    def scale_events(self) -> pd.DataFrame:
        return pd.DataFrame(
            [e.as_dict() for e in self.records.scale_events], columns=["t", "from", "to", "by"]
        )

    def pods(self) -> pd.DataFrame:
        return pd.DataFrame(
            [vars(p) for p in self.records.pods],
            columns=["pod_id", "created_at", "ready_at", "removed_at", "items", "restarts"],
        )


def run(scenario: Scenario, seed: int = 0) -> RunResult:
    """One replication."""
    return RunResult(scenario, run_once(scenario, seed))


@dataclass
class SimulationResult:
    """Replications of one scenario; ``summary`` has mean, sd and 95 % CI per metric."""

    scenario: Scenario
    runs: list[RunResult]

    @property
    def summary(self) -> pd.DataFrame:
        return aggregate([r.summary() for r in self.runs])


def simulate(scenario: Scenario, seeds: int | Sequence[int] = 1) -> SimulationResult:
    """Run ``scenario`` once per seed (``seeds`` = a count, meaning 0..N-1, or explicit seeds)."""
    seed_list = list(range(seeds)) if isinstance(seeds, int) else [int(s) for s in seeds]
    if not seed_list:
        raise ValueError("need at least one seed")
    return SimulationResult(scenario, [run(scenario, s) for s in seed_list])


def summary_of(args: tuple[Scenario, int]) -> dict[str, Any]:
    scenario, seed = args
    return run(scenario, seed).summary()

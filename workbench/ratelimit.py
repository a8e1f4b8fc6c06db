"""The streaming send limit (items/s) swept on a recording, and the rate to recommend.

For each rate (no limit first), every run of the recording is replayed with every source
streaming and the collector's send limit set (``CollectorOptions.rate_limit_items_per_s``),
against storage and without processors: the replayed 10 s peak enqueue rate and the time to
the last item queued. Its enqueue times then go through the KEDA model (``simreport``: random
loop phases, seeds, runs at their real offsets): time to first item processed, p95 latency,
peak queue depth and replica-seconds. Batch is replayed and simulated once as the reference.

:func:`recommend_rate` picks a rate by :data:`RULE` over one or more recordings' sweeps, and
:func:`smoother_arrivals` judges the design's criterion at a rate.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from pipeline.recording import Recording
from pipeline.storage import StorageAccount
from workbench.replay import ProgressFn, ReplayOptions, every_run, replay_runs, run_limits
from workbench.rollout import per_source_summary
from workbench.simreport import SimulationSettings, replay_runs_arrivals, simulate_day

RATES: tuple[float | None, ...] = (None, 20.0, 10.0, 5.0, 2.0)
DEFAULT_P95_SLACK = 0.10
DEFAULT_PEAK_MARGIN = 0.20
RULE = (
    "Recommended send limit: the highest rate (no limit counts as the highest) that, on every "
    "recording, brings the replayed 10 s peak enqueue rate (mean of the runs) at least "
    "{margin:.0%} below batch's and keeps the simulated mean p95 latency at most {slack:.0%} "
    "above the unlimited one's: the least throttling that takes the spike off the queue by "
    "more than the peak varies between runs, without making items wait noticeably longer."
)
# The simulated metrics the sweep keeps (simreport names).
SIM_KEYS = (
    "run_first_item_processed_s",
    "latency_p95_s",
    "peak_queue_depth",
    "replica_seconds",
    "makespan_s",
)


def rate_label(rate: float | None) -> str:
    return "none" if rate is None else f"{rate:g}/s"


async def sweep_rate_limits(
    recording_dir: Path | str,
    *,
    account: StorageAccount,
    rates: Sequence[float | None] = RATES,
    options: ReplayOptions | None = None,
    settings: SimulationSettings | None = None,
    reference_processors: int = 0,
    progress: ProgressFn | None = None,
) -> dict[str, Any]:
    """Batch once, then streaming at each rate; returns ``{"recording", "batch", "rows"}``,
    one row per rate with the replayed and the simulated metrics. Batch and unlimited
    streaming are replayed with ``reference_processors`` processor workers (the evenness of
    their work is measured there), the other rates without."""
    options = options or ReplayOptions()
    settings = settings or SimulationSettings()
    recording = Recording.open(Path(recording_dir))
    limits = run_limits(recording)

    async def one(mode: str, rate: float | None) -> dict[str, Any]:
        collector = dataclasses.replace(options.collector, rate_limit_items_per_s=rate)
        processors = reference_processors if rate is None else 0
        doc = await replay_runs(
            recording,
            account=account,
            modes_for_run=every_run(mode),
            label=f"rate-{mode}-{rate_label(rate)}",
            options=dataclasses.replace(options, collector=collector, processors=processors),
            progress=progress,
            limits=limits,
        )
        if progress:
            progress(f"rate limit {rate_label(rate)} ({mode}): simulating {settings.seeds} seeds")
        arrivals = replay_runs_arrivals(doc["runs"])
        row = _row(mode, rate, doc, simulate_day(arrivals, settings), arrivals)
        return {**row, "processors": processors}

    batch = await one("batch", None)
    rows = [await one("streaming", rate) for rate in rates]
    return {"recording": str(recording_dir), "speed": options.speed, "batch": batch, "rows": rows}


def _row(
    mode: str,
    rate: float | None,
    doc: Mapping[str, Any],
    sim: Mapping[str, Any],
    arrivals: list[tuple[float, list[float]]],
) -> dict[str, Any]:
    total = doc["total"]
    processing = total.get("processing") or {}
    return {
        "mode": mode,
        "rate_limit_items_per_s": rate,
        "rate": rate_label(rate),
        "items_queued": total["items_queued"],
        "content_hashes_queued_twice": total["content_hashes_queued_twice"],
        "time_to_first_item_queued_seconds": total["time_to_first_item_queued_seconds"],
        "peak_enqueue_rate_10s": total["peak_enqueue_rate_10s"],
        "peak_enqueue_rate_10s_max": total["peak_enqueue_rate_10s_max"],
        "gap_cv": total["gap_cv"],
        "time_to_last_item_queued_seconds": total["time_to_last_item_queued_seconds"],
        "time_to_last_item_queued_seconds_max": total["time_to_last_item_queued_seconds_max"],
        "throughput_items_per_second": total["throughput_items_per_second"],
        "per_source": per_source_summary(doc["runs"]),
        "items_per_processor_cv": processing.get("items_per_processor_cv"),
        "replayed_latency_p95_seconds": processing.get("latency_p95_seconds"),
        "simulated": dict(sim),
        "arrivals": arrivals,
    }


def rate_table(sweep: Mapping[str, Any]) -> pd.DataFrame:
    """One row per rate (batch first): replayed columns, then simulated means and intervals."""
    records = []
    for row in [sweep["batch"], *sweep["rows"]]:
        flat = {k: v for k, v in row.items() if k not in ("simulated", "arrivals", "per_source")}
        for key in SIM_KEYS:
            value = row["simulated"][key]
            flat[key] = value["mean"]
            flat[f"{key}_ci_low"] = value["ci_low"]
            flat[f"{key}_ci_high"] = value["ci_high"]
        records.append(flat)
    return pd.DataFrame(records)


def recommend_rate(
    sweeps: Sequence[Mapping[str, Any]],
    p95_slack: float = DEFAULT_P95_SLACK,
    peak_margin: float = DEFAULT_PEAK_MARGIN,
) -> dict[str, Any]:
    """The rate :data:`RULE` picks over the recordings' sweeps (same rates in each), with the
    numbers each candidate was judged on; ``rate`` is None only with no limit chosen, and
    ``found`` is False when no rate met the rule (then the smallest rate is shown)."""
    if not sweeps:
        raise ValueError("no rate sweep to recommend from")
    candidates = []
    rates = [row["rate_limit_items_per_s"] for row in sweeps[0]["rows"]]
    for index, rate in enumerate(rates):
        judged = {}
        ok = True
        for sweep in sweeps:
            row = sweep["rows"][index]
            unlimited = next(r for r in sweep["rows"] if r["rate_limit_items_per_s"] is None)
            batch_peak = sweep["batch"]["peak_enqueue_rate_10s"]
            p95 = row["simulated"]["latency_p95_s"]["mean"]
            p95_none = unlimited["simulated"]["latency_p95_s"]["mean"]
            below = row["peak_enqueue_rate_10s"] <= batch_peak * (1 - peak_margin)
            within = p95 is not None and p95_none is not None and p95 <= p95_none * (1 + p95_slack)
            judged[sweep["recording"]] = {
                "peak_enqueue_rate_10s": row["peak_enqueue_rate_10s"],
                "batch_peak_enqueue_rate_10s": batch_peak,
                "peak_limit": batch_peak * (1 - peak_margin),
                "peak_below_batch": below,
                "latency_p95_s": p95,
                "latency_p95_s_unlimited": p95_none,
                "p95_within_slack": within,
            }
            ok = ok and below and within
        candidates.append(
            {"rate_limit_items_per_s": rate, "meets_rule": ok, "by_recording": judged}
        )
    # Highest first: no limit, then the rates from large to small.
    order = sorted(candidates, key=lambda c: -(c["rate_limit_items_per_s"] or math.inf))
    chosen = next((c for c in order if c["meets_rule"]), None)
    return {
        "rule": RULE.format(slack=p95_slack, margin=peak_margin),
        "p95_slack": p95_slack,
        "peak_margin": peak_margin,
        "found": chosen is not None,
        "rate_limit_items_per_s": (chosen or order[-1])["rate_limit_items_per_s"],
        "rate": rate_label((chosen or order[-1])["rate_limit_items_per_s"]),
        "candidates": candidates,
    }


def smoother_arrivals(sweep: Mapping[str, Any], rate: float | None) -> dict[str, Any]:
    """The design's "smoother KEDA scaling (no spike)" criterion at ``rate``: streaming's
    replayed 10 s peak enqueue rate (mean of runs) below batch's."""
    row = next(r for r in sweep["rows"] if r["rate_limit_items_per_s"] == rate)
    batch = sweep["batch"]["peak_enqueue_rate_10s"]
    streaming = row["peak_enqueue_rate_10s"]
    return {
        "criterion": "Smoother arrivals (lower 10 s peak enqueue rate than batch)",
        "rate": rate_label(rate),
        "passed": streaming < batch,
        "evidence": f"batch {batch:.2f} items/s, streaming at send limit {rate_label(rate)} "
        f"{streaming:.2f} items/s",
    }

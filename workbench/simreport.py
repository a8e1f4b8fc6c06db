"""The KEDA simulation part of the report: the replay's arrivals of each mode through ``sim``.

Every simulation here draws KEDA's poll phase and the HPA's sync phase per seed, uniform over
their periods (:data:`PHASES_WHY` says why), runs ``SimulationSettings.seeds`` seeds (20 by
default) and reports each metric as the mean over seeds with a 95 % t-interval. Each run's
arrivals start at the run's real offset from the first run (its ``started_at``: 0, 8, 16 h in
the shipped recordings), so one simulation is the recording's whole day. Besides the model's
day-level summary, each collection run is measured from its own start (:data:`PER_RUN`): time
to the first replica ready and to the first item processed, from the run's start and from its
first item queued (how responsive KEDA's scaling is to that run), averaged over the runs of a
seed.
"""

from __future__ import annotations

import dataclasses
import json
import math
import statistics
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from scipy import stats as scipy_stats

from sim import (
    Distribution,
    PodSpec,
    RunResult,
    ScalerSpec,
    Scenario,
    Times,
    parse_distribution,
    run,
)
from workbench.errors import WorkbenchError
from workbench.options import DEFAULT_SERVICE_TIME
from workbench.paths import SCALEDOBJECT


@dataclasses.dataclass(frozen=True)
class SimulationSettings:
    """The processor deployment the report simulates (our processor's defaults).

    ``service`` is the parsed distribution the replay's processors were given (``--service-time``),
    so the replay and the simulation cannot read one spec differently; a spec string is parsed
    here (a bad one is a ``ValueError`` naming it).
    """

    scaledobject: Path = SCALEDOBJECT
    service: Distribution = dataclasses.field(
        default_factory=lambda: parse_distribution(DEFAULT_SERVICE_TIME)
    )
    startup: Distribution = dataclasses.field(
        default_factory=lambda: parse_distribution("lognormal(mean=30,sd=10)")
    )
    concurrency: int = 4
    receive_batch_size: int = 4
    platform: str = "kubernetes"
    seeds: int = 20
    # Run even if the ScaledObject sets fields the model does not implement (listed in the output).
    ignore_unsupported: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "service", parse_distribution(self.service))
        object.__setattr__(self, "startup", parse_distribution(self.startup))


# (label, metric, unit, better) in the order the report shows them
SIM_ROWS: tuple[tuple[str, str, str, str], ...] = (
    ("Time to first replica ready from each run's start, mean of runs", "run_first_replica_ready_s", "s", "lower"),
    ("Time to first item processed from each run's start, mean of runs", "run_first_item_processed_s", "s", "lower"),
    ("First item queued -> first replica ready, mean of runs", "queued_to_replica_ready_s", "s", "lower"),
    ("First item queued -> first item processed, mean of runs", "queued_to_first_processed_s", "s", "lower"),
    ("End-to-end latency p50", "latency_p50_s", "s", "lower"),
    ("End-to-end latency p95", "latency_p95_s", "s", "lower"),
    ("End-to-end latency max", "latency_max_s", "s", "lower"),
    ("Last item processed from each run's start, mean of runs", "run_makespan_s", "s", "lower"),
    ("Peak queue depth", "peak_queue_depth", "", "lower"),
    ("Max replicas", "max_replicas", "", "lower"),
    ("Scale events (the day)", "scale_events", "", "lower"),
    ("Replica-seconds (cost, the day)", "replica_seconds", "s", "lower"),
    ("Items per replica, coefficient of variation", "items_per_replica_cv", "", "lower"),
    ("Redeliveries", "redeliveries", "", "lower"),
)  # fmt: skip

PHASES_WHY = (
    "KEDA polls and the HPA syncs on their own clocks, unrelated to the collector's cron start, "
    "so the wait from a run's first queued item to the next poll is uniform over the polling "
    "interval: the phases are drawn per seed, since a phase fixed at the run's start would hand "
    "one mode a lucky or an unlucky wait."
)
# Per collection run, from the records of one simulated day (seconds).
PER_RUN = (
    "run_first_replica_ready_s",  # from the run's start
    "run_first_item_processed_s",  # from the run's start
    "queued_to_replica_ready_s",  # from the run's first item queued
    "queued_to_first_processed_s",  # from the run's first item queued
    "run_makespan_s",  # the run's last item processed, from the run's start
)


def scaler_of(settings: SimulationSettings, **fields: Any) -> ScalerSpec:
    """The ScaledObject of ``settings`` with random loop phases (and ``fields`` set)."""
    scaler = ScalerSpec.from_file(
        settings.scaledobject,
        platform=settings.platform,  # type: ignore[arg-type]
        ignore_unsupported=settings.ignore_unsupported,
    )
    return dataclasses.replace(scaler, keda_poll_phase_s=None, hpa_sync_phase_s=None, **fields)


def pods_of(settings: SimulationSettings) -> PodSpec:
    """Our processor: receives only what it can start, renews visibility."""
    return PodSpec(
        startup=settings.startup,
        service=settings.service,
        concurrency=settings.concurrency,
        receive_batch_size=settings.receive_batch_size,
        renew_visibility=True,
    )


def replay_runs_arrivals(runs: Sequence[Mapping[str, Any]]) -> list[tuple[float, list[float]]]:
    """(offset of the run from the first run's start in seconds, its enqueue times) per run of a
    replay mode's ``runs``; the offset comes from each run's ``started_at``."""
    if not runs:
        raise ValueError("no runs to simulate")
    starts = [datetime.fromisoformat(str(r["started_at"])) for r in runs]
    out = []
    for start, r in zip(starts, runs, strict=True):
        times = [float(m["enqueued_at"]) for m in r.get("messages", [])]
        out.append(((start - starts[0]).total_seconds(), sorted(times)))
    return out


def simulate_day(
    runs: Sequence[tuple[float, Sequence[float]]],
    settings: SimulationSettings,
    *,
    scaler: ScalerSpec | None = None,
    pods: PodSpec | None = None,
) -> dict[str, Any]:
    """One simulated day of collection runs (``(offset_s, enqueue times)`` each), one
    replication per seed with random loop phases; every metric's mean and 95 % interval over
    the seeds (``{metric: {"mean", "ci_low", "ci_high", "n"}}``), the day-level summary
    (``sim.METRICS``) and :data:`PER_RUN` averaged over the runs."""
    day = day_scenario(runs, settings, scaler=scaler, pods=pods)
    offsets = [offset for offset, _ in runs]
    rows = []
    for seed in range(settings.seeds):
        result = run(day, seed)
        rows.append({**result.summary(), **per_run_metrics(result, offsets)})
    return {name: interval([row[name] for row in rows]) for name in rows[0]}


def per_run_metrics(result: RunResult, offsets: Sequence[float]) -> dict[str, float]:
    """:data:`PER_RUN` for each collection run of one simulated day (a run spans from its offset
    to the next run's), averaged over the runs that queued something."""
    rec = result.records
    bounds = [*offsets[1:], math.inf]
    values: dict[str, list[float]] = {name: [] for name in PER_RUN}
    for start, end in zip(offsets, bounds, strict=True):
        msgs = [m for m in rec.messages if start <= m.enqueued_at < end]
        if not msgs:
            continue
        first_queued = min(m.enqueued_at for m in msgs)
        finished = [m.finished_at for m in msgs if m.finished_at is not None]
        # A replica that is ready at some moment of the run: its ready time, or the run's start
        # if it was already up then.
        ready = [
            max(p.ready_at, start)
            for p in rec.pods
            if p.ready_at is not None
            and p.ready_at < end
            and (p.removed_at is None or p.removed_at > start)
        ]
        first_ready = min(ready, default=math.nan)
        first_done = min(finished, default=math.nan)
        values["run_first_replica_ready_s"].append(first_ready - start)
        values["run_first_item_processed_s"].append(first_done - start)
        values["queued_to_replica_ready_s"].append(max(first_ready, first_queued) - first_queued)
        values["queued_to_first_processed_s"].append(first_done - first_queued)
        values["run_makespan_s"].append(
            max(finished) - start if len(finished) == len(msgs) else math.nan
        )
    return {
        name: statistics.fmean(v) if v and not any(map(math.isnan, v)) else math.nan
        for name, v in values.items()
    }


def interval(values: Sequence[float], confidence: float = 0.95) -> dict[str, float | None]:
    """Mean and Student-t interval over the seeds' values (NaNs left out); None when empty."""
    clean = [float(v) for v in values if v is not None and not math.isnan(float(v))]
    n = len(clean)
    if n == 0:
        return {"mean": None, "ci_low": None, "ci_high": None, "n": 0}
    mean = statistics.fmean(clean)
    if n == 1:
        return {"mean": mean, "ci_low": None, "ci_high": None, "n": 1}
    sd = statistics.stdev(clean)
    half = float(scipy_stats.t.ppf(0.5 + confidence / 2, n - 1)) * sd / math.sqrt(n)
    return {"mean": mean, "ci_low": mean - half, "ci_high": mean + half, "n": n}


def read_replay_arrivals(replay_json: Path, mode: str) -> list[tuple[float, list[float]]]:
    """:func:`replay_runs_arrivals` of ``mode`` in a replay JSON file (``ValueError`` naming
    the file when it is not one)."""
    try:
        doc = json.loads(Path(replay_json).read_text())
        runs = doc["modes"][mode]["runs"]
        return replay_runs_arrivals(runs)
    except FileNotFoundError:
        raise ValueError(f"replay file not found: {replay_json}") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{replay_json}: not valid JSON ({exc.msg})") from None
    except (KeyError, TypeError) as exc:
        raise ValueError(f"{replay_json}: no runs of mode {mode!r} ({exc})") from None


def scenario(
    replay_json: Path, mode: str, settings: SimulationSettings, *, timeline: bool = True
) -> Scenario:
    """The scenario simulated for ``mode``: its replayed runs at their real offsets, our pods,
    the ScaledObject with random loop phases (drawn per seed)."""
    return day_scenario(read_replay_arrivals(replay_json, mode), settings, timeline=timeline)


def day_scenario(
    runs: Sequence[tuple[float, Sequence[float]]],
    settings: SimulationSettings,
    *,
    scaler: ScalerSpec | None = None,
    pods: PodSpec | None = None,
    timeline: bool = False,
) -> Scenario:
    """One day of collection runs (``(offset_s, enqueue times)`` each) as a scenario."""
    return Scenario(
        arrivals=Times([offset + t for offset, ts in runs for t in ts]),
        pods=pods or pods_of(settings),
        scaler=scaler or scaler_of(settings),
        timeline_interval_s=5.0 if timeline else None,
    )


def simulate_modes(
    replay_json: Path, modes: list[str], settings: SimulationSettings
) -> dict[str, Any]:
    """For each mode of the replay file: :func:`simulate_day` on its runs' arrivals."""
    try:
        scaler = scaler_of(settings)
        out: dict[str, Any] = {
            "settings": _settings_doc(settings),
            "ignored_fields": list(scaler.ignored_fields),
            "phases": "random",
            "phases_why": PHASES_WHY,
            "modes": {},
        }
        for mode in modes:
            arrivals = read_replay_arrivals(replay_json, mode)
            out["modes"][mode] = simulate_day(arrivals, settings, scaler=scaler)
        return out
    except ValueError as exc:
        raise WorkbenchError(f"simulation: {exc}") from None


def _settings_doc(settings: SimulationSettings) -> dict[str, Any]:
    doc = dataclasses.asdict(settings)
    doc["scaledobject"] = str(settings.scaledobject)
    doc["service"] = str(settings.service)
    doc["startup"] = str(settings.startup)
    return doc


def _num(value: Any) -> float | None:
    value = float(value)
    return None if value != value else value  # NaN -> None for JSON


# The processor the design came from (docs/keda-semantics.md): receive 10, handle them one by
# one, 60 s visibility never renewed, 2 s between batches, 10 s when empty, exit after 180 s idle.
ORIGINAL_SERVICE = "uniform(5,7)"  # ~5-7 s per item with the small model
ORIGINAL_PODS = {
    "concurrency": 1,
    "receive_batch_size": 10,
    "visibility_timeout_s": 60.0,
    "pause_between_batches_s": 2.0,
    "pause_when_empty_s": 10.0,
    "exit_after_idle_s": 180.0,
    "renew_visibility": False,
}
HAZARD_VARIANTS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("original (10 at once, 60 s)", {}),
    ("fix: renew visibility", {"renew_visibility": True}),
    ("fix: receive 1 at a time", {"receive_batch_size": 1}),
)
HAZARD_KEYS = (
    "redeliveries",
    "duplicate_processing",
    "latency_p95_s",
    "makespan_s",
    "replica_seconds",
    "items_per_replica_cv",
)


def processor_hazard(
    runs: Sequence[tuple[float, Sequence[float]]],
    settings: SimulationSettings,
    service: str = ORIGINAL_SERVICE,
) -> dict[str, Any]:
    """The original processor's loop on these arrivals next to the two fixes: redeliveries
    (a message whose visibility ran out while it waited in the pod's batch) and items processed
    twice, with the latency and cost each variant pays; means and intervals over the seeds."""
    base = PodSpec(startup=settings.startup, service=service, **ORIGINAL_PODS)
    scaler = scaler_of(settings)
    out = {}
    for name, change in HAZARD_VARIANTS:
        sim = simulate_day(runs, settings, scaler=scaler, pods=dataclasses.replace(base, **change))
        out[name] = {key: sim[key] for key in HAZARD_KEYS}
    return {
        "service": service,
        "pods": {**ORIGINAL_PODS, "startup": str(settings.startup)},
        "seeds": settings.seeds,
        "variants": out,
    }

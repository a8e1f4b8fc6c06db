"""The rollout study (PRODUCT.md section 7, questions 2-5 and the recommendation) in one call.

``rollout_study(recordings, out)`` runs, against storage (the configured account, else an
Azurite of its own):

1. every rollout option on every recording (``rollout-{name}-{option}.json``) and A/B on the
   fault recording (``rollout-{fault}-ab.json``);
2. the streaming send-limit sweep on every recording, batch as the reference
   (``rate-limit-{name}.json``): replayed arrival shape, and each rate's enqueue times through
   the KEDA model with random loop phases and seeds (``simreport.simulate_day``);
3. the original processor's hazard next to the fixes on each recording's batch and streaming
   arrivals (``hazard-{name}.json``);
4. the scaler tuning (``workbench.tune``) on the tuned recording's streaming arrivals at the
   recommended send limit (``tuning.json``);
5. the recommendation (``recommendation.json``) and an index of it all (``rollout-study.json``).

Every function returns plain dicts; the notebooks and the report read the JSON files.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pipeline.storage import StorageAccount
from sim import Scenario, Times
from workbench.paths import RECORDINGS
from workbench.ratelimit import RATES, recommend_rate, sweep_rate_limits
from workbench.recommend import headline, recommend
from workbench.replay import ProgressFn, ReplayOptions
from workbench.rollout import OPTIONS, run_rollout
from workbench.simreport import (
    PHASES_WHY,
    SimulationSettings,
    pods_of,
    processor_hazard,
    scaler_of,
)
from workbench.tune import tune

FAULT_RECORDING = RECORDINGS / "stalled-feed"
TUNED_RECORDING = "design-scale"  # the design's own scale, when it is among the recordings
HAZARD_SERVICES = ("uniform(5,7)", "uniform(30,45)")  # the small model; the documented range


@dataclasses.dataclass(frozen=True)
class StudySettings:
    """How the study runs: replay speed, processors for the reference replays, the simulation
    settings (seeds, pods, ScaledObject), the rates swept and the tuning's seeds."""

    speed: float = 50.0
    processors: int = 2
    simulation: SimulationSettings = dataclasses.field(default_factory=SimulationSettings)
    rates: tuple[float | None, ...] = RATES
    tune_seeds: int = 20
    tune_grid: dict[str, list[int]] | None = None
    options: tuple[str, ...] = OPTIONS


def _stderr(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def rollout_study(
    recordings: Sequence[Path | str],
    out: Path | str,
    *,
    fault_recording: Path | str | None = FAULT_RECORDING,
    settings: StudySettings | None = None,
    account: StorageAccount | None = None,
    progress: ProgressFn | None = _stderr,
) -> dict[str, Any]:
    """Run the study and write its JSON files into ``out``; returns the index document."""
    settings = settings or StudySettings()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = [Path(r) for r in recordings]
    if account is not None:
        return asyncio.run(_study(paths, out, fault_recording, settings, account, progress))
    from workbench.target import storage_connection

    with storage_connection() as (conn, where):
        if progress:
            progress(f"storage: {where}")

        async def go() -> dict[str, Any]:
            async with StorageAccount(conn) as acc:
                return await _study(paths, out, fault_recording, settings, acc, progress)

        return asyncio.run(go())


async def _study(
    recordings: Sequence[Path],
    out: Path,
    fault_recording: Path | str | None,
    settings: StudySettings,
    account: StorageAccount,
    progress: ProgressFn | None,
) -> dict[str, Any]:
    timings: dict[str, float] = {}
    written: list[str] = []

    def save(name: str, doc: Any) -> None:
        (out / name).write_text(json.dumps(doc, indent=1, default=str))
        written.append(name)

    async def timed(label: str, work: Callable[[], Any]) -> Any:
        start = time.monotonic()
        result = await work()
        timings[label] = round(time.monotonic() - start, 1)
        return result

    replay = ReplayOptions(speed=settings.speed)
    rollouts: dict[str, dict[str, Any]] = {}
    sweeps: dict[str, dict[str, Any]] = {}
    for recording in recordings:
        name = recording.name
        rollouts[name] = {}
        for option in settings.options:
            doc = await timed(
                f"rollout {name} {option}",
                lambda r=recording, o=option: run_rollout(
                    r, o, account=account, options=replay, progress=progress
                ),
            )
            rollouts[name][option] = doc
            save(f"rollout-{name}-{option}.json", doc)
        sweep = await timed(
            f"rate limit {name}",
            lambda r=recording: sweep_rate_limits(
                r,
                account=account,
                rates=settings.rates,
                options=replay,
                settings=settings.simulation,
                reference_processors=settings.processors,
                progress=progress,
            ),
        )
        sweeps[name] = sweep
        save(f"rate-limit-{name}.json", sweep)
    fault = None
    if fault_recording is not None:
        fault = await timed(
            "rollout fault ab",
            lambda: run_rollout(
                fault_recording, "ab", account=account, options=replay, progress=progress
            ),
        )
        save(f"rollout-{Path(fault_recording).name}-ab.json", fault)
    rate = recommend_rate(list(sweeps.values()))
    start = time.monotonic()
    for name, sweep in sweeps.items():
        hazard = {
            mode: {
                service: processor_hazard(arrivals, settings.simulation, service)
                for service in HAZARD_SERVICES
            }
            for mode, arrivals in (
                ("batch", sweep["batch"]["arrivals"]),
                ("streaming", _row_at(sweep, rate["rate_limit_items_per_s"])["arrivals"]),
            )
        }
        save(f"hazard-{name}.json", hazard)
    timings["hazard"] = round(time.monotonic() - start, 1)
    tuned_on = TUNED_RECORDING if TUNED_RECORDING in sweeps else next(iter(sweeps))
    arrivals = _row_at(sweeps[tuned_on], rate["rate_limit_items_per_s"])["arrivals"]
    if progress:
        progress(f"tuning the scaler on {tuned_on}'s streaming arrivals at {rate['rate']}")
    start = time.monotonic()
    scenario = Scenario(
        arrivals=Times([offset + t for offset, ts in arrivals for t in ts]),
        pods=pods_of(settings.simulation),
        scaler=scaler_of(settings.simulation),
        timeline_interval_s=None,
    )
    tuning = tune(scenario, settings.tune_grid, settings.tune_seeds, progress=False)
    tuning_doc = {
        **tuning.to_json(),
        "arrivals": f"{tuned_on}, streaming at send limit {rate['rate']}",
        "seeds": settings.tune_seeds,
    }
    timings["tuning"] = round(time.monotonic() - start, 1)
    save("tuning.json", tuning_doc)
    recommendation = recommend(rollouts, fault, rate, tuning_doc)
    recommendation["headline"] = headline(recommendation)
    save("recommendation.json", recommendation)
    index = {
        "recordings": [str(r) for r in recordings],
        "fault_recording": None if fault_recording is None else str(fault_recording),
        "speed": settings.speed,
        "seeds": settings.simulation.seeds,
        "phases": "random",
        "phases_why": PHASES_WHY,
        "rates": [r for r in settings.rates],
        "files": written,
        "timings_wall_s": timings,
        "headline": recommendation["headline"],
    }
    (out / "rollout-study.json").write_text(json.dumps(index, indent=1))
    return index


def _row_at(sweep: dict[str, Any], rate: float | None) -> dict[str, Any]:
    return next(r for r in sweep["rows"] if r["rate_limit_items_per_s"] == rate)

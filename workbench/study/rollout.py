"""The rollout study's steps (docs/rollout.md: questions 2-5 and the recommendation).

Notebook 02 (storage): :func:`run_rollouts` runs every rollout option on every recording and
A/B on the fault recording (``rollout-{name}.json``, ``rollout-fault-{name}.json``);
:func:`sweep_rate_limits` sweeps the streaming send limit with batch as the reference
(``rate-limit-{name}.json``: replayed arrival shape, and the KEDA model with random loop
phases and seeds on each rate's enqueue times).

Notebook 03 (no storage): :func:`processor_hazards` (``hazard-{name}.json``), :func:`tune_scaler`
on the design-scale recording's streaming arrivals at the recommended send limit
(``tuning.json``) and :func:`write_recommendation` (``recommendation.json``).

:func:`rollout_study` runs them all in that order, for a caller without notebooks.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pipeline.storage import StorageAccount
from sim import parse_distribution
from workbench.paths import DESIGN_SCALE_RECORDING, FAULT_RECORDING
from workbench.ratelimit import RATES, recommend_rate
from workbench.ratelimit import sweep_rate_limits as sweep_one
from workbench.recommend import headline, recommend
from workbench.replay import ReplayOptions
from workbench.rollout import OPTIONS, run_rollout
from workbench.simreport import SimulationSettings, day_scenario, processor_hazard
from workbench.study import _sync
from workbench.study._results import (
    FAULT_FILE,
    HAZARD_FILE,
    RATE_FILE,
    RECOMMENDATION_FILE,
    ROLLOUT_FILE,
    TUNING_FILE,
    Results,
    recording_paths,
    shown_path,
)
from workbench.tune import tune

HAZARD_SERVICES = ("uniform(5,7)", "uniform(30,45)")  # the small model; the documented range
TUNE_SEEDS = 20


def _stderr(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _with_storage(work: Callable[[StorageAccount], Any], progress: Callable[[str], None]) -> Any:
    """``await work(account)`` against the configured storage, else an Azurite of our own."""
    from workbench.connection import storage_connection

    def go() -> Any:
        with storage_connection() as (conn, where):
            progress(f"storage: {where}")

            async def run() -> Any:
                async with StorageAccount(conn) as account:
                    return await work(account)

            return asyncio.run(run())

    return _sync.call(go)


def run_rollouts(
    recordings: Sequence[str | Path],
    results: Results,
    *,
    speed: float,
    options: Sequence[str] = OPTIONS,
    fault_recording: str | Path | None = FAULT_RECORDING,
    progress: Callable[[str], None] = _stderr,
) -> dict[str, dict[str, Any]]:
    """Every option on every recording (``rollout-{name}.json``: ``{"options": {option:
    document}}``) and A/B on the fault recording (``rollout-fault-{name}.json``)."""
    paths = recording_paths(list(recordings))
    fault = recording_paths([fault_recording])[0] if fault_recording is not None else None
    replay = ReplayOptions(speed=speed)

    async def work(account: StorageAccount) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for recording in paths:
            docs = {}
            for option in options:
                progress(f"{recording.name}: rollout {option} at speed {speed:g}")
                docs[option] = _shown(
                    await run_rollout(
                        recording, option, account=account, options=replay, progress=progress
                    ),
                    recording,
                )
            out[recording.name] = {"recording": shown_path(recording), "options": docs}
            results.save(ROLLOUT_FILE, out[recording.name], recording.name)
        if fault is not None:
            progress(f"{fault.name}: rollout ab (the guardrail's fault case)")
            doc = await run_rollout(fault, "ab", account=account, options=replay, progress=progress)
            results.save(FAULT_FILE, _shown(doc, fault), fault.name)
        return out

    return _with_storage(work, progress)  # type: ignore[no-any-return]


def _shown(doc: dict[str, Any], recording: Path) -> dict[str, Any]:
    return {**doc, "recording": shown_path(recording)}


def sweep_rate_limits(
    recordings: Sequence[str | Path],
    results: Results,
    *,
    speed: float,
    settings: SimulationSettings,
    rates: Sequence[float | None] = RATES,
    processors: int = 2,
    service_time: str | None = None,
    progress: Callable[[str], None] = _stderr,
) -> dict[str, dict[str, Any]]:
    """The send-limit sweep of every recording (``rate-limit-{name}.json``); batch and the
    unlimited rate are replayed with ``processors`` workers, whose evenness is measured."""
    paths = recording_paths(list(recordings))
    replay = ReplayOptions(
        speed=speed,
        processor_concurrency=settings.concurrency,
        service_time=parse_distribution(service_time or str(settings.service)),
    )

    async def work(account: StorageAccount) -> dict[str, dict[str, Any]]:
        out = {}
        for recording in paths:
            progress(f"{recording.name}: send-limit sweep {', '.join(map(str, rates))}")
            doc = await sweep_one(
                recording,
                account=account,
                rates=rates,
                options=replay,
                settings=settings,
                reference_processors=processors,
                progress=progress,
            )
            doc["recording"] = shown_path(recording)
            doc["seeds"] = settings.seeds
            results.save(RATE_FILE, doc, recording.name)
            out[recording.name] = doc
        return out

    return _with_storage(work, progress)  # type: ignore[no-any-return]


def _row_at(sweep: dict[str, Any], rate: float | None) -> dict[str, Any]:
    return next(r for r in sweep["rows"] if r["rate_limit_items_per_s"] == rate)


def recommended_rate(recordings: Sequence[str | Path], results: Results) -> dict[str, Any]:
    """The send limit ``ratelimit.RULE`` picks over every recording's sweep."""
    names = [p.name for p in recording_paths(list(recordings))]
    return recommend_rate([results.load(RATE_FILE, name) for name in names])


def processor_hazards(
    recordings: Sequence[str | Path], results: Results, *, settings: SimulationSettings
) -> dict[str, dict[str, Any]]:
    """The original processor's loop next to the fixes, on each recording's batch arrivals and
    its streaming arrivals at the recommended send limit (``hazard-{name}.json``)."""
    rate = recommended_rate(recordings, results)
    out = {}
    for recording in recording_paths(list(recordings)):
        sweep = results.load(RATE_FILE, recording.name)
        doc: dict[str, Any] = {"rate": rate["rate"], "modes": {}}
        for mode, row in (
            ("batch", sweep["batch"]),
            ("streaming", _row_at(sweep, rate["rate_limit_items_per_s"])),
        ):
            doc["modes"][mode] = {
                service: processor_hazard(row["arrivals"], settings, service)
                for service in HAZARD_SERVICES
            }
        results.save(HAZARD_FILE, doc, recording.name)
        out[recording.name] = doc
    return out


def tune_scaler(
    recordings: Sequence[str | Path],
    results: Results,
    *,
    settings: SimulationSettings,
    seeds: int = TUNE_SEEDS,
    grid: dict[str, list[int]] | None = None,
) -> dict[str, Any]:
    """``workbench.tune`` on the design-scale recording's streaming arrivals at the
    recommended send limit (the first recording's when design-scale is not among them);
    writes ``tuning.json``."""
    names = [p.name for p in recording_paths(list(recordings))]
    tuned_on = DESIGN_SCALE_RECORDING.name if DESIGN_SCALE_RECORDING.name in names else names[0]
    rate = recommended_rate(recordings, results)
    row = _row_at(results.load(RATE_FILE, tuned_on), rate["rate_limit_items_per_s"])
    tuning = tune(day_scenario(row["arrivals"], settings), grid, seeds, progress=False)
    doc = {
        **tuning.to_json(),
        "recording": tuned_on,
        "rate": rate["rate"],
        "arrivals": f"{tuned_on}, streaming at send limit {rate['rate']}",
        "seeds": seeds,
        "describe": tuning.describe(),
    }
    results.save(TUNING_FILE, doc)
    return doc


def write_recommendation(
    recordings: Sequence[str | Path],
    results: Results,
    fault_recording: str | Path | None = FAULT_RECORDING,
) -> dict[str, Any]:
    """The option, send limit and scaler settings with their rules (``recommendation.json``)."""
    names = [p.name for p in recording_paths(list(recordings))]
    rollouts = {name: results.load(ROLLOUT_FILE, name)["options"] for name in names}
    fault = None
    if fault_recording is not None:
        fault_name = recording_paths([fault_recording])[0].name
        if results.exists(FAULT_FILE, fault_name):
            fault = results.load(FAULT_FILE, fault_name)
    doc = recommend(
        rollouts, fault, recommended_rate(recordings, results), results.load(TUNING_FILE)
    )
    doc["headline"] = headline(doc)
    doc["fault_recording"] = None if fault is None else fault["recording"]
    results.save(RECOMMENDATION_FILE, doc)
    return doc


def rollout_study(
    recordings: Sequence[str | Path],
    out: str | Path,
    *,
    speed: float = 50.0,
    settings: SimulationSettings | None = None,
    fault_recording: str | Path | None = FAULT_RECORDING,
    progress: Callable[[str], None] = _stderr,
) -> dict[str, Any]:
    """Every step above into ``out``; returns the recommendation."""
    results = Results(out)
    settings = settings or SimulationSettings()
    run_rollouts(
        recordings, results, speed=speed, fault_recording=fault_recording, progress=progress
    )
    sweep_rate_limits(recordings, results, speed=speed, settings=settings, progress=progress)
    processor_hazards(recordings, results, settings=settings)
    tune_scaler(recordings, results, settings=settings)
    return write_recommendation(recordings, results, fault_recording)

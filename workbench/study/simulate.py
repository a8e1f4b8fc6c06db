"""Notebook 03: each mode's replayed enqueue times through the KEDA model.

The table's numbers (mean and 95 % interval over seeds) are ``simulate_modes``'s, the ones
``workbench report`` has always shown. The figures need more than means: each seed's summary
(the spread over seeds) and one seed's timeline and scale events, from the same scenario.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sim import simulate
from workbench.errors import WorkbenchError
from workbench.paths import SCALEDOBJECT
from workbench.replay import MODES
from workbench.simreport import (
    SimulationSettings,
    per_run_metrics,
    read_replay_arrivals,
    scenario,
    simulate_modes,
)
from workbench.study._results import REPLAY_FILE, SIMULATION_FILE, Results, recording_paths

DEFAULT_STARTUP = "lognormal(mean=30,sd=10)"  # pod start-up time the report simulates (s)
# The timeline seed shown in the figures (the first of the seeds).
TIMELINE_SEED = 0
TIMELINE_COLUMNS = ("t", "visible", "in_flight", "replicas", "ready_replicas")


def _changes_only(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Timeline rows where a value changes, with the row before each change (steps stay exact,
    idle hours between runs shrink to two rows)."""
    keep = []
    for i, row in enumerate(rows):
        values = [row[c] for c in TIMELINE_COLUMNS[1:]]
        before = [rows[i - 1][c] for c in TIMELINE_COLUMNS[1:]] if i else None
        after = [rows[i + 1][c] for c in TIMELINE_COLUMNS[1:]] if i + 1 < len(rows) else None
        if i == 0 or i == len(rows) - 1 or values != before or values != after:
            keep.append(row)
    return keep


def simulation_settings(
    *,
    seeds: int,
    service_time: str,
    startup: str,
    processor_concurrency: int = 4,
    scaledobject: str | Path = SCALEDOBJECT,
) -> SimulationSettings:
    """The simulation of the report (notebook 03's parameters; the send-limit sweep of 02 uses it too)."""
    return SimulationSettings(
        scaledobject=Path(scaledobject),
        service=service_time,
        startup=startup,
        concurrency=processor_concurrency,
        receive_batch_size=processor_concurrency,
        seeds=seeds,
    )


def simulate_recording(
    replay_json: Path,
    *,
    scaledobject: Path,
    service_time: str,
    startup: str,
    concurrency: int,
    seeds: int,
) -> dict[str, Any]:
    """Summary per mode (``simulate_modes``), each seed's summary, and seed 0's timeline."""
    settings = simulation_settings(
        seeds=seeds,
        service_time=service_time,
        startup=startup,
        processor_concurrency=concurrency,
        scaledobject=scaledobject,
    )
    doc = simulate_modes(replay_json, list(MODES), settings)
    doc["per_seed"], doc["timeline"], doc["scale_events"] = {}, {}, {}
    for mode in MODES:
        try:
            result = simulate(scenario(replay_json, mode, settings), seeds)
        except ValueError as exc:
            raise WorkbenchError(f"simulation: {exc}") from None
        offsets = [offset for offset, _ in read_replay_arrivals(replay_json, mode)]
        doc["per_seed"][mode] = [
            {
                "seed": run.seed,
                **{
                    k: _num(v)
                    for k, v in {**run.summary(), **per_run_metrics(run, offsets)}.items()
                },
            }
            for run in result.runs
        ]
        shown = result.runs[TIMELINE_SEED]
        rows = shown.timeline()[list(TIMELINE_COLUMNS)].to_dict("records")
        doc["timeline"][mode] = {
            "seed": shown.seed,
            "rows": [[_num(r[c]) for c in TIMELINE_COLUMNS] for r in _changes_only(rows)],
            "columns": list(TIMELINE_COLUMNS),
        }
        doc["scale_events"][mode] = {
            "seed": shown.seed,
            "events": shown.scale_events().to_dict("records"),
        }
    return doc


def simulate_recordings(
    recordings: list[str | Path],
    results: Results,
    *,
    scaledobject: Path,
    service_time: str,
    startup: str,
    concurrency: int,
    seeds: int,
) -> dict[str, dict[str, Any]]:
    """Simulate every recording's replayed arrivals; writes ``simulation-{name}.json`` each."""
    out = {}
    for recording in recording_paths(recordings):
        replay_json = results.path(REPLAY_FILE, recording.name)
        results.load(REPLAY_FILE, recording.name)  # a missing replay names notebook 02
        doc = simulate_recording(
            replay_json,
            scaledobject=scaledobject,
            service_time=service_time,
            startup=startup,
            concurrency=concurrency,
            seeds=seeds,
        )
        doc["replay"] = replay_json.name
        results.save(SIMULATION_FILE, doc, recording.name)
        out[recording.name] = doc
    return out


def _num(value: Any) -> Any:
    if isinstance(value, float) and value != value:
        return None  # NaN -> null in JSON
    if hasattr(value, "item"):
        return _num(value.item())
    return value

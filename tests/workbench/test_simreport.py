"""The report's simulation section: each mode's replayed arrivals through the KEDA model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workbench.errors import WorkbenchError
from workbench.paths import SCALEDOBJECT
from workbench.simreport import SimulationSettings, simulate_modes


def _replay_doc() -> dict:
    def run(times: list[float]) -> dict:
        return {
            "run": 0,
            "started_at": "2024-05-14T00:00:00+00:00",
            "time_to_first_item_queued_seconds": times[0],
            "first_item_limit_seconds": 0.2,
            "time_to_last_item_queued_seconds": times[-1],
            "items_collected": len(times),
            "items_queued": len(times),
            "duplicates_skipped": 0,
            "deduplication_hit_rate": 0.0,
            "peak_enqueue_rate_10s": 4.0,
            "errors": {},
            "messages": [{"enqueued_at": t, "processed_at": None} for t in times],
        }

    return {
        "recording": "data/recordings/synthetic-tech",
        "speed": 20.0,
        "processors": 0,
        "service_time": None,
        "modes": {
            # batch: everything at the end of a 26 s collection; streaming: spread from 0.2 s
            "batch": {"runs": [run([26.0 + i * 0.01 for i in range(40)])] * 2, "total": {}},
            "streaming": {"runs": [run([0.2 + i * 0.2 for i in range(40)])] * 2, "total": {}},
        },
    }


def test_simulation_of_both_modes(tmp_path: Path) -> None:
    replay_json = tmp_path / "replay.json"
    replay_json.write_text(json.dumps(_replay_doc()))
    settings = SimulationSettings(scaledobject=SCALEDOBJECT, startup="constant(20)", seeds=2)
    simulation = simulate_modes(replay_json, ["batch", "streaming"], settings)
    for mode in ("batch", "streaming"):
        metrics = simulation["modes"][mode]
        assert metrics["messages"]["mean"] == 80
        assert metrics["unfinished"]["mean"] == 0
        assert 1 <= metrics["max_replicas"]["mean"] <= 6


def test_bad_simulation_settings_are_one_line_errors(tmp_path: Path) -> None:
    replay_json = tmp_path / "replay.json"
    replay_json.write_text(json.dumps(_replay_doc()))
    settings = SimulationSettings(scaledobject=SCALEDOBJECT, service="gamma(3)")
    with pytest.raises(WorkbenchError, match="gamma"):
        simulate_modes(replay_json, ["batch"], settings)

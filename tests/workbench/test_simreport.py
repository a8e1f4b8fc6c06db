"""The report's simulation section: each mode's replayed arrivals through the KEDA model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sim import parse_distribution
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
    with pytest.raises(ValueError, match="distribution 'gamma\\(3\\)': unknown distribution"):
        SimulationSettings(scaledobject=SCALEDOBJECT, service="gamma(3)")  # type: ignore[arg-type]
    settings = SimulationSettings(scaledobject=tmp_path / "missing.yaml")
    with pytest.raises(WorkbenchError, match="simulation: ScaledObject file not found"):
        simulate_modes(replay_json, ["batch"], settings)


def test_the_service_time_object_is_used_as_given(tmp_path: Path) -> None:
    replay_json = tmp_path / "replay.json"
    replay_json.write_text(json.dumps(_replay_doc()))
    service = parse_distribution("constant(4)")
    settings = SimulationSettings(service=service, startup="constant(0)", seeds=1)  # type: ignore[arg-type]
    assert settings.service is service
    simulation = simulate_modes(replay_json, ["streaming"], settings)
    assert simulation["settings"]["service"] == "constant(4)"
    assert simulation["settings"]["startup"] == "constant(0)"


def test_ignored_scaledobject_fields_are_listed(tmp_path: Path) -> None:
    replay_json = tmp_path / "replay.json"
    replay_json.write_text(json.dumps(_replay_doc()))
    scaledobject = tmp_path / "so.yaml"
    scaledobject.write_text(SCALEDOBJECT.read_text() + "  idleReplicaCount: 0\n")
    with pytest.raises(WorkbenchError, match="spec.idleReplicaCount is not implemented"):
        simulate_modes(replay_json, ["batch"], SimulationSettings(scaledobject=scaledobject))
    settings = SimulationSettings(scaledobject=scaledobject, ignore_unsupported=True, seeds=1)
    simulation = simulate_modes(replay_json, ["batch"], settings)
    assert simulation["ignored_fields"] == ["spec.idleReplicaCount"]
    assert simulation["settings"]["ignore_unsupported"] is True

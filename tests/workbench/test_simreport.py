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
    """Constant times and the loops' phases at 0 make every seed the same run, derived by hand
    for each of the two runs (8 h apart) of 40 messages, shipped ScaledObject (queueLength 8,
    activation 1, max 6, poll 30 s, cooldown 300 s, behavior nil; HPA sync every 15 s):

    - t=30 KEDA's poll sees 40 > 1: 0 -> 1 (the messages arrived by 26.4 s in both modes);
    - t=45 HPA: ceil(40 / 8) = 5, capped at max(2 x 1, 4) = 4: 1 -> 4;
    - t=50 the first pod is ready (startup 20 s), takes 4, done at 56 (service 6 s);
    - t=60 HPA: 36 left (4 done), ceil(36 / 8) = 5 within max(2 x 4, 4): 4 -> 5; afterwards
      the 300 s downscale stabilization holds 5 until the queue is empty;
    - the last poll that saw a message was t=60 (36 > 1; by t=90 all 40 are done):
      5 -> 0 at 60 + 300 = 360 s.
    Replica-seconds per run: 15 x 1 + 15 x 4 + 300 x 5 = 1575; 4 scale events per run.
    """
    replay_json = tmp_path / "replay.json"
    replay_json.write_text(json.dumps(_replay_doc()))
    settings = SimulationSettings(
        scaledobject=SCALEDOBJECT, service="constant(6)", startup="constant(20)", seeds=2
    )  # type: ignore[arg-type]
    simulation = simulate_modes(replay_json, ["batch", "streaming"], settings)
    expected = {
        "messages": 80,
        "unfinished": 0,
        "time_to_first_replica_ready_s": 50.0,
        "time_to_first_item_processed_s": 56.0,
        "max_replicas": 5,
        "scale_events": 8,
        "replica_seconds": 2 * 1575.0,
    }
    for mode in ("batch", "streaming"):
        metrics = simulation["modes"][mode]
        for name, value in expected.items():
            # Two identical seeds: the interval has no width.
            assert metrics[name] == {"mean": value, "ci_low": value, "ci_high": value}, (
                mode,
                name,
            )
    # Batch's messages waited in the collector, not in the queue: lower queue latency.
    assert (
        simulation["modes"]["batch"]["latency_p50_s"]["mean"]
        < simulation["modes"]["streaming"]["latency_p50_s"]["mean"]
    )


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

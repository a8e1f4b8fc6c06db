"""``workbench simulate`` / ``workbench sweep`` through their own argparse registration."""

from __future__ import annotations

import argparse
import json
import math
import re
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

from sim import run  # noqa: E402
from workbench import cmd_sim  # noqa: E402
from workbench.errors import WorkbenchError  # noqa: E402
from workbench.paths import PROJECT_ROOT as ROOT

SHIPPED = ROOT / "data" / "keda" / "processor-scaledobject.yaml"


def cli(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="workbench")
    cmd_sim.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(list(argv))
    return int(args.func(args))


def test_acceptance_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    out = tmp_path / "out.json"
    code = cli(
        "simulate",
        "--scaledobject", str(SHIPPED),
        "--arrivals", "burst:85@0",
        "--service-time", "constant(10)",
        "--startup", "constant(30)",
        "--json", str(out),
    )  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    assert "time_to_first_replica_ready_s" in printed and "max_replicas" in printed
    data = json.loads(out.read_text())
    assert {"summary", "timeline", "scale_events"} <= set(data)
    assert data["summary"]["messages"] == 85
    assert data["summary"]["max_replicas"] == 6
    assert data["scale_events"][0] == {"t": 0.0, "from": 0, "to": 1, "by": "keda"}
    assert set(data["timeline"][0]) >= {"t", "visible", "in_flight", "desired", "ready_replicas"}
    # The run lasts until every message is done and the deployment is back at min (0).
    assert data["scale_events"][-1]["to"] == 0


def test_simulate_seeds_platform_and_file_arrivals(tmp_path: Path):
    arrivals = tmp_path / "arrivals.csv"
    arrivals.write_text("enqueued_at\n" + "\n".join(str(i * 0.5) for i in range(60)) + "\n")
    out = tmp_path / "o.json"
    argv = (
        "simulate", "--scaledobject", str(SHIPPED), "--arrivals", str(arrivals),
        "--service-time", "exponential(mean=5)", "--startup", "lognormal(mean=20,sd=5)",
        "--platform", "container-apps", "--seeds", "3", "--phase", "random", "--json", str(out),
    )  # fmt: skip
    assert cli(*argv) == 0
    data = json.loads(out.read_text())
    assert data["seeds"] == [0, 1, 2]
    assert data["summary"]["messages"] == 60
    # The interval is the t-interval of the three seeds' own runs (t(0.975, 2) = 4.3027).
    parser = argparse.ArgumentParser(prog="workbench")
    cmd_sim.register(parser.add_subparsers(dest="command"))
    scenario = cmd_sim._build_scenario(parser.parse_args(list(argv)))
    assert scenario.scaler.platform == "container-apps"  # type: ignore[union-attr]
    for metric in ("latency_p50_s", "replica_seconds"):
        values = [run(scenario, seed).summary()[metric] for seed in (0, 1, 2)]
        mean, sd = statistics.fmean(values), statistics.stdev(values)
        assert sd > 0 and data["summary"][metric] == pytest.approx(mean), metric
        half = 4.302653 * sd / math.sqrt(3)
        low, high = data["confidence_intervals"][metric]
        assert (low, high) == pytest.approx((mean - half, mean + half)), metric


def test_scaling_off(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    """--replicas 2: two pods from t=0 (ready after the 30 s startup) to the end, whatever the
    queue does, and no controller acting."""
    out = tmp_path / "off.json"
    assert cli("simulate", "--replicas", "2", "--arrivals", "poisson:0.1:600",
               "--json", str(out)) == 0  # fmt: skip
    printed = capsys.readouterr().out
    assert "scale events" not in printed
    assert re.search(r"^  max_replicas +2$", printed, re.M), printed
    data = json.loads(out.read_text())
    summary = data["summary"]
    assert data["scale_events"] == [] and summary["scale_events"] == 0
    assert {row["replicas"] for row in data["timeline"]} == {2}
    assert {row["ready_replicas"] for row in data["timeline"] if row["t"] >= 30} == {2}
    assert summary["max_replicas"] == summary["pods_started"] == 2
    assert summary["time_to_first_replica_ready_s"] == 30
    assert summary["replica_seconds"] == pytest.approx(2 * summary["end_s"])
    assert summary["unfinished"] == 0 and summary["messages"] > 40  # ~0.1/s for 600 s


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--arrivals", "burst:x@0"], "not understood"),
        (["--arrivals", "nope.csv"], "not found"),
        (["--arrivals", "burst:1@0", "--scaledobject", "missing.yaml"], "not found"),
        (["--arrivals", "burst:1@0", "--batch-size", "64"], "receive_batch_size"),
    ],
)
def test_user_errors_are_workbench_errors(argv: list[str], message: str):
    with pytest.raises(WorkbenchError, match=message):
        cli("simulate", *argv)


@pytest.mark.parametrize("command", ["simulate", "sweep"])
def test_a_bad_service_time_is_a_one_line_usage_error(
    command: str, capsys: pytest.CaptureFixture[str]
):
    with pytest.raises(SystemExit) as exit_info:
        cli(command, "--arrivals", "burst:1@0", "--service-time", "normal(3)", "--out", "x.csv")
    assert exit_info.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert "--service-time" in error and "unknown distribution 'normal'" in error


def test_the_default_service_time_is_the_shared_one(capsys: pytest.CaptureFixture[str]):
    assert cli("simulate", "--arrivals", "burst:2@0") == 0
    assert "service lognormal(mean=6,sd=2)" in capsys.readouterr().out


def test_simulate_runs_from_another_directory(tmp_path: Path):
    # The default ScaledObject resolves from the project root, not from the current directory.
    out = tmp_path / "out.json"
    workbench = Path(sys.executable).parent / "workbench"
    done = subprocess.run(
        [str(workbench), "simulate", "--arrivals", "burst:85@0", "--json", str(out)],
        cwd="/tmp",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(out.read_text())["summary"]["max_replicas"] == 6


def test_invalid_yaml_is_a_workbench_error(tmp_path: Path):
    bad = tmp_path / "so.yaml"
    bad.write_text("spec: [\n")
    with pytest.raises(WorkbenchError, match="invalid YAML"):
        cli("simulate", "--scaledobject", str(bad), "--arrivals", "burst:1@0")


def test_sweep_writes_csv_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    csv_out = tmp_path / "sweep.csv"
    code = cli(
        "sweep", "--scaledobject", str(SHIPPED), "--arrivals", "burst:30@0",
        "--set", "queue_length=4,8", "--set", "service=constant(5),uniform(2,4)",
        "--seeds", "2", "--jobs", "1", "--no-progress", "--out", str(csv_out),
    )  # fmt: skip
    assert code == 0
    header = csv_out.read_text().splitlines()[0].split(",")
    assert header[:3] == ["queue_length", "service", "seeds"]
    assert "replica_seconds" in header and "latency_p95_s_ci_high" in header
    assert len(csv_out.read_text().splitlines()) == 5
    json_out = tmp_path / "sweep.json"
    assert cli(
        "sweep", "--arrivals", "burst:30@0", "--set", "polling_interval_s=15,30",
        "--seeds", "1", "--jobs", "1", "--no-progress", "--out", str(json_out),
    ) == 0  # fmt: skip
    rows = json.loads(json_out.read_text())
    assert [r["polling_interval_s"] for r in rows] == [15, 30]
    with pytest.raises(WorkbenchError, match="unknown setting"):
        cli("sweep", "--arrivals", "burst:1@0", "--set", "nope=1", "--jobs", "1",
            "--no-progress", "--out", str(json_out))  # fmt: skip
    with pytest.raises(WorkbenchError, match="KEY=V1"):
        cli("sweep", "--arrivals", "burst:1@0", "--set", "nope", "--out", str(json_out))


def test_a_scaledobject_with_fallback_exits_2_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    from workbench.cli import main

    text = SHIPPED.read_text().replace(
        "  maxReplicaCount: 6\n",
        "  maxReplicaCount: 6\n  fallback: {failureThreshold: 3, replicas: 6}\n",
    )
    scaledobject = tmp_path / "so.yaml"
    scaledobject.write_text(text)
    argv = ["simulate", "--scaledobject", str(scaledobject), "--arrivals", "burst:20@0"]
    assert main(argv) == 2
    error = capsys.readouterr().err.strip()
    assert error == (
        f"workbench simulate: error: {scaledobject}: spec.fallback is not implemented by the "
        "model; --ignore-unsupported runs without it"
    )
    out = tmp_path / "out.json"
    assert main([*argv, "--ignore-unsupported", "--json", str(out)]) == 0
    assert "spec.fallback" in capsys.readouterr().err
    assert json.loads(out.read_text())["ignored_fields"] == ["spec.fallback"]


def test_a_misspelled_scaledobject_field_exits_2_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    from workbench.cli import main

    scaledobject = tmp_path / "so.yaml"
    scaledobject.write_text(SHIPPED.read_text().replace("queueLength:", "queueLenght:"))
    assert main(["simulate", "--scaledobject", str(scaledobject), "--arrivals", "burst:2@0"]) == 2
    assert "unknown field spec.triggers[0].metadata.queueLenght (did you mean queueLength?)" in (
        capsys.readouterr().err
    )

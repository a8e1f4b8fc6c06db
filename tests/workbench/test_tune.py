"""Tuning the scaler (workbench/tune.py, ``workbench tune``) and sweeps on a Dask cluster."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import pandas as pd
import pytest

from sim import Burst, PodSpec, ScalerSpec, Scenario
from workbench import cmd_sim
from workbench.errors import WorkbenchError
from workbench.paths import SCALEDOBJECT
from workbench.tune import TUNED, heatmap, mark, pareto_front, tune


def cli(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="workbench")
    cmd_sim.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(list(argv))
    return int(args.func(args))


def test_pareto_front_of_a_small_table():
    table = pd.DataFrame(
        {
            "p95": [1.0, 2.0, 3.0, 2.0, math.nan, 0.5],
            "cost": [10.0, 5.0, 6.0, 5.0, 1.0, 20.0],
        },
        index=list("ABCDEF"),
    )
    # C (3, 6) is beaten by B (2, 5); B and D tie, so neither beats the other; E has no p95.
    front = pareto_front(table, ("p95", "cost"))
    assert front[front].index.tolist() == ["A", "B", "D", "F"]


def _marked(slack: float) -> pd.DataFrame:
    settings = {key: [1] * 5 for key in TUNED}
    settings["queueLength"] = [1, 2, 3, 4, 5]
    table = pd.DataFrame(
        {
            **settings,
            "latency_p95_s": [100.0, 105.0, 120.0, 50.0, 130.0],
            "replica_seconds": [50.0, 40.0, 10.0, 1.0, 45.0],
            "time_to_first_item_processed_s": [30.0, 30.0, 30.0, 30.0, 30.0],
            "unfinished": [0.0, 0.0, 0.0, 2.0, 0.0],  # queueLength 4 leaves items behind
        }
    )
    return mark(table, {**{k: 1 for k in TUNED}, "queueLength": 5}, slack)


def test_recommended_is_the_cheapest_front_setting_near_the_best_p95():
    table = _marked(0.10)
    # Incomplete runs are off the front; (130, 45) is beaten by (105, 40).
    assert table[table.pareto].queueLength.tolist() == [1, 2, 3]
    assert table[~table.complete].queueLength.tolist() == [4]
    # Best p95 on the front 100; within 10 %: 100 and 105; cheaper: 105 (40 replica-s).
    assert table[table.recommended].queueLength.tolist() == [2]
    assert table[table.shipped].queueLength.tolist() == [5]
    # Within 25 %, 120 qualifies and is the cheapest.
    assert _marked(0.25)[lambda t: t.recommended].queueLength.tolist() == [3]


def _scenario() -> Scenario:
    return Scenario(
        arrivals=Burst(40, 0.0, rate_per_s=2.0),
        pods=PodSpec(startup="constant(20)", service="lognormal(mean=6,sd=2)"),
        scaler=ScalerSpec.from_file(SCALEDOBJECT),
    )


def test_tune_marks_the_front_and_adds_the_shipped_setting():
    grid = {"queueLength": [4, 16], "pollingInterval": [15, 30], "maxReplicaCount": [3, 6]}
    result = tune(_scenario(), grid, seeds=3, jobs=1, progress=False)
    table = result.table
    assert len(table) == 9  # 8 combinations + the shipped setting (queueLength 8)
    shipped = result.shipped
    assert (shipped.queueLength, shipped.pollingInterval, shipped.maxReplicaCount) == (8, 30, 6)
    assert table.shipped.sum() == 1 and table.recommended.sum() == 1
    assert table.seeds.eq(3).all()
    # The front, recomputed here by brute force over the table's own means.
    for i, row in table.iterrows():
        beaten = any(
            o.latency_p95_s <= row.latency_p95_s
            and o.replica_seconds <= row.replica_seconds
            and (o.latency_p95_s < row.latency_p95_s or o.replica_seconds < row.replica_seconds)
            for j, o in table.iterrows()
            if j != i and o.complete
        )
        assert row.pareto == (row.complete and not beaten)
    position = result.shipped_position()
    assert position["on_pareto_front"] == bool(shipped.pareto)
    assert position["dominated_by"] == 0 if shipped.pareto else position["dominated_by"] > 0
    assert heatmap(table).shape == (3, 2)
    # Loop phases are drawn per seed: different seeds, different first-item times.
    assert table.time_to_first_item_processed_s_ci_high.gt(
        table.time_to_first_item_processed_s_ci_low
    ).any()


def test_tune_command_writes_json_and_csv(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    out, csv = tmp_path / "tune.json", tmp_path / "tune.csv"
    replay = tmp_path / "replay.json"  # the arrivals of a replay's mode, as the report writes them
    messages = [{"enqueued_at": 0.5 * i} for i in range(40)]
    replay.write_text(json.dumps({"modes": {"streaming": {"runs": [{"messages": messages}]}}}))
    code = cli(
        "tune", "--arrivals", f"{replay}#streaming", "--startup", "constant(20)",
        "--queue-length", "4,8", "--activation-queue-length", "1", "--polling-interval", "15,30",
        "--cooldown-period", "300", "--max-replica-count", "6",
        "--seeds", "2", "--jobs", "1", "--no-progress", "--json", str(out), "--csv", str(csv),
    )  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    assert "Pareto front" in printed and "shipped queueLength 8" in printed
    assert "times(n=40)" in printed
    doc = json.loads(out.read_text())
    assert len(doc["rows"]) == 4
    assert any(r["pareto"] for r in doc["rows"])
    assert doc["shipped"]["queueLength"] == 8 and doc["shipped"]["shipped"] is True
    assert doc["recommended"]["recommended"] is True and "Pareto front" in doc["rule"]
    assert set(doc["shipped_position"]) >= {"on_pareto_front", "dominated_by"}
    header = csv.read_text().splitlines()[0].split(",")
    assert {"pareto", "shipped", "recommended", "latency_p95_s_ci_low"} <= set(header)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--queue-length", "4,x"], "expected numbers"),
        (["--seeds", "0"], "--seeds must be >= 1"),
        (["--json", "/nonexistent/dir/t.json"], "is not a directory"),
        (["--latency-slack", "-1"], "latency slack must be a finite number >= 0"),
    ],
)
def test_tune_options_are_checked_before_any_run(argv, message, capsys):
    try:
        cli("tune", "--arrivals", "burst:1@0", *argv)
    except SystemExit as exc:
        assert exc.code == 2 and message in capsys.readouterr().err
    except WorkbenchError as exc:
        assert message in str(exc)
    else:
        pytest.fail("accepted")


def test_sweep_and_tune_on_a_dask_cluster_give_the_same_tables(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    from distributed import LocalCluster

    local, remote = tmp_path / "local.csv", tmp_path / "cluster.csv"
    argv = ["sweep", "--arrivals", "burst:30@0/2", "--phase", "random", "--seeds", "3",
            "--set", "queue_length=4,8"]  # fmt: skip
    assert cli(*argv, "--jobs", "1", "--no-progress", "--out", str(local)) == 0
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        assert cli(*argv, "--scheduler", cluster.scheduler_address, "--out", str(remote)) == 0
        assert "6/6" in capsys.readouterr().err  # progress, as for local runs
        tune_argv = ["tune", "--arrivals", "burst:30@0/2", "--seeds", "2", "--no-progress",
                     "--queue-length", "4,8", "--activation-queue-length", "1",
                     "--polling-interval", "30", "--cooldown-period", "300",
                     "--max-replica-count", "6"]  # fmt: skip
        assert cli(*tune_argv, "--scheduler", cluster.scheduler_address,
                   "--csv", str(tmp_path / "t1.csv")) == 0  # fmt: skip
    assert remote.read_text() == local.read_text()
    assert cli(*tune_argv, "--jobs", "1", "--csv", str(tmp_path / "t2.csv")) == 0
    assert (tmp_path / "t1.csv").read_text() == (tmp_path / "t2.csv").read_text()


def test_an_unreachable_scheduler_is_a_one_line_error(tmp_path: Path):
    with pytest.raises(WorkbenchError, match="--scheduler tcp://127.0.0.1:9: cannot reach it"):
        cli("sweep", "--arrivals", "burst:1@0", "--set", "queue_length=4", "--no-progress",
            "--scheduler", "tcp://127.0.0.1:9", "--out", str(tmp_path / "x.csv"))  # fmt: skip

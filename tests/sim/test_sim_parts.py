"""Arrivals, the ScaledObject reader, validation, outputs, replications, sweeps."""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path

import numpy as np
import pytest

from sim import (
    Behavior,
    Burst,
    Controller,
    FixedReplicas,
    PodSpec,
    Poisson,
    Repeat,
    Scaler,
    ScalerSpec,
    ScalingPolicy,
    Scenario,
    Times,
    load_arrivals,
    parse_arrivals,
    percentile,
    run,
    simulate,
    sweep,
)
from workbench.paths import PROJECT_ROOT as ROOT

SHIPPED = ROOT / "data" / "keda" / "processor-scaledobject.yaml"
# Student's t, two-sided 95 %: the 0.975 quantile by degrees of freedom (printed tables).
T_975 = {2: 4.302653, 5: 2.570582}


def test_arrival_specs(tmp_path: Path):
    rng = np.random.default_rng(0)
    assert list(parse_arrivals("burst:3@5").times(rng)) == [5, 5, 5]
    assert list(parse_arrivals("burst:3@5/2").times(rng)) == [5, 5.5, 6]
    poisson = parse_arrivals("poisson:2:1000")
    assert isinstance(poisson, Poisson)
    assert len(poisson.times(rng)) == pytest.approx(2000, rel=0.1)
    repeat = parse_arrivals("repeat:28800:3:burst:100@0")
    assert isinstance(repeat, Repeat)
    times = repeat.times(rng)
    assert len(times) == 300 and times.max() == 2 * 28800
    with pytest.raises(ValueError, match="not understood"):
        parse_arrivals("burst:x@0")
    with pytest.raises(ValueError, match="not found"):
        parse_arrivals(str(tmp_path / "missing.csv"))
    assert Times([3, 1, 2]).values == (1, 2, 3)
    with pytest.raises(ValueError):
        Times([-1])
    with pytest.raises(ValueError):
        Burst(-1)


def test_arrivals_from_csv_and_replay_json(tmp_path: Path):
    csv_file = tmp_path / "a.csv"
    csv_file.write_text("id,enqueued_at\na,1.5\nb,0.5\n")
    assert load_arrivals(csv_file).values == (0.5, 1.5)
    replay = {
        "modes": {
            "batch": {"runs": [{"messages": [{"enqueued_at": 40.0, "processed_at": 50.0}]}]},
            "streaming": {
                "runs": [
                    {"messages": [{"enqueued_at": 2.0}, {"enqueued_at": 1.0}]},
                    {"messages": [{"enqueued_at": 3.0}]},
                ]
            },
        }
    }
    path = tmp_path / "replay.json"
    path.write_text(json.dumps(replay))
    assert parse_arrivals(f"{path}#batch").values == (40.0,)
    assert parse_arrivals(f"{path}#streaming").values == (1.0, 2.0, 8 * 3600 + 3.0)
    assert parse_arrivals(f"{path}#streaming/1").values == (3.0,)
    with pytest.raises(ValueError, match="no mode"):
        parse_arrivals(f"{path}#nope")
    with pytest.raises(ValueError, match="name a mode"):
        parse_arrivals(str(path))
    bad = tmp_path / "bad.csv"
    bad.write_text("t\n1\n")
    with pytest.raises(ValueError, match="enqueued_at"):
        load_arrivals(bad)


def test_shipped_scaledobject():
    text = SHIPPED.read_text()
    import yaml

    doc = yaml.safe_load(text)
    assert doc["apiVersion"] == "keda.sh/v1alpha1" and doc["kind"] == "ScaledObject"
    assert doc["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "content-processor",
    }
    meta = doc["spec"]["triggers"][0]["metadata"]
    assert meta["queueName"] == "content-processing-requests"
    assert meta["connectionFromEnv"] == "AZURE_STORAGE_CONNECTION_STRING"
    assert all(isinstance(v, str) for v in meta.values())  # KEDA trigger metadata is strings
    spec = ScalerSpec.from_file(SHIPPED)
    assert (spec.queue_length, spec.activation_queue_length) == (8, 1)
    assert (spec.min_replicas, spec.max_replicas) == (0, 6)
    assert (spec.polling_interval_s, spec.cooldown_period_s) == (30, 300)
    assert spec.queue_length_strategy == "all" and spec.behavior is None
    assert spec.hpa_min_replicas == 1


def test_scaledobject_behavior_defaults_and_platforms():
    text = """
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata: {name: x}
spec:
  scaleTargetRef: {name: x}
  advanced:
    horizontalPodAutoscalerConfig:
      behavior:
        scaleUp:
          policies: [{type: Pods, value: 2, periodSeconds: 60}]
  triggers:
    - type: azure-queue
      metadata: {queueName: q, queueLengthStrategy: VisibleOnly}
"""
    spec = ScalerSpec.from_yaml(text)
    assert spec.queue_length == 5 and spec.queue_length_strategy == "visibleonly"
    assert spec.max_replicas == 100
    assert spec.behavior is not None
    assert spec.behavior.scale_up.policies == (ScalingPolicy("Pods", 2, 60),)
    assert spec.behavior.scale_up.stabilization_window_s == 0
    assert spec.behavior.scale_down == Behavior().scale_down  # 300 s, Percent 100 / 15 s
    aca = ScalerSpec.from_yaml(text, platform="container-apps")
    assert aca.behavior is None and aca.max_replicas == 10


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: [", "invalid YAML"),
        ("kind: Deployment\n", "exactly one"),
        (
            "apiVersion: keda.sh/v1alpha1\nkind: ScaledObject\nspec:\n  triggers:\n"
            "    - {type: kafka, metadata: {}}\n",
            "azure-queue",
        ),
        (
            "apiVersion: keda.sh/v1alpha1\nkind: ScaledObject\nspec:\n  minReplicaCount: 5\n"
            "  maxReplicaCount: 2\n  triggers:\n    - {type: azure-queue, metadata: {}}\n",
            "minReplicaCount",
        ),
    ],
)
def test_bad_scaledobjects(text, message):
    with pytest.raises(ValueError, match=message):
        ScalerSpec.from_yaml(text)


def test_validation_errors():
    with pytest.raises(ValueError, match="receive_batch_size"):
        PodSpec(receive_batch_size=33)
    with pytest.raises(ValueError, match="fixed replicas"):
        FixedReplicas(0)
    with pytest.raises(ValueError, match="platform"):
        ScalerSpec(platform="nomad")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="behavior"):
        ScalerSpec(platform="container-apps", behavior=Behavior())
    with pytest.raises(ValueError, match="until_s"):
        Scenario(until_s=-1)


def test_outputs_of_a_run():
    scenario = Scenario(
        arrivals=Burst(20, 0.0),
        pods=PodSpec(startup="constant(30)", service="constant(4)"),
        scaler=ScalerSpec.from_file(SHIPPED),
        price_per_replica_hour=3600.0,
    )
    result = run(scenario, seed=3)
    summary = result.summary()
    assert summary["messages"] == 20 and summary["unfinished"] == 0
    assert summary["time_to_first_replica_ready_s"] == 30.0
    assert summary["time_to_first_item_processed_s"] == 34.0
    assert summary["cost"] == pytest.approx(summary["replica_seconds"])  # 1 per replica-second
    messages = result.messages()
    assert list(messages.columns[:6]) == [
        "message_id",
        "enqueued_at",
        "first_delivered_at",
        "started_at",
        "finished_at",
        "deleted_at",
    ]
    assert (messages.finished_at - messages.enqueued_at).max() == summary["latency_max_s"]
    assert summary["makespan_s"] == messages.finished_at.max()
    timeline = result.timeline()
    assert list(timeline.columns) == [
        "t",
        "visible",
        "in_flight",
        "metric",
        "replicas",
        "ready_replicas",
        "desired",
    ]
    assert timeline.metric.max() == summary["peak_queue_depth"] == 20
    events = result.scale_events()
    assert list(events.columns) == ["t", "from", "to", "by"]
    pods = result.pods()
    assert pods["items"].sum() >= 20
    # Replica-seconds integrate the replica count over the scale events.
    steps = list(zip(events.t, events["to"], strict=True))
    total = sum(n * (t2 - t1) for (t1, n), (t2, _) in zip(steps, steps[1:], strict=False))
    assert summary["replica_seconds"] == pytest.approx(total)


def test_same_seed_same_run_and_random_phases_differ():
    scenario = Scenario(
        arrivals=Poisson(0.2, duration_s=600),
        pods=PodSpec(startup="uniform(10,40)", service="exponential(mean=8)"),
        scaler=ScalerSpec(keda_poll_phase_s=None, hpa_sync_phase_s=None, queue_length=4),
    )
    a, b = run(scenario, 7), run(scenario, 7)
    assert a.summary() == b.summary() or all(
        x == y or (math.isnan(x) and math.isnan(y))
        for x, y in zip(a.summary().values(), b.summary().values(), strict=True)
    )
    phases = {run(scenario, s).records.keda_phase_s for s in range(5)}
    assert len(phases) == 5 and all(0 <= p < 30 for p in phases if p is not None)


def test_simulate_aggregates_with_confidence_intervals():
    scenario = Scenario(
        arrivals=Poisson(0.1, duration_s=1800),
        pods=PodSpec(startup="constant(20)", service="lognormal(mean=6,sd=2)"),
        scaler=ScalerSpec.from_file(SHIPPED),
    )
    result = simulate(scenario, seeds=6)
    summary = result.summary
    assert [r.seed for r in result.runs] == list(range(6))
    for metric in ("latency_p50_s", "max_replicas", "replica_seconds"):
        values = [run(scenario, seed).summary()[metric] for seed in range(6)]
        mean, sd = statistics.fmean(values), statistics.stdev(values)
        assert sd > 0, metric  # else the interval below would have no width to check
        half = T_975[5] * sd / math.sqrt(6)
        row = summary.loc[metric]
        assert row["n"] == 6 and row["mean"] == pytest.approx(mean), metric
        assert row["sd"] == pytest.approx(sd), metric
        assert (row["ci_low"], row["ci_high"]) == pytest.approx((mean - half, mean + half)), metric
    with pytest.raises(ValueError):
        simulate(scenario, seeds=[])


def test_sweep_table_in_process_and_on_processes():
    scenario = Scenario(
        arrivals=Burst(40, 0.0),
        pods=PodSpec(startup="constant(10)", service="constant(5)"),
        scaler=ScalerSpec.from_file(SHIPPED),
    )
    grid = {"queue_length": [4, 16], "platform": ["kubernetes", "container-apps"]}
    table = sweep(scenario, grid, seeds=2, jobs=1, progress=False)
    assert len(table) == 4
    assert {"queue_length", "platform", "seeds", "max_replicas", "max_replicas_ci_low"} <= set(
        table.columns
    )
    by_q = table.groupby("queue_length").max_replicas.mean()
    assert by_q[4] >= by_q[16]
    parallel = sweep(scenario, grid, seeds=2, jobs=2, progress=False)
    assert parallel.equals(table)
    with pytest.raises(ValueError, match="unknown setting"):
        sweep(scenario, {"bogus": [1]}, seeds=1, jobs=1, progress=False)


def test_visibility_expiry_redelivers_long_batches():
    # The original loop: 10 per receive, 60 s visibility, handled one by one at 10 s each: the
    # 7th..10th of each batch reappear at t=60 while still held. The idle third pod (polling
    # every 10 s) takes those 8 at t=60; the holders' deletes then fail (stale pop receipts).
    scenario = Scenario(
        arrivals=Burst(20, 0.0),
        pods=PodSpec(startup="constant(0)", service="constant(10)"),
        scaler=FixedReplicas(3),
    )
    result = run(scenario, 0)
    deliveries = result.deliveries()
    again = deliveries[deliveries.delivery == 2]
    assert len(again) == 8 and set(again.delivered_at) == {60.0}
    # Pod 3 then holds 8 for 80 s, so its last two expire again at t=120 (third deliveries).
    # Each redelivery leaves one earlier handling that finishes but cannot delete.
    failed = (deliveries.outcome == "delete-failed").sum()
    assert failed == (deliveries.delivery > 1).sum() == result.summary()["redeliveries"] == 10
    assert result.summary()["duplicate_processing"] == failed


def test_scaledobject_from_file_yaml_and_dict_read_the_same():
    import yaml

    text = SHIPPED.read_text()
    from_file = ScalerSpec.from_file(SHIPPED)
    assert ScalerSpec.from_yaml(text) == from_file
    assert ScalerSpec.from_dict(yaml.safe_load(text)) == from_file
    # No guessing: a path is not YAML text, and YAML text is not a path.
    with pytest.raises(ValueError, match="exactly one 'kind: ScaledObject'"):
        ScalerSpec.from_yaml(str(SHIPPED))
    with pytest.raises(ValueError, match="not found"):
        ScalerSpec.from_file(text[:40])
    assert ScalerSpec.from_file(SHIPPED, queue_length=3).queue_length == 3


class StepScaler(Scaler):
    """A policy the engine has never heard of: 1 replica, then 3 at t = 100."""

    min_replicas = 1
    max_replicas = 3

    def start(self, env, queue, deployment, rng) -> Controller:
        deployment.start_with(1)

        def step():
            yield env.timeout(100)
            deployment.scale_to(3, "step")

        env.process(step())

        class Step(Controller):
            def metric(self) -> int:
                return queue.undeleted

            def desired(self) -> int:
                return deployment.replicas

        return Step()


def test_the_engine_takes_any_scaler_through_one_interface():
    scenario = Scenario(
        arrivals=Burst(30, 0.0),
        pods=PodSpec(startup="constant(0)", service="constant(10)"),
        scaler=StepScaler(),
        until_s=400.0,
    )
    result = run(scenario, seed=0)
    assert [e.as_dict() for e in result.records.scale_events] == [
        {"t": 100.0, "from": 1, "to": 3, "by": "step"}
    ]
    assert result.timeline().set_index("t").loc[[95.0, 105.0], "replicas"].tolist() == [1, 3]
    with pytest.raises(ValueError, match="scaler must be a Scaler"):
        Scenario(scaler="shipped")  # type: ignore[arg-type]


def test_one_percentile_definition():
    # numpy's linear interpolation between closest ranks: rank 0.95 * (10 - 1) = 8.55 -> 9.55.
    assert percentile(range(1, 11), 95) == pytest.approx(9.55)
    assert percentile([4.0], 50) == 4.0
    assert math.isnan(percentile([], 95))
    with pytest.raises(ValueError, match="0..100"):
        percentile([1.0], 101)
    result = run(
        Scenario(
            arrivals=Burst(20, 0.0),
            pods=PodSpec(startup="constant(0)", service="constant(3)"),
            scaler=FixedReplicas(1),
        ),
        seed=0,
    )
    latency = result.messages().finished_at - result.messages().enqueued_at
    # One pod, 20 items of 3 s in batches of 10 with a 2 s pause: latencies 3..30, then 35..62.
    assert sorted(latency) == [3.0 * k for k in range(1, 11)] + [32 + 3.0 * k for k in range(1, 11)]
    assert result.summary()["latency_p95_s"] == percentile(latency, 95)

"""The rules that pick the send limit and the rollout option, and the simulation's per-run
responsiveness metrics: pure functions on hand-made documents (no storage)."""

from __future__ import annotations

import math
from typing import Any

import pytest

from sim import Constant, FixedReplicas, PodSpec, ScalerSpec, Scenario, Times, run
from workbench.ratelimit import recommend_rate, smoother_arrivals
from workbench.recommend import choose_option, option_scores
from workbench.simreport import (
    SimulationSettings,
    interval,
    per_run_metrics,
    replay_runs_arrivals,
    simulate_day,
)


def _sim(p95: float) -> dict[str, Any]:
    return {"latency_p95_s": {"mean": p95, "ci_low": p95 - 1, "ci_high": p95 + 1, "n": 20}}


def _sweep(name: str, batch_peak: float, rows: list[tuple[float | None, float, float]]) -> dict:
    return {
        "recording": name,
        "batch": {"peak_enqueue_rate_10s": batch_peak, "simulated": _sim(100.0)},
        "rows": [
            {"rate_limit_items_per_s": rate, "peak_enqueue_rate_10s": peak, "simulated": _sim(p95)}
            for rate, peak, p95 in rows
        ],
    }


def test_rate_rule_takes_the_highest_rate_that_passes_on_every_recording() -> None:
    # tech: no limit peaks like batch (26.4 vs 26.0), 20/s is 23 % below (limit 80 % of 26.4 =
    # 21.12); design: batch peaks at 9.0 (limit 7.2): 20/s still peaks at 8.0, 5/s is below,
    # 2/s costs 25 % more p95 than no limit (over the 10 % slack).
    tech = _sweep("tech", 26.4, [(None, 26.0, 100), (20, 20.1, 101), (5, 5.1, 104), (2, 2.1, 90)])
    design = _sweep("design", 9.0, [(None, 8.0, 80), (20, 8.0, 80), (5, 5.1, 88), (2, 2.1, 100)])
    chosen = recommend_rate([tech, design])
    assert chosen["found"] and chosen["rate_limit_items_per_s"] == 5
    assert "highest rate" in chosen["rule"] and "20%" in chosen["rule"] and "10%" in chosen["rule"]
    verdicts = {c["rate_limit_items_per_s"]: c["meets_rule"] for c in chosen["candidates"]}
    assert verdicts == {None: False, 20: False, 5: True, 2: False}
    assert recommend_rate([tech])["rate_limit_items_per_s"] == 20
    # At the margin and at the slack exactly, a rate passes ("at least", "at most").
    edge = _sweep("edge", 10.0, [(None, 8.0, 100), (20, 8.0, 110), (10, 8.01, 100)])
    verdicts = {
        c["rate_limit_items_per_s"]: c["meets_rule"] for c in recommend_rate([edge])["candidates"]
    }
    assert verdicts == {None: True, 20: True, 10: False}
    nothing = _sweep("none", 1.0, [(None, 5.0, 100), (5, 5.0, 100)])
    assert recommend_rate([nothing])["found"] is False
    smoother = smoother_arrivals(tech, 20)
    assert smoother["passed"] and "26.40" in smoother["evidence"]
    assert smoother_arrivals(tech, None)["passed"] is True  # 26.0 < 26.4: lower, if barely
    assert smoother_arrivals(_sweep("eq", 8.0, [(None, 8.0, 1)]), None)["passed"] is False


def _rollout(option: str, modes_per_run: list[dict[str, str]], *, lost: int = 0,
             tripped: list[str] = (), fallbacks: list[str] = ()) -> dict[str, Any]:  # fmt: skip
    planned = modes_per_run[0]
    return {
        "option": option,
        "steps": [
            {
                "name": "s",
                "modes": planned,
                "run_modes": modes_per_run,
                "guardrails": [{"source": s, "tripped": True} for s in tripped],
            }
        ],
        "fallbacks": [{"step": "s", "source": s, "reason": "r", "run": 0} for s in fallbacks],
        "end": {
            "content_hashes_lost": lost,
            "content_hashes_queued_twice": 0,
            "content_hashes_unexpected": 0,
            "guardrails_tripped": len(tripped),
        },
    }


def test_option_rule_prefers_containment_then_streaming_share() -> None:
    s, b = "streaming", "batch"
    rollouts = {
        "rec": {
            "big-bang": _rollout("big-bang", [{"x": b, "y": b}, {"x": s, "y": s}], tripped=["y"]),
            "phased": _rollout("phased", [{"x": s, "y": b}, {"x": s, "y": b}]),
            "ab": _rollout("ab", [{"x": b, "y": b}, {"x": s, "y": b}]),
        }
    }
    fault = _rollout("ab", [{"x": s, "y": s}, {"x": s, "y": b}], tripped=["y"], fallbacks=["y"])
    scores = option_scores(rollouts, fault)
    assert scores["big-bang"]["contains_a_misbehaving_source"] is False  # tripped, no fallback
    assert scores["phased"]["contains_a_misbehaving_source"] is True  # nothing tripped
    assert scores["ab"]["contains_a_misbehaving_source"] is True  # the fault case fell back
    # phased streams 2 of 4 source-runs, A/B 1 of 4: phased wins among the containing ones.
    assert scores["phased"]["streaming_share"] == 0.5 and scores["ab"]["streaming_share"] == 0.25
    assert choose_option(scores) == "phased"
    # A lost item disqualifies, whatever else.
    rollouts["rec"]["phased"]["end"]["content_hashes_lost"] = 1
    assert choose_option(option_scores(rollouts, fault)) == "ab"
    # A fault run where another source changed mode too is not containment.
    fault["steps"][0]["run_modes"][1]["x"] = b
    assert option_scores(rollouts, fault)["ab"]["contains_a_misbehaving_source"] is False
    assert choose_option(option_scores(rollouts, fault)) == "big-bang"


def test_per_run_metrics_measure_each_run_from_its_own_start() -> None:
    # Fixed replicas (always ready from t = 0, startup 0), service exactly 10 s, long-poll:
    # an item is processed 10 s after it is queued. Runs at 0 and 1000 s, first items at 5 and
    # 1030 s: from their starts 15 s and 40 s; from their first items 10 s each; the replica
    # is ready at each run's start (0 s) and when each first item is queued (0 s).
    scenario = Scenario(
        arrivals=Times([5.0, 6.0, 1030.0]),
        pods=PodSpec(
            startup=Constant(0), service=Constant(10), pause_when_empty_s=0, receive_batch_size=1
        ),  # fmt: skip
        scaler=FixedReplicas(1),
        timeline_interval_s=None,
    )
    metrics = per_run_metrics(run(scenario, 0), [0.0, 1000.0])
    assert metrics["run_first_item_processed_s"] == pytest.approx((15 + 40) / 2)
    assert metrics["queued_to_first_processed_s"] == pytest.approx(10)
    assert metrics["run_first_replica_ready_s"] == pytest.approx(0)
    assert metrics["queued_to_replica_ready_s"] == pytest.approx(0)
    # Run 0's second item waits for the first (one replica, one at a time, done at 15 s) and
    # the pod's 2 s pause between batches: started at 17 s, done at 27 s; run 1's only item
    # is done 40 s after its run's start.
    assert metrics["run_makespan_s"] == pytest.approx((27 + 40) / 2)


def test_simulated_day_places_runs_at_their_real_offsets_with_random_phases() -> None:
    runs = [
        {"started_at": "2024-05-14T00:00:00+00:00", "messages": [{"enqueued_at": 2.0}] * 3},
        {"started_at": "2024-05-14T06:30:00+00:00", "messages": [{"enqueued_at": 1.0}] * 3},
    ]
    arrivals = replay_runs_arrivals(runs)
    assert arrivals == [(0.0, [2.0] * 3), (6.5 * 3600, [1.0] * 3)]
    settings = SimulationSettings(startup="constant(30)", service="constant(5)", seeds=20)
    day = simulate_day(arrivals, settings)
    assert day["messages"]["mean"] == 6 and day["messages"]["n"] == 20
    # Three items exceed activationQueueLength 1 at once. KEDA polls every 30 s from a random
    # phase: the wait from the first item to the first replica ready is the wait for the next
    # poll (0-30 s, mean 15) plus a 30 s start-up.
    wait = day["queued_to_replica_ready_s"]
    assert 30 < wait["ci_low"] < wait["mean"] < wait["ci_high"] < 60
    assert 40 < wait["mean"] < 50
    fixed = ScalerSpec.from_file(settings.scaledobject)  # phases 0: the same wait every seed
    same = simulate_day(arrivals, settings, scaler=fixed)["queued_to_replica_ready_s"]
    assert same["ci_low"] == same["ci_high"]


def test_interval_is_a_student_t_interval() -> None:
    # Values 1..5: mean 3, sd sqrt(2.5), t(0.975, 4) = 2.776445: half-width 1.963243.
    got = interval([1, 2, 3, 4, 5, math.nan])
    assert got["mean"] == 3 and got["n"] == 5
    assert got["ci_high"] - 3 == pytest.approx(2.776445 * math.sqrt(2.5) / math.sqrt(5), rel=1e-5)
    assert interval([])["mean"] is None

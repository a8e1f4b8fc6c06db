"""KEDA's loop as the timeline and the records show it: the metric each strategy reports, the
HPA's desired count before its first sync, the loops' random phases, and minReplicaCount."""

from __future__ import annotations

from sim import Burst, PodSpec, ScalerSpec, Scenario, Times, run
from sim._keda import _ticks_before


def _timeline(strategy: str, messages: int = 40) -> list:
    # Messages at t=0; pods ready at once, 4 in flight per pod (batch 4), 100 s each.
    scenario = Scenario(
        arrivals=Burst(messages, 0.0),
        pods=PodSpec(startup="constant(0)", service="constant(100)", receive_batch_size=4),
        scaler=ScalerSpec(max_replicas=3, queue_length=10, queue_length_strategy=strategy),  # type: ignore[arg-type]
        until_s=60.0,
        timeline_interval_s=10.0,
    )
    return run(scenario, 0).records.timeline


def test_the_metric_is_what_the_strategy_counts() -> None:
    for row in _timeline("all"):
        assert row.metric == row.visible + row.in_flight, row
    rows = _timeline("visibleonly", messages=20)
    assert any(row.in_flight for row in rows)
    for row in rows:
        assert row.metric == row.visible, row  # fewer than 32 visible: the count itself
    # 32 visible or more: the scaler peeks 32 and reports the queue's whole count instead.
    first = _timeline("visibleonly", messages=36)[0]
    assert (first.visible, first.in_flight, first.metric) == (32, 4, 36)


def test_desired_is_zero_until_the_hpa_has_synced() -> None:
    # The HPA syncs at t=0 (phase 0) before KEDA's poll: it sees zero replicas and computes
    # nothing. Its first count is at t=15: ceil(40 / 10) = 4.
    rows = _timeline("all")
    assert [(row.t, row.replicas, row.desired) for row in rows[:3]] == [
        (0.0, 1, 0),
        (10.0, 1, 0),
        (20.0, 3, 4),
    ]


def test_random_phases_cover_each_loops_interval() -> None:
    scaler = ScalerSpec(
        polling_interval_s=30.0, hpa_sync_period_s=15.0, keda_poll_phase_s=None,
        hpa_sync_phase_s=None,
    )  # fmt: skip
    scenario = Scenario(arrivals=Times([1.0]), pods=PodSpec(startup="constant(0)"), scaler=scaler)
    records = [run(scenario, seed).records for seed in range(100)]
    keda = [r.keda_phase_s for r in records]
    hpa = [r.hpa_phase_s for r in records]
    assert all(0 <= p < 30 for p in keda) and all(0 <= p < 15 for p in hpa)  # type: ignore[operator]
    # Uniform over the whole interval: some below 1 s, some in its last third.
    assert min(keda) < 1 and max(keda) > 20  # type: ignore[operator]
    assert min(hpa) < 1 and max(hpa) > 10  # type: ignore[operator]


def test_min_replicas_stay_after_the_cooldown() -> None:
    # minReplicaCount 1: KEDA never scales to zero, whatever the cooldown; the HPA scales up
    # for the burst and back down to 1.
    scenario = Scenario(
        arrivals=Burst(20, 0.0),
        pods=PodSpec(startup="constant(0)", service="constant(5)"),
        scaler=ScalerSpec(min_replicas=1, max_replicas=4, queue_length=5, cooldown_period_s=30.0),
    )
    result = run(scenario, 0)
    events = [(e.from_replicas, e.to_replicas, e.by) for e in result.records.scale_events]
    assert events[0] == (1, 4, "hpa") and events[-1][1:] == (1, "hpa")
    assert all(e.to_replicas >= 1 for e in result.records.scale_events)
    assert result.records.complete


def _scan(now: float, phase: float, period: float, inclusive: bool) -> int:
    """The first tick index at or after ``now`` (after, when inclusive), by counting."""
    k = 0
    while phase + k * period < now or (inclusive and phase + k * period <= now):
        k += 1
    return k


def test_the_next_tick_is_found_despite_float_rounding() -> None:
    # Hand-checked: ticks at 10, 40, 70: at 5 the first is 0; at 40 it is tick 1 (inclusive:
    # tick 1 already happened, so 2).
    assert _ticks_before(5.0, 10.0, 30.0) == 0
    assert _ticks_before(40.0, 10.0, 30.0) == 1
    assert _ticks_before(40.0, 10.0, 30.0, inclusive=True) == 2
    assert _ticks_before(41.0, 10.0, 30.0) == 2
    assert _ticks_before(0.0, 0.0, 15.0, inclusive=True) == 1
    # Where (now - phase) / period rounds across an integer: 0.1 * 3 is one ulp above 0.3,
    # and 0.2 + 5 x 0.1 is one below 0.1 * 7.
    assert _ticks_before(0.1 * 3, 0.0, 0.1) == 3
    assert _ticks_before(0.7000000000000001, 0.2, 0.1) == 6
    for period in (0.1, 0.3, 1 / 3, 15.0):
        for phase in (0.0, 0.2, 7.3):
            for j in range(30):
                for now in (phase + j * period, j * 0.1, phase + j * 0.1):
                    for inclusive in (False, True):
                        assert _ticks_before(now, phase, period, inclusive=inclusive) == _scan(
                            now, phase, period, inclusive
                        ), (now, phase, period, inclusive)

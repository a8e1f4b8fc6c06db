"""Invariants over random scenarios (hypothesis): nothing lost, everything finished, replicas in
bounds, and a message is delivered again only after a visibility expiry or a pod removal."""

from __future__ import annotations

import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim import (
    Behavior,
    Burst,
    Constant,
    Exponential,
    PodSpec,
    ScalerSpec,
    ScalingPolicy,
    ScalingRules,
    Scenario,
    Times,
    Uniform,
    run,
)
from sim._behavior import DEFAULT_SCALE_DOWN_POLICIES
from sim._records import ScaleEvent

durations = st.one_of(
    st.floats(0.5, 40).map(Constant),
    st.floats(0.5, 30).map(Exponential),
    st.tuples(st.floats(0, 20), st.floats(0, 40)).map(lambda ab: Uniform(ab[0], ab[0] + ab[1])),
)
startups = st.one_of(
    st.floats(0, 60).map(Constant), st.floats(0, 30).map(lambda a: Uniform(a, a + 30))
)


# Small limits, so that they bind within a run of at most 40 messages and 8 replicas.
policies = st.lists(
    st.one_of(
        st.builds(ScalingPolicy, st.just("Pods"), st.integers(1, 3), st.sampled_from([15, 60])),
        st.builds(
            ScalingPolicy, st.just("Percent"), st.integers(10, 60), st.sampled_from([15, 60])
        ),
    ),
    min_size=1,
    max_size=3,
)
tolerances = st.one_of(st.none(), st.sampled_from([0.0, 0.05, 0.5]))


def rules(window: st.SearchStrategy[int]) -> st.SearchStrategy[ScalingRules]:
    return st.builds(
        ScalingRules,
        window,
        st.sampled_from(["Max", "Min", "Disabled"]),
        policies,
        tolerances,
    )


behaviors = st.one_of(
    st.none(),
    st.builds(
        lambda w: Behavior(scale_down=ScalingRules(w, "Max", DEFAULT_SCALE_DOWN_POLICIES)),
        st.integers(0, 300),
    ),
    st.builds(Behavior, rules(st.integers(0, 120)), rules(st.integers(0, 300))),
)


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    # Spread over 10 minutes, or a burst that drives the desired count up at once.
    times = draw(st.lists(st.floats(0, draw(st.sampled_from([600, 5]))), max_size=40))
    min_replicas = draw(st.integers(0, 2))
    behavior = draw(behaviors)
    platform = (
        "kubernetes"
        if behavior is not None
        else draw(st.sampled_from(["kubernetes", "container-apps"]))
    )
    scaler = ScalerSpec(
        platform=platform,
        polling_interval_s=draw(st.sampled_from([5.0, 15.0, 30.0])),
        cooldown_period_s=draw(st.sampled_from([0.0, 60.0, 300.0])),
        min_replicas=min_replicas,
        max_replicas=draw(st.integers(max(min_replicas, 1), 8)),
        queue_length=draw(st.integers(1, 10)),
        activation_queue_length=draw(st.integers(0, 2)),
        queue_length_strategy=draw(st.sampled_from(["all", "visibleonly"])),
        behavior=behavior,
        hpa_sync_period_s=draw(st.sampled_from([5.0, 15.0])),
        hpa_tolerance=draw(st.sampled_from([0.0, 0.1, 0.5])),
        keda_poll_phase_s=draw(st.sampled_from([0.0, None])),
        hpa_sync_phase_s=draw(st.sampled_from([0.0, None])),
    )
    pods = PodSpec(
        startup=draw(startups),
        service=draw(durations),
        concurrency=draw(st.integers(1, 2)),
        receive_batch_size=draw(st.integers(1, 10)),
        visibility_timeout_s=draw(st.sampled_from([20.0, 60.0, 1000.0])),
        pause_between_batches_s=draw(st.sampled_from([0.0, 2.0])),
        pause_when_empty_s=draw(st.sampled_from([0.0, 10.0])),
        renew_visibility=draw(st.booleans()),
        max_deliveries=5,
    )
    if pods.pause_when_empty_s > 0 and draw(st.booleans()):
        pods = PodSpec(**{**vars(pods), "exit_after_idle_s": 60.0})
    return Scenario(Times(times), pods, scaler, max_time_s=50_000.0, timeline_interval_s=30.0)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios(), st.integers(0, 2**16))
def test_invariants(scenario: Scenario, seed: int):
    result = run(scenario, seed)
    rec = result.records
    scaler = scenario.scaler
    assert isinstance(scaler, ScalerSpec)
    vt = scenario.pods.visibility_timeout_s
    for m in rec.messages:
        # No message lost: deleted (finished or poisoned), or still queued in an incomplete run.
        assert m.deleted or not rec.complete
        # Every message finished at least once, unless poisoned after max deliveries.
        if rec.complete and not m.poisoned:
            assert m.finished_at is not None and m.finished_at >= m.enqueued_at
        if m.poisoned:
            assert len(m.deliveries) == scenario.pods.max_deliveries
        for k, (before, after) in enumerate(zip(m.deliveries, m.deliveries[1:], strict=False)):
            assert after.n == k + 2
            # A later delivery only after the earlier one's visibility expired (it is taken at
            # or after delivery + timeout), or, when renewing, after its pod was removed.
            if scenario.pods.renew_visibility:
                assert before.pod_removed_at is not None
                assert after.delivered_at >= before.pod_removed_at + vt
            else:
                assert after.delivered_at >= before.delivered_at + vt
    # Replicas within bounds, and each step is KEDA's or the HPA's.
    for e in rec.scale_events:
        assert 0 <= e.to_replicas <= scaler.max_replicas
        if e.by == "hpa":
            assert scaler.hpa_min_replicas <= e.to_replicas and e.from_replicas > 0
        else:
            assert e.by == "keda"
            assert (e.from_replicas, e.to_replicas) in (
                (0, max(scaler.min_replicas, 1)),
                (e.from_replicas, 0),
            )
    check_hpa_limits(scaler, rec.scale_events)
    for row in rec.timeline:
        assert 0 <= row.ready_replicas <= row.replicas <= scaler.max_replicas
        assert row.visible + row.in_flight <= len(rec.messages)
    if rec.complete:
        assert rec.scale_events == [] or rec.scale_events[-1].to_replicas == scaler.min_replicas


def _allowed(policy: ScalingPolicy, start: int, up: bool) -> int:
    """The replicas one policy allows from ``start`` (autoscaling/v2, HPA controller)."""
    if up:
        return (
            start + policy.value
            if policy.type == "Pods"
            else math.ceil(start * (1 + policy.value / 100))
        )
    return start - policy.value if policy.type == "Pods" else int(start * (1 - policy.value / 100))


def check_hpa_limits(scaler: ScalerSpec, events: list[ScaleEvent]) -> None:
    """Every HPA step within its direction's behavior: none when Disabled, else within what
    the policies allow from the replicas at each period's start (selectPolicy Max: the most
    any policy allows, Min: the least)."""
    behavior = scaler.behavior
    if behavior is None:
        return
    hpa_steps = [e for e in events if e.by == "hpa"]
    for e in hpa_steps:
        if not scaler.hpa_min_replicas <= e.from_replicas <= scaler.max_replicas:
            continue  # bringing the count back within bounds is not rate-limited
        up = e.to_replicas > e.from_replicas
        rules_ = behavior.scale_up if up else behavior.scale_down
        assert rules_.select_policy != "Disabled", (up, e)
        allowed = []
        for policy in rules_.policies:
            # The replicas at the period's start: undo the HPA's own steps within it.
            window = [w for w in hpa_steps if e.t - policy.period_s < w.t < e.t]
            start = e.from_replicas - sum(w.to_replicas - w.from_replicas for w in window)
            allowed.append(_allowed(policy, start, up))
        pick = max if (rules_.select_policy == "Max") == up else min
        if up:
            assert e.to_replicas <= max(pick(allowed), e.from_replicas), (rules_, e, allowed)
        else:
            assert e.to_replicas >= min(pick(allowed), e.from_replicas), (rules_, e, allowed)


@st.composite
def limited_bursts(draw: st.DrawFn) -> Scenario:
    """A burst of long messages and a small queueLength: the desired count jumps, so the
    behavior's policies are what limit each step, up and then down."""
    scaler = ScalerSpec(
        max_replicas=draw(st.integers(3, 12)),
        queue_length=draw(st.integers(1, 3)),
        behavior=Behavior(draw(rules(st.integers(0, 60))), draw(rules(st.integers(0, 60)))),
        hpa_tolerance=draw(st.sampled_from([0.0, 0.1, 0.5])),
        polling_interval_s=draw(st.sampled_from([5.0, 30.0])),
        cooldown_period_s=draw(st.sampled_from([0.0, 60.0])),
    )
    pods = PodSpec(
        startup=Constant(draw(st.sampled_from([0.0, 10.0]))),
        service=Constant(draw(st.sampled_from([20.0, 60.0]))),
        receive_batch_size=1,
    )
    count = draw(st.integers(10, 40))
    return Scenario(Burst(count, 0.0), pods, scaler, max_time_s=50_000.0)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(limited_bursts())
def test_hpa_steps_keep_the_behavior_limits(scenario: Scenario) -> None:
    result = run(scenario, 0)
    assert isinstance(scenario.scaler, ScalerSpec)
    assert result.records.complete
    check_hpa_limits(scenario.scaler, result.records.scale_events)

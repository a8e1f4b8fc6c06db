"""Invariants over random scenarios (hypothesis): nothing lost, everything finished, replicas in
bounds, and a message is delivered again only after a visibility expiry or a pod removal."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim import (
    Behavior,
    Constant,
    Exponential,
    PodSpec,
    ScalerSpec,
    ScalingRules,
    Scenario,
    Times,
    Uniform,
    run,
)
from sim._behavior import DEFAULT_SCALE_DOWN_POLICIES

durations = st.one_of(
    st.floats(0.5, 40).map(Constant),
    st.floats(0.5, 30).map(Exponential),
    st.tuples(st.floats(0, 20), st.floats(0, 40)).map(lambda ab: Uniform(ab[0], ab[0] + ab[1])),
)
startups = st.one_of(
    st.floats(0, 60).map(Constant), st.floats(0, 30).map(lambda a: Uniform(a, a + 30))
)


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    times = draw(st.lists(st.floats(0, 600), max_size=40))
    min_replicas = draw(st.integers(0, 2))
    behavior = draw(
        st.one_of(
            st.none(),
            st.builds(
                lambda w: Behavior(scale_down=ScalingRules(w, "Max", DEFAULT_SCALE_DOWN_POLICIES)),
                st.integers(0, 300),
            ),
        )
    )
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
    for row in rec.timeline:
        assert 0 <= row.ready_replicas <= row.replicas <= scaler.max_replicas
        assert row.visible + row.in_flight <= len(rec.messages)
    if rec.complete:
        assert rec.scale_events == [] or rec.scale_events[-1].to_replicas == scaler.min_replicas

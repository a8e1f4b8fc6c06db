"""Golden scenarios: expected scale events derived by hand from docs/keda-semantics.md
(summarised in docs/simulation.md, "What is modelled").

Conventions of the model used in the derivations: the KEDA poll and the HPA sync both tick at
t = 0, 30, 60, ... and t = 0, 15, 30, ... (phase 0); at the same instant arrivals come first, then
pod events, then the HPA sync, then the KEDA poll. So the HPA sync at t = 0 sees 0 replicas and
does nothing; KEDA's poll right after it does 0 -> 1. Scale to zero: KEDA keeps
lastActiveTime in whole seconds and polls a moment after each tick, so `lastActive + cooldown < now`
holds at the poll at last-active + cooldown: zero comes at that poll, not one poll later.
"""

from __future__ import annotations

import pytest

from sim import Burst, PodSpec, ScalerSpec, Scenario, Times, run
from workbench.paths import PROJECT_ROOT as ROOT

SHIPPED = ROOT / "data" / "keda" / "processor-scaledobject.yaml"


def scaledobject(spec_lines: str, metadata_lines: str = "") -> str:
    return f"""
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata: {{name: test}}
spec:
  scaleTargetRef: {{name: content-processor}}
{spec_lines}
  triggers:
    - type: azure-queue
      metadata:
        queueName: q
        connectionFromEnv: AZURE_STORAGE_CONNECTION_STRING
{metadata_lines}
"""


def events(result) -> list[tuple[float, int, int, str]]:
    return [(e.t, e.from_replicas, e.to_replicas, e.by) for e in result.records.scale_events]


def test_burst_of_85_with_the_shipped_scaledobject():
    # ScaledObject: queueLength 8, activationQueueLength 1, min 0, max 6, behavior absent -> nil.
    # t=0   KEDA poll: count 85 > 1 -> active at 0 replicas -> KEDA sets max(min, 1) = 1.
    # t=15  HPA: status replicas 1, count 85 (none processed: the pod is still starting; strategy
    #       all counts in-flight messages). ratio 85/(8*1) > 1.1 -> desired ceil(85/8) = 11;
    #       nil path: recommendation max(11) = 11, scale-up limit max(2*1, 4) = 4 -> 1 -> 4.
    # t=30  pod 1 is ready and holds 10 messages in flight: count still 85 -> desired 11;
    #       limit min(maxReplicas 6, max(2*4, 4) = 8) = 6 -> 4 -> 6 (the cap).
    scenario = Scenario(
        arrivals=Burst(85, 0.0),
        pods=PodSpec(startup="constant(30)", service="constant(10)"),
        scaler=ScalerSpec.from_file(SHIPPED),
    )
    result = run(scenario, seed=0)
    got = events(result)
    assert got[:3] == [(0.0, 0, 1, "keda"), (15.0, 1, 4, "hpa"), (30.0, 4, 6, "hpa")]
    assert max(e[2] for e in got) == 6
    assert all(to < frm for _, frm, to, _ in got[3:])  # only downscales after the cap
    # Scale to zero: KEDA at the first poll at or after last-active + cooldown (300 s), where
    # last-active is the last poll that saw count > activationQueueLength (1).
    msgs = result.records.messages

    def count_at(t: float) -> int:
        return sum(1 for m in msgs if m.enqueued_at <= t and (m.deleted_at or 1e18) > t)

    last_active = max(t for t in range(0, int(result.records.end_s) + 1, 30) if count_at(t) > 1)
    zero_at = min(t for t in range(0, 10_000, 30) if t >= last_active + 300)
    assert got[-1] == (float(zero_at), 1, 0, "keda")
    assert result.summary()["unfinished"] == 0


def test_burst_of_85_scales_to_zero_at_480_s():
    # The audit's case. Shipped object (queueLength 8, activation 1, max 6, cooldown 300, nil
    # behavior); pods ready at once, 12 s per item, one at a time, no pauses, so every pod is busy
    # until the queue is empty. Pod 1 runs from t=0, pods 2-4 from 15, pods 5-6 from 30; items
    # finished by t: f(t) = floor(t/12) + 3 floor((t-15)/12) + 2 floor((t-30)/12); count = 85 - f.
    # t=0   KEDA: 85 > 1 -> 0 -> 1.   t=15 HPA: f=1, 84 -> ceil(84/8)=11, limit max(2,4)=4: 1 -> 4.
    # t=30  HPA: f=5, 80 -> 10, limit min(6, 8) = 6: 4 -> 6 (the cap).
    # HPA recommendations (nil path: max over the last 300 s, cutoff inclusive):
    #   t=90  f=35, 50/48 = 1.04 within tolerance -> 6;  t=105 f=41, 44/48 = 0.92 -> 6;
    #   t=120 f=48, 37 -> 5;  t=135 f=57, 28 -> 4;  t=150 f=65, 20 -> 3;  t=165 f=71, 14 -> 2;
    #   t=180 f=78, 7 -> 1;  t>=195 count 0 -> 0 (clamped to 1).
    # Down: t=420 (window from 120) 6 -> 5; 435: 4; 450: 3; 465: 2; 480 (window from 180): 2 -> 1.
    # KEDA: count 7 > 1 at the poll at 180, 0 at 210: last active 180 -> zero at 180 + 300 = 480
    # (the HPA's sync at 480 runs first: 2 -> 1, then KEDA 1 -> 0). One poll later would be 510.
    scenario = Scenario(
        arrivals=Burst(85, 0.0),
        pods=PodSpec(
            startup="constant(0)",
            service="constant(12)",
            receive_batch_size=1,
            pause_between_batches_s=0.0,
            pause_when_empty_s=0.0,
        ),
        scaler=ScalerSpec.from_file(SHIPPED),
    )
    assert events(run(scenario, seed=0)) == [
        (0.0, 0, 1, "keda"),
        (15.0, 1, 4, "hpa"),
        (30.0, 4, 6, "hpa"),
        (420.0, 6, 5, "hpa"),
        (435.0, 5, 4, "hpa"),
        (450.0, 4, 3, "hpa"),
        (465.0, 3, 2, "hpa"),
        (480.0, 2, 1, "hpa"),
        (480.0, 1, 0, "keda"),
    ]


def test_initial_cooldown_plays_no_part_after_the_first_activity():
    # initialCooldownPeriod only holds off a step to zero while the object was never active;
    # these arrivals activate it at t=0, so 900 s of it changes nothing.
    def scale_events(initial: str) -> list:
        yaml_text = scaledobject(f"  cooldownPeriod: 60\n  initialCooldownPeriod: {initial}")
        scenario = Scenario(
            arrivals=Burst(3, 0.0),
            pods=PodSpec(startup="constant(0)", service="constant(7)"),
            scaler=ScalerSpec.from_yaml(yaml_text),
        )
        return events(run(scenario, seed=0))

    assert scale_events("900") == scale_events("0") == [(0.0, 0, 1, "keda"), (60.0, 1, 0, "keda")]


def test_last_active_time_is_kept_in_whole_seconds():
    # Polls every 9.8 s from t=0.5; burst of 3 at 0; cooldown 10. Last active at the poll at 0.5,
    # stored as 0 s. The poll at 10.3: 0 + 10 < 10.3 + a moment -> zero at 10.3 (the exact time
    # 0.5 + 10 = 10.5 would wait until the poll at 20.1).
    scaler = ScalerSpec(
        polling_interval_s=9.8, cooldown_period_s=10.0, keda_poll_phase_s=0.5, hpa_sync_phase_s=0.0
    )
    scenario = Scenario(
        arrivals=Burst(3, 0.0),
        pods=PodSpec(startup="constant(0)", service="constant(1)", pause_between_batches_s=0.0),
        scaler=scaler,
    )
    assert events(run(scenario, seed=0)) == [(0.5, 0, 1, "keda"), (10.3, 1, 0, "keda")]


def test_the_t0_timeline_row_is_taken_after_the_controllers_acted():
    # KEDA scales 0 -> 1 at t=0; the row at t=0 shows that replica (and the pod starting).
    result = run(
        Scenario(
            arrivals=Burst(85, 0.0),
            pods=PodSpec(startup="constant(30)", service="constant(10)"),
            scaler=ScalerSpec.from_file(SHIPPED),
        ),
        seed=0,
    )
    first = result.timeline().iloc[0]
    assert (first.t, first.replicas, first.ready_replicas, first.visible) == (0.0, 1, 0, 85)


def test_scale_to_zero_at_the_poll_at_last_active_plus_cooldown():
    # cooldownPeriod 60, queueLength 5, activation 0 (default). Burst of 3 at t=0; the pod is
    # ready at once and handles the three one by one in 7 s each: done at 7, 14, 21.
    # t=0  KEDA: count 3 > 0 -> 0 -> 1, lastActive = 0.
    # t=15 HPA: count 1 (the third, in flight), ratio 1/5 -> desired ceil(0.2) = 1: no change.
    # t=30 KEDA: count 0, inactive; 0 + 60 < 30? no.
    # t=60 KEDA: lastActive 0 (whole seconds) + 60 < 60 + the poll's moment -> 1 -> 0.
    yaml_text = scaledobject("  cooldownPeriod: 60", '        queueLength: "5"')
    scenario = Scenario(
        arrivals=Burst(3, 0.0),
        pods=PodSpec(startup="constant(0)", service="constant(7)"),
        scaler=ScalerSpec.from_yaml(yaml_text),
    )
    result = run(scenario, seed=0)
    assert events(result) == [(0.0, 0, 1, "keda"), (60.0, 1, 0, "keda")]
    assert result.records.end_s == 60.0


def test_one_message_does_not_wake_a_deployment_with_activation_threshold_one():
    # activationQueueLength 1: active only when count > 1. One message: count 1, never active,
    # and at 0 replicas the HPA does nothing, so nothing ever scales.
    scenario = Scenario(
        arrivals=Times([5.0]),
        pods=PodSpec(startup="constant(0)"),
        scaler=ScalerSpec.from_file(SHIPPED),
        until_s=600.0,
    )
    result = run(scenario, seed=0)
    assert events(result) == []
    assert result.summary()["unfinished"] == 1
    # A second message at t=40 makes count 2 > 1: KEDA wakes it at its next poll, t=60.
    woken = run(
        Scenario(
            arrivals=Times([5.0, 40.0]),
            pods=PodSpec(startup="constant(0)", service="constant(5)"),
            scaler=ScalerSpec.from_file(SHIPPED),
        ),
        seed=0,
    )
    assert events(woken)[0] == (60.0, 0, 1, "keda")
    # Without --until, a run that can never wake ends at the first idle poll, incomplete.
    stuck = run(Scenario(arrivals=Times([5.0]), scaler=ScalerSpec.from_file(SHIPPED)), 0)
    assert not stuck.records.complete and stuck.records.end_s == 30.0


def _fast_growth(behavior: str, sync_s: float = 15.0):
    # 1000 messages, queueLength 1, max 100; pods never become ready within the 100 s horizon,
    # so the count stays 1000 and every HPA sync wants ceil(1000/1) = 1000 -> capped each time.
    spec = "  maxReplicaCount: 100\n" + behavior
    scaler = ScalerSpec.from_yaml(
        scaledobject(spec, '        queueLength: "1"'), hpa_sync_period_s=sync_s
    )
    scenario = Scenario(
        arrivals=Burst(1000, 0.0),
        pods=PodSpec(startup="constant(10000)"),
        scaler=scaler,
        until_s=100.0,
    )
    return events(run(scenario, seed=0))


def test_scale_up_nil_behavior_doubles_or_adds_up_to_four_per_sync():
    # behavior = nil: limit per sync min(max, max(2c, 4)): 1 -> 4 -> 8 -> 16 -> 32 -> 64 -> 100.
    assert _fast_growth("") == [
        (0.0, 0, 1, "keda"),
        (15.0, 1, 4, "hpa"),
        (30.0, 4, 8, "hpa"),
        (45.0, 8, 16, "hpa"),
        (60.0, 16, 32, "hpa"),
        (75.0, 32, 64, "hpa"),
        (90.0, 64, 100, "hpa"),
    ]


BEHAVIOR = """  advanced:
    horizontalPodAutoscalerConfig:
      behavior:
        scaleDown: {stabilizationWindowSeconds: 300}
"""


def test_scale_up_default_behavior_allows_max_of_2c_and_c_plus_4_per_period():
    # behavior set, scaleUp defaulted: {Pods 4, Percent 100} per 15 s, selectPolicy Max. Events
    # 15 s old are outside the period (Go: After(cutoff)), so each sync starts a fresh period:
    # 1 -> max(1+4, 2) = 5 -> max(9, 10) = 10 -> 20 -> 40 -> 80 -> min(160, 100) = 100.
    assert _fast_growth(BEHAVIOR) == [
        (0.0, 0, 1, "keda"),
        (15.0, 1, 5, "hpa"),
        (30.0, 5, 10, "hpa"),
        (45.0, 10, 20, "hpa"),
        (60.0, 20, 40, "hpa"),
        (75.0, 40, 80, "hpa"),
        (90.0, 80, 100, "hpa"),
    ]


def test_rate_limit_counts_changes_within_the_period_not_per_sync():
    # Sync every 5 s with the default behavior: the 15 s period spans three syncs.
    # t=5: periodStart 1 -> limit max(5, 2) = 5: 1 -> 5 (+4 recorded at 5).
    # t=10, 15: the +4 at t=5 is within (t-15, t]: periodStart 5-4 = 1 -> limit 5: no change.
    # t=20: the event at 5 is not after 20-15 = 5: periodStart 5 -> max(9, 10) = 10: 5 -> 10.
    # t=25, 30: periodStart 5 -> limit 10: none.  t=35: periodStart 10 -> 20.  t=50: 40. ...
    got = _fast_growth(BEHAVIOR, sync_s=5.0)
    assert got[:5] == [
        (0.0, 0, 1, "keda"),
        (5.0, 1, 5, "hpa"),
        (20.0, 5, 10, "hpa"),
        (35.0, 10, 20, "hpa"),
        (50.0, 20, 40, "hpa"),
    ]
    # The nil path has no period: max(2c, 4) at every sync.
    assert _fast_growth("", sync_s=5.0)[:4] == [
        (0.0, 0, 1, "keda"),
        (5.0, 1, 4, "hpa"),
        (10.0, 4, 8, "hpa"),
        (15.0, 8, 16, "hpa"),
    ]


def _held_downscale(behavior: str):
    # 40 messages at t=0, queueLength 10, max 10, cooldown 600. Pods need 50.5 s to start;
    # pod 1 (from t=0) then drains all 40 by t=54.5 (batches of 32, 0.1 s each, no pauses).
    spec = "  maxReplicaCount: 10\n  cooldownPeriod: 600\n" + behavior
    scenario = Scenario(
        arrivals=Burst(40, 0.0),
        pods=PodSpec(
            startup="constant(50.5)",
            service="constant(0.1)",
            receive_batch_size=32,
            pause_between_batches_s=0.0,
        ),
        scaler=ScalerSpec.from_yaml(scaledobject(spec, '        queueLength: "10"')),
    )
    return events(run(scenario, seed=0))


def test_downscale_is_held_by_the_stabilization_window_nil_path():
    # t=0 KEDA 0 -> 1.  t=15 HPA: 40/(10*1) = 4 -> desired 4, limit 4: 1 -> 4 (recommendation 4).
    # t=30, 45: ratio 40/(10*4) = 1 within tolerance -> recommendation 4 (status replicas).
    # t=60..: count 0 -> recommendation 0, but the max over the last 300 s is 4: held at 4.
    # t=345: the recommendation of t=45 is not before the cutoff 45 (Go: !Before) -> still 4.
    # t=360: recommendations since 60 are all 0 -> 0, clamped to the HPA's minReplicas 1: 4 -> 1.
    # KEDA: last active poll t=30 (count 40); zero at the poll at 30 + 600: t=630.
    assert _held_downscale("") == [
        (0.0, 0, 1, "keda"),
        (15.0, 1, 4, "hpa"),
        (360.0, 4, 1, "hpa"),
        (630.0, 1, 0, "keda"),
    ]


def test_downscale_is_held_by_the_stabilization_window_behavior_path():
    # Same, with scaleDown.stabilizationWindowSeconds 300 in behavior. Up: 1 -> min(4, max(5, 2)).
    # The behavior path keeps recommendations strictly after the cutoff (Go: After): at t=345
    # the 4 of t=45 has left the window, so downRec = 0 -> min 1; rate limit Percent 100 allows
    # it (floor(4 * 0) = 0): 4 -> 1 at t=345, one sync earlier than the nil path.
    assert _held_downscale(BEHAVIOR) == [
        (0.0, 0, 1, "keda"),
        (15.0, 1, 4, "hpa"),
        (345.0, 4, 1, "hpa"),
        (630.0, 1, 0, "keda"),
    ]


def test_pod_removed_mid_message_causes_exactly_one_redelivery():
    # queueLength 1, scaleDown stabilization 0; 2 messages at t=0; pods ready at once; 70 s each;
    # batch 1; visibility timeout 200 s; idle pods long-poll (take a message when it reappears).
    # t=0   KEDA 0 -> 1; pod 1 takes m0 (busy until 70).
    # t=15  HPA: count 2 -> desired 2 (limit 5): 1 -> 2; pod 2 takes m1 at 15 (until 85).
    # t=30..60: ratio 2/(1*2) = 1: no change.
    # t=75  m0 deleted at 70; count 1 (m1 in flight) -> desired 1, no window: 2 -> 1. Victim:
    #       ready 75 s vs 60 s ago -> log2 ns buckets 36 vs 35 -> pod 2 (more recently ready),
    #       mid-m1. m1 stays invisible until 15 + 200 = 215, then pod 1 takes it (done 285).
    # KEDA: count 1 > 0 at polls up to t=270, 0 at 300 -> zero at the poll at 270 + 300 = 570.
    yaml_text = scaledobject(
        BEHAVIOR.replace("300", "0") + "  maxReplicaCount: 10", '        queueLength: "1"'
    )
    scenario = Scenario(
        arrivals=Burst(2, 0.0),
        pods=PodSpec(
            startup="constant(0)",
            service="constant(70)",
            receive_batch_size=1,
            visibility_timeout_s=200.0,
            pause_when_empty_s=0.0,
            pause_between_batches_s=0.0,
        ),
        scaler=ScalerSpec.from_yaml(yaml_text),
    )
    result = run(scenario, seed=0)
    assert events(result) == [
        (0.0, 0, 1, "keda"),
        (15.0, 1, 2, "hpa"),
        (75.0, 2, 1, "hpa"),
        (570.0, 1, 0, "keda"),
    ]
    deliveries = result.deliveries()
    m1 = deliveries[deliveries.message_id == 1].sort_values("delivery")
    assert m1.outcome.tolist() == ["pod-removed", "deleted"]
    assert m1.delivered_at.tolist() == [15.0, 215.0]
    assert m1.pod.tolist() == [2, 1]
    assert result.summary()["redeliveries"] == 1
    assert result.messages().set_index("message_id").loc[1, "finished_at"] == pytest.approx(285.0)


def test_loops_resume_on_their_own_ticks_after_an_idle_gap():
    # KEDA polls at 7 + 30k, the HPA syncs at 3 + 15k; cooldown 60, queueLength 5. The first
    # burst is done and scaled to zero long before the second burst of 20, at t=1027 exactly on a
    # KEDA tick: arrivals come first at one instant, so that poll sees them: 0 -> 1 at 1027. The
    # HPA's sync at 1023 saw zero replicas; its next, 1038, sees 20 (the pod starts for 30 s):
    # ceil(20/5) = 4, scale-up limit max(2, 4) = 4.
    yaml_text = scaledobject("  cooldownPeriod: 60", '        queueLength: "5"')
    scaler = ScalerSpec.from_yaml(yaml_text, keda_poll_phase_s=7.0, hpa_sync_phase_s=3.0)
    scenario = Scenario(
        arrivals=Times([0.0] * 20 + [1027.0] * 20),
        pods=PodSpec(startup="constant(30)", service="constant(2)"),
        scaler=scaler,
    )
    got = events(run(scenario, seed=0))
    assert got[:2] == [(7.0, 0, 1, "keda"), (18.0, 1, 4, "hpa")]
    later = [e for e in got if e[0] >= 1000]
    assert later[:2] == [(1027.0, 0, 1, "keda"), (1038.0, 1, 4, "hpa")]
    assert [e for e in got if 0 < e[0] < 1000][-1][2] == 0  # at zero before the second burst


# -- defaults of a partial behavior block, and the tolerance ------------------------------------
def _behavior(scale_up: str = "", scale_down: str = "") -> str:
    lines = "  advanced:\n    horizontalPodAutoscalerConfig:\n      behavior:\n"
    for name, block in (("scaleUp", scale_up), ("scaleDown", scale_down)):
        if block:
            lines += f"        {name}: {block}\n"
    return lines


def _rising(behavior: str) -> list[tuple[float, int, int, str]]:
    # 5 messages at t=0, 50 more at t=20; queueLength 5, max 11, pods never ready by t=100.
    # t=0 KEDA 0 -> 1.  t=15 HPA: ratio 5/(5*1) = 1: recommendation 1, no change.
    # t=30..: count 55 -> recommendation ceil(55/5) = 11 at every sync.
    spec = "  maxReplicaCount: 11\n" + behavior
    scenario = Scenario(
        arrivals=Times([0.0] * 5 + [20.0] * 50),
        pods=PodSpec(startup="constant(10000)"),
        scaler=ScalerSpec.from_yaml(scaledobject(spec, '        queueLength: "5"')),
        until_s=100.0,
    )
    return events(run(scenario, seed=0))


def test_a_scale_up_block_with_only_policies_has_no_stabilization_window():
    # scaleUp {policies: Pods 2 / 15 s}: window 0 (not scaleDown's 300), selectPolicy Max.
    # t=30: upRec = 11 (no earlier recommendation counts): 1 -> 1 + 2 = 3; then +2 per sync.
    # A 300 s window would take the lowest recommendation since t=15 (1): no scale-up at all.
    got = _rising(_behavior("{policies: [{type: Pods, value: 2, periodSeconds: 15}]}"))
    assert got == [(0.0, 0, 1, "keda"), (30.0, 1, 3, "hpa"), (45.0, 3, 5, "hpa"),
                   (60.0, 5, 7, "hpa"), (75.0, 7, 9, "hpa"), (90.0, 9, 11, "hpa")]  # fmt: skip
    held = _rising(_behavior("{stabilizationWindowSeconds: 300, policies: "
                             "[{type: Pods, value: 2, periodSeconds: 15}]}"))  # fmt: skip
    assert held == [(0.0, 0, 1, "keda")]


def test_a_scale_up_block_with_only_a_window_has_the_default_policies():
    # scaleUp {stabilizationWindowSeconds: 0}: policies Pods 4 and Percent 100 per 15 s, Max.
    # t=30: max(1 + 4, 2 x 1) = 5.  t=45: max(9, 10) = 10.  t=60: ratio 55/(5 x 10) = 1.1,
    # within the tolerance: 10 stays.
    got = _rising(_behavior("{stabilizationWindowSeconds: 0}"))
    assert got == [(0.0, 0, 1, "keda"), (30.0, 1, 5, "hpa"), (45.0, 5, 10, "hpa")]  # fmt: skip
    # selectPolicy Min would take the smaller: 1 -> 2 -> 4 -> 8 -> 11.
    assert _rising(_behavior("{stabilizationWindowSeconds: 0, selectPolicy: Min}"))[1:3] == [
        (30.0, 1, 2, "hpa"),
        (45.0, 2, 4, "hpa"),
    ]


def _draining(behavior: str, messages: int = 40, late: int = 0, **overrides: float) -> list:
    # As _held_downscale: queueLength 10, max 10, cooldown 600, pods ready after 50.5 s; pod 1
    # drains everything within a few seconds, so the count is 0 from t=60 on. KEDA: the last
    # active poll is t=30, zero at 630.
    spec = "  maxReplicaCount: 10\n  cooldownPeriod: 600\n" + behavior
    scenario = Scenario(
        arrivals=Times([0.0] * messages + [20.0] * late),
        pods=PodSpec(
            startup="constant(50.5)",
            service="constant(0.1)",
            receive_batch_size=32,
            pause_between_batches_s=0.0,
        ),
        scaler=ScalerSpec.from_yaml(scaledobject(spec, '        queueLength: "10"'), **overrides),
    )
    return events(run(scenario, seed=0))


def test_a_scale_down_block_with_only_policies_keeps_the_300_s_window():
    # scaleDown {policies: Pods 1 / 60 s}: window 300 s. Up at t=15: 40/10 -> 4 (limit 5).
    # t=345: the last recommendation of 4 (t=45) has left the window: downRec 0, limited to
    # one pod per 60 s: 4 -> 3; t=405: 3 -> 2; t=465: 2 -> 1. (A 0 s window: from t=60.)
    got = _draining(_behavior(scale_down="{policies: [{type: Pods, value: 1, periodSeconds: 60}]}"))
    assert got == [(0.0, 0, 1, "keda"), (15.0, 1, 4, "hpa"), (345.0, 4, 3, "hpa"),
                   (405.0, 3, 2, "hpa"), (465.0, 2, 1, "hpa"), (630.0, 1, 0, "keda")]  # fmt: skip


def test_a_scale_down_block_with_only_a_window_has_the_default_policy():
    # scaleDown {stabilizationWindowSeconds: 0}: Percent 100 per 15 s. t=60: count 0 ->
    # recommendation 0, floor(4 x 0) = 0 allowed, clamped to minReplicas 1: 4 -> 1.
    got = _draining(_behavior(scale_down="{stabilizationWindowSeconds: 0}"))
    assert got == [(0.0, 0, 1, "keda"), (15.0, 1, 4, "hpa"), (60.0, 4, 1, "hpa"),
                   (630.0, 1, 0, "keda")]  # fmt: skip
    # Two policies, selectPolicy absent = Max: the policy that allows the larger change
    # (Percent 100 over Pods 1): the same events. Min: one pod per 15 s period (the step at
    # t=60 is not within (60, 75], so t=75 starts from 3).
    both = "policies: [{type: Pods, value: 1, periodSeconds: 15}, {type: Percent, value: 100, periodSeconds: 15}]"
    assert _draining(_behavior(scale_down=f"{{stabilizationWindowSeconds: 0, {both}}}")) == got
    assert _draining(
        _behavior(scale_down=f"{{stabilizationWindowSeconds: 0, selectPolicy: Min, {both}}}")
    ) == [(0.0, 0, 1, "keda"), (15.0, 1, 4, "hpa"), (60.0, 4, 3, "hpa"), (75.0, 3, 2, "hpa"),
          (90.0, 2, 1, "hpa"), (630.0, 1, 0, "keda")]  # fmt: skip


def test_the_hpa_tolerance_is_ten_percent_and_a_behavior_can_set_its_own():
    # 40 messages, 4 more at t=20, behavior nil: t=15 1 -> 4 (40/10). t=30: ratio 44/(10 x 4)
    # = 1.1, within the default tolerance 0.1 (inclusive): no change; held at 4 until t=360.
    assert _draining("", late=4) == [(0.0, 0, 1, "keda"), (15.0, 1, 4, "hpa"),
                                          (360.0, 4, 1, "hpa"), (630.0, 1, 0, "keda")]  # fmt: skip
    # Tolerance 0: 1.1 is outside, ceil(4.4) = 5 at t=30 (limit 8), held at 5 until t=360.
    assert _draining("", late=4, hpa_tolerance=0.0) == [
        (0.0, 0, 1, "keda"), (15.0, 1, 4, "hpa"), (30.0, 4, 5, "hpa"), (360.0, 5, 1, "hpa"),
        (630.0, 1, 0, "keda")]  # fmt: skip
    # 55 messages with a behavior (scaleUp defaults): t=15 1 -> 5 (ceil 5.5 = 6, limit 5).
    # t=30 ratio 55/50 = 1.1: held by the default tolerance; scaleUp.tolerance 0.05 lets
    # ceil(5.5) = 6 through. Down at t=345 (default scaleDown window 300, Percent 100).
    assert _draining(_behavior(scale_down="{stabilizationWindowSeconds: 300}"), messages=55) == [
        (0.0, 0, 1, "keda"), (15.0, 1, 5, "hpa"), (345.0, 5, 1, "hpa"), (630.0, 1, 0, "keda")]  # fmt: skip
    assert _draining(_behavior(scale_up="{tolerance: 0.05}"), messages=55) == [
        (0.0, 0, 1, "keda"), (15.0, 1, 5, "hpa"), (30.0, 5, 6, "hpa"), (345.0, 6, 1, "hpa"),
        (630.0, 1, 0, "keda")]  # fmt: skip

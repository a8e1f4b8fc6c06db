"""The HPA arithmetic (sim/_hpa.py) and the behavior settings (sim/_behavior.py) one call at a
time, with expected values worked out from the autoscaling/v2 rules (docs/keda-semantics.md)."""

from __future__ import annotations

import pytest

from sim import Behavior, ScalerSpec, ScalingPolicy, ScalingRules
from sim._hpa import Hpa


def hpa(**spec: object) -> Hpa:
    return Hpa(ScalerSpec(**{"queue_length": 10, **spec}))  # type: ignore[arg-type]


def rules(*policies: ScalingPolicy, select: str = "Max", window: int = 0) -> ScalingRules:
    return ScalingRules(window, select, policies)  # type: ignore[arg-type]


# -- the metric -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("total", "desired"),
    [
        (180, 20),  # ratio 0.9: the lower edge of the tolerance is inside
        (179, 18),  # ratio 0.895: ceil(17.9)
        (190, 20),  # ratio 0.95
        (220, 20),  # ratio 1.1: the upper edge is inside
        (221, 23),  # ratio 1.105: ceil(22.1)
        (0, 0),
    ],
)
def test_the_metric_within_the_tolerance_keeps_the_replicas(total: int, desired: int) -> None:
    assert hpa().metric_desired(total, 20) == desired


def test_a_behavior_tolerance_applies_to_its_own_direction_only() -> None:
    up_only = Behavior(scale_up=ScalingRules(0, "Max", (ScalingPolicy("Pods", 4, 15),), 0.0))
    assert hpa(behavior=up_only).metric_desired(201, 20) == 21  # 1.005 > 1 + 0
    assert hpa(behavior=up_only).metric_desired(181, 20) == 20  # 0.905: the HPA's 0.1
    down_only = Behavior(scale_down=ScalingRules(300, "Max", (), 0.5))
    assert hpa(behavior=down_only).metric_desired(101, 20) == 20  # 0.505 >= 1 - 0.5
    assert hpa(behavior=down_only).metric_desired(221, 20) == 23  # up: the HPA's 0.1


# -- one sync ---------------------------------------------------------------------------------
def test_at_zero_the_hpa_does_nothing() -> None:
    h = hpa()
    assert h.sync(0.0, 0, 1000) == 0
    assert h.recommendations == []


def test_out_of_bounds_replicas_are_brought_back_first() -> None:
    assert hpa(max_replicas=6).sync(0.0, 8, 0) == 6
    assert hpa(min_replicas=2, max_replicas=6).sync(0.0, 1, 0) == 2
    behavior = Behavior(scale_up=rules(select="Disabled"), scale_down=rules(select="Disabled"))
    assert hpa(max_replicas=6, behavior=behavior).sync(0.0, 8, 1000) == 6
    assert hpa(min_replicas=3, max_replicas=6, behavior=behavior).sync(0.0, 1, 0) == 3


def test_only_the_behavior_path_records_its_scale_events() -> None:
    nil = hpa()
    assert nil.sync(0.0, 2, 80) == 4  # ceil(80/10) = 8, limited to max(2 x 2, 4)
    assert nil.scale_up_events == nil.scale_down_events == []
    h = hpa(behavior=Behavior(scale_down=rules(ScalingPolicy("Percent", 100, 15))))
    assert h.sync(0.0, 2, 80) == 6  # max(2 + 4, 2 x 2)
    assert h.sync(15.0, 6, 60) == 6  # ratio 1: no change, no event
    assert h.sync(30.0, 6, 10) == 1  # downRec 1 within the 0 s window
    assert h.scale_up_events == [(0.0, 4)]
    assert h.scale_down_events == [(30.0, 5)]


def test_the_nil_path_caps_a_step_at_double_or_four_and_holds_downscale_for_300_s() -> None:
    h = hpa(max_replicas=100)
    assert h.sync(0.0, 1, 1000) == 4  # ceil(1000/10) = 100, capped at max(2 x 1, 4)
    assert h.sync(15.0, 4, 1000) == 8
    assert h.sync(30.0, 8, 50) == 16  # the 100s of the last 300 s still count
    h = hpa()
    assert h.sync(0.0, 8, 80) == 8  # ratio 1: recommendation 8
    assert h.sync(15.0, 8, 30) == 8  # recommendation 3, the 8 of t=0 holds
    assert h.sync(300.0, 8, 30) == 8  # the 8 of t=0 is not before the cutoff 0
    assert h.sync(301.0, 8, 30) == 3
    assert hpa(min_replicas=3).sync(0.0, 4, 0) == 3  # down to minReplicaCount, not 0


def test_the_scale_up_window_takes_the_lowest_recommendation_after_its_cutoff() -> None:
    behavior = Behavior(scale_up=rules(ScalingPolicy("Pods", 4, 15), window=30))
    h = hpa(queue_length=1, behavior=behavior)
    assert h.sync(0.0, 2, 2) == 2  # recommendation 2
    # t=30: the cutoff is 0 and the 2 of t=0 is not after it: upRec 10, limited to 2 + 4.
    assert h.sync(30.0, 2, 10) == 6
    h = hpa(queue_length=1, behavior=behavior)
    h.sync(0.0, 2, 2)
    assert h.sync(29.0, 2, 10) == 2  # the 2 of t=0 is within (-1, 29]: held


def test_the_scale_down_window_takes_the_highest_recommendation_after_its_cutoff() -> None:
    behavior = Behavior(scale_down=rules(ScalingPolicy("Percent", 100, 15), window=60))
    h = hpa(queue_length=1, behavior=behavior)
    assert h.sync(0.0, 8, 8) == 8
    assert h.sync(59.0, 8, 1) == 8  # the 8 of t=0 is within (-1, 59]
    assert h.sync(60.0, 8, 1) == 1  # not after the cutoff 0 any more


# -- rate limits ------------------------------------------------------------------------------
def test_percent_and_pods_limits_from_the_period_start() -> None:
    h = hpa()
    assert h._up_limit(0.0, 100, rules(ScalingPolicy("Percent", 100, 15))) == 200
    assert h._up_limit(0.0, 200, rules(ScalingPolicy("Percent", 60, 15))) == 320
    assert h._up_limit(0.0, 10, rules(ScalingPolicy("Percent", 50, 15))) == 15
    assert h._up_limit(0.0, 3, rules(ScalingPolicy("Percent", 50, 15))) == 5  # ceil(4.5)
    assert h._up_limit(0.0, 10, rules(ScalingPolicy("Pods", 3, 15))) == 13
    assert h._down_limit(0.0, 200, rules(ScalingPolicy("Percent", 60, 15))) == 80
    assert h._down_limit(0.0, 5, rules(ScalingPolicy("Percent", 50, 15))) == 2  # floor(2.5)
    assert h._down_limit(0.0, 10, rules(ScalingPolicy("Pods", 5, 15))) == 5
    both = (ScalingPolicy("Pods", 5, 15), ScalingPolicy("Percent", 20, 15))
    assert h._up_limit(0.0, 10, rules(*both)) == 15  # Max: the larger step
    assert h._up_limit(0.0, 10, rules(*both, select="Min")) == 12
    assert h._down_limit(0.0, 10, rules(*both)) == 5  # Max: the larger step down
    assert h._down_limit(0.0, 10, rules(*both, select="Min")) == 8
    assert h._up_limit(0.0, 10, rules(*both, select="Disabled")) == 10
    assert h._down_limit(0.0, 10, rules(*both, select="Disabled")) == 10
    assert h._up_limit(0.0, 10, rules()) == 10 and h._down_limit(0.0, 10, rules()) == 10


def test_the_period_counts_the_hpas_own_steps_strictly_after_its_start() -> None:
    h = hpa()
    h.scale_up_events = [(0.0, 3), (10.0, 2)]
    h.scale_down_events = [(20.0, 4)]
    # At t=30 with 6 replicas: a 30 s period starts after t=0, so +2 -4 since: 6 - 2 + 4 = 8.
    assert h._period_start(30.0, 6, 30) == 8
    assert h._period_start(30.0, 6, 31) == 5  # t=0 inside too: 6 - 5 + 4
    assert h._period_start(30.0, 6, 10) == 6  # t=20 is not after 20
    assert h._up_limit(30.0, 6, rules(ScalingPolicy("Pods", 1, 30))) == 9


# -- the behavior's settings ------------------------------------------------------------------
def test_policies_are_checked_with_their_limits() -> None:
    ScalingPolicy("Pods", 1, 1)
    ScalingPolicy("Percent", 1, 1800)
    for bad in (("Pods", 0, 15), ("Pods", -1, 15), ("Pods", 1, 0), ("Pods", 1, 1801)):
        with pytest.raises(ValueError) as info:
            ScalingPolicy(*bad)  # type: ignore[arg-type]
        assert str(info.value) == (
            f"HPA policy needs value > 0 and 0 < periodSeconds <= 1800: {ScalingPolicy.__name__}"
            f"(type='{bad[0]}', value={bad[1]}, period_s={bad[2]})"
        )
    with pytest.raises(ValueError) as kind:
        ScalingPolicy("pods", 1, 15)  # type: ignore[arg-type]
    assert str(kind.value) == "HPA policy type must be Pods or Percent, got 'pods'"


def test_rules_are_checked() -> None:
    ScalingRules(0)
    ScalingRules(3600)
    for window in (-1, 3601):
        with pytest.raises(ValueError) as info:
            ScalingRules(window)
        assert str(info.value) == "stabilizationWindowSeconds must be within 0..3600"
    with pytest.raises(ValueError) as select:
        ScalingRules(0, "max")  # type: ignore[arg-type]
    assert str(select.value) == "selectPolicy must be Max, Min or Disabled, got 'max'"
    assert Behavior().scale_up == ScalingRules(
        0, "Max", (ScalingPolicy("Pods", 4, 15), ScalingPolicy("Percent", 100, 15))
    )
    assert Behavior().scale_down == ScalingRules(300, "Max", (ScalingPolicy("Percent", 100, 15),))

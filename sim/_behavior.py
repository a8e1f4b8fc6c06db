"""The HPA's ``behavior`` (autoscaling/v2) as small frozen settings, missing fields defaulted."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class ScalingPolicy:
    """One HPA rate-limit policy: ``Pods`` or ``Percent``, ``value`` per ``period_s``."""

    type: Literal["Pods", "Percent"]
    value: int
    period_s: int

    def __post_init__(self) -> None:
        if self.type not in ("Pods", "Percent"):
            raise ValueError(f"HPA policy type must be Pods or Percent, got {self.type!r}")
        if self.value <= 0 or not 0 < self.period_s <= 1800:
            raise ValueError(f"HPA policy needs value > 0 and 0 < periodSeconds <= 1800: {self}")


@dataclass(frozen=True)
class ScalingRules:
    """``scaleUp`` or ``scaleDown`` of an HPA behavior, with defaults filled."""

    stabilization_window_s: int
    select_policy: Literal["Max", "Min", "Disabled"] = "Max"
    policies: tuple[ScalingPolicy, ...] = ()
    tolerance: float | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.stabilization_window_s <= 3600:
            raise ValueError("stabilizationWindowSeconds must be within 0..3600")
        if self.select_policy not in ("Max", "Min", "Disabled"):
            raise ValueError(
                f"selectPolicy must be Max, Min or Disabled, got {self.select_policy!r}"
            )


DEFAULT_SCALE_UP = ScalingRules(
    0, "Max", (ScalingPolicy("Pods", 4, 15), ScalingPolicy("Percent", 100, 15))
)
DEFAULT_SCALE_DOWN_POLICIES = (ScalingPolicy("Percent", 100, 15),)


@dataclass(frozen=True)
class Behavior:
    """``advanced.horizontalPodAutoscalerConfig.behavior`` with autoscaling/v2 defaults filled."""

    scale_up: ScalingRules = DEFAULT_SCALE_UP
    scale_down: ScalingRules = ScalingRules(300, "Max", DEFAULT_SCALE_DOWN_POLICIES)

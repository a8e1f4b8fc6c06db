"""The HPA controller's replica arithmetic for one ScaledObject (docs/simulation.md, "What is
modelled"): External AverageValue, tolerance, the behavior = nil path and the behavior path."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sim._behavior import Behavior, ScalingRules

if TYPE_CHECKING:
    from sim._scaler import ScalerSpec


@dataclass
class Hpa:
    """The HPA controller's state for one ScaledObject: recommendations and scale events."""

    spec: ScalerSpec
    recommendations: list[tuple[float, int]] = field(default_factory=list)
    scale_up_events: list[tuple[float, int]] = field(default_factory=list)
    scale_down_events: list[tuple[float, int]] = field(default_factory=list)

    def metric_desired(self, total: int, status_replicas: int) -> int:
        """External AverageValue: ceil(total / target) unless the ratio is within tolerance."""
        target = self.spec.queue_length
        ratio = total / (target * status_replicas)
        behavior = self.spec.behavior
        up_tol = down_tol = self.spec.hpa_tolerance
        if behavior is not None:
            if behavior.scale_up.tolerance is not None:
                up_tol = behavior.scale_up.tolerance
            if behavior.scale_down.tolerance is not None:
                down_tol = behavior.scale_down.tolerance
        if 1.0 - down_tol <= ratio <= 1.0 + up_tol:
            return status_replicas
        return math.ceil(total / target)

    def sync(self, now: float, current: int, total: int) -> int:
        """One HPA sync; returns the new replica count (== current when nothing changes)."""
        spec = self.spec
        if current == 0:
            return 0  # scaling disabled at zero; KEDA alone does 0 -> 1
        if current > spec.max_replicas:
            desired = spec.max_replicas
        elif current < spec.hpa_min_replicas:
            desired = spec.hpa_min_replicas
        else:
            raw = self.metric_desired(total, current)
            if spec.behavior is None:
                desired = self._normalize_nil(now, current, raw)
            else:
                desired = self._normalize_behavior(now, current, raw, spec.behavior)
        if desired != current and spec.behavior is not None:
            if desired > current:
                self.scale_up_events.append((now, desired - current))
            else:
                self.scale_down_events.append((now, current - desired))
        return desired

    def _normalize_nil(self, now: float, current: int, raw: int) -> int:
        cutoff = now - self.spec.hpa_downscale_stabilization_s
        # Recommendations not before the cutoff count (Go: !rec.timestamp.Before(cutoff)).
        self.recommendations = [r for r in self.recommendations if r[0] >= cutoff]
        stabilized = max([raw] + [r for _, r in self.recommendations])
        self.recommendations.append((now, raw))
        maximum = min(self.spec.max_replicas, max(2 * current, 4))
        if stabilized < self.spec.hpa_min_replicas:
            return self.spec.hpa_min_replicas
        if stabilized > maximum:
            return maximum
        return stabilized

    def _normalize_behavior(self, now: float, current: int, raw: int, behavior: Behavior) -> int:
        up_cutoff = now - behavior.scale_up.stabilization_window_s
        down_cutoff = now - behavior.scale_down.stabilization_window_s
        up_rec = down_rec = raw
        kept = []
        for t, rec in self.recommendations:
            if t > up_cutoff:  # Go: rec.timestamp.After(cutoff)
                up_rec = min(up_rec, rec)
            if t > down_cutoff:
                down_rec = max(down_rec, rec)
            if not (t < up_cutoff and t < down_cutoff):
                kept.append((t, rec))
        self.recommendations = kept + [(now, raw)]
        stabilized = max(current, up_rec)
        stabilized = min(stabilized, down_rec)
        lowest, highest = self.spec.hpa_min_replicas, self.spec.max_replicas
        if stabilized > current:
            limit = max(self._up_limit(now, current, behavior.scale_up), current)
            highest = min(highest, limit)
        elif stabilized < current:
            limit = min(self._down_limit(now, current, behavior.scale_down), current)
            lowest = max(lowest, limit)
        if stabilized < lowest:
            return lowest
        if stabilized > highest:
            return highest
        return stabilized

    def _period_start(self, now: float, current: int, period_s: int) -> int:
        cutoff = now - period_s
        added = sum(n for t, n in self.scale_up_events if t > cutoff)
        deleted = sum(n for t, n in self.scale_down_events if t > cutoff)
        return current - added + deleted

    def _up_limit(self, now: float, current: int, rules: ScalingRules) -> int:
        if rules.select_policy == "Disabled":
            return current
        proposals = []
        for policy in rules.policies:
            start = self._period_start(now, current, policy.period_s)
            if policy.type == "Pods":
                proposals.append(start + policy.value)
            else:
                proposals.append(math.ceil(start * (1 + policy.value / 100)))
        if not proposals:
            return current
        return min(proposals) if rules.select_policy == "Min" else max(proposals)

    def _down_limit(self, now: float, current: int, rules: ScalingRules) -> int:
        if rules.select_policy == "Disabled":
            return current
        proposals = []
        for policy in rules.policies:
            start = self._period_start(now, current, policy.period_s)
            if policy.type == "Pods":
                proposals.append(start - policy.value)
            else:
                proposals.append(int(start * (1 - policy.value / 100)))
        if not proposals:
            return current
        return max(proposals) if rules.select_policy == "Min" else min(proposals)

"""KEDA ScaledObject settings and the HPA's replica arithmetic (see KEDA_SEMANTICS.md)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

Platform = Literal["kubernetes", "container-apps"]
PLATFORMS: tuple[str, ...] = ("kubernetes", "container-apps")
KUBERNETES_MAX_REPLICAS_DEFAULT = 100
CONTAINER_APPS_MAX_REPLICAS_DEFAULT = 10


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


@dataclass(frozen=True)
class ScalerSpec:
    """KEDA (azure-queue trigger) plus HPA settings; see ``from_scaledobject``."""

    platform: Platform = "kubernetes"
    polling_interval_s: float = 30.0
    cooldown_period_s: float = 300.0
    initial_cooldown_period_s: float = 0.0
    min_replicas: int = 0
    max_replicas: int = KUBERNETES_MAX_REPLICAS_DEFAULT
    queue_length: int = 5
    activation_queue_length: int = 0
    queue_length_strategy: Literal["all", "visibleonly"] = "all"
    behavior: Behavior | None = None
    hpa_sync_period_s: float = 15.0
    hpa_tolerance: float = 0.1
    hpa_downscale_stabilization_s: float = 300.0
    # Phase of the loops: first KEDA poll / HPA sync at this time; None = uniform per seed.
    keda_poll_phase_s: float | None = 0.0
    hpa_sync_phase_s: float | None = 0.0
    queue_name: str = "content-processing-requests"

    def __post_init__(self) -> None:
        if self.platform not in PLATFORMS:
            raise ValueError(
                f"platform must be one of {', '.join(PLATFORMS)}, got {self.platform!r}"
            )
        for name in ("polling_interval_s", "hpa_sync_period_s"):
            if not (0 < getattr(self, name) < math.inf):
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)!r}")
        for name in (
            "cooldown_period_s",
            "initial_cooldown_period_s",
            "hpa_downscale_stabilization_s",
            "hpa_tolerance",
        ):
            if not (0 <= getattr(self, name) < math.inf):
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)!r}")
        if self.min_replicas < 0 or self.max_replicas < 1 or self.min_replicas > self.max_replicas:
            raise ValueError(
                f"need 0 <= minReplicaCount <= maxReplicaCount and max >= 1, "
                f"got min {self.min_replicas}, max {self.max_replicas}"
            )
        if self.queue_length < 1:
            raise ValueError(f"queueLength must be >= 1, got {self.queue_length}")
        if self.activation_queue_length < 0:
            raise ValueError(
                f"activationQueueLength must be >= 0, got {self.activation_queue_length}"
            )
        if self.queue_length_strategy not in ("all", "visibleonly"):
            raise ValueError(
                f"queueLengthStrategy must be all or visibleonly, got {self.queue_length_strategy!r}"
            )
        for name in ("keda_poll_phase_s", "hpa_sync_phase_s"):
            phase = getattr(self, name)
            if phase is not None and not 0 <= phase < math.inf:
                raise ValueError(f"{name} must be >= 0 or None (random), got {phase!r}")
        if self.platform == "container-apps" and self.behavior is not None:
            raise ValueError("container-apps does not expose HPA behavior; set behavior=None")

    @property
    def hpa_min_replicas(self) -> int:
        return max(self.min_replicas, 1)

    @classmethod
    def from_scaledobject(
        cls,
        source: str | Path | dict[str, Any],
        platform: Platform = "kubernetes",
        **overrides: Any,
    ) -> ScalerSpec:
        """Read a KEDA ScaledObject (a path, YAML text or a parsed dict) with one azure-queue trigger.

        On ``container-apps`` the behavior block is ignored (not exposed there), the HPA takes the
        behavior = nil path and ``maxReplicaCount`` defaults to 10.
        """
        doc, where = _load_document(source)
        return cls(**{**_settings_from(doc, where, platform), **overrides})


def _load_document(source: str | Path | dict[str, Any]) -> tuple[dict[str, Any], str]:
    if isinstance(source, dict):
        return source, "ScaledObject"
    where = "ScaledObject"
    text = str(source)
    if isinstance(source, Path) or ("\n" not in text and ":" not in text.split("/")[-1]):
        path = Path(source)
        if not path.is_file():
            raise ValueError(f"ScaledObject file not found: {path}")
        text, where = path.read_text(), str(path)
    try:
        docs = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" (line {mark.line + 1})" if mark is not None else ""
        raise ValueError(f"{where}: invalid YAML{line}") from None
    objects = [d for d in docs if isinstance(d, dict) and d.get("kind") == "ScaledObject"]
    if len(objects) != 1:
        raise ValueError(f"{where}: expected exactly one 'kind: ScaledObject' document")
    return objects[0], where


def _int(where: str, key: str, value: Any) -> int:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: {key} must be a whole number, got {value!r}") from None
    if not number.is_integer():
        raise ValueError(f"{where}: {key} must be a whole number, got {value!r}")
    return int(number)


def _settings_from(doc: dict[str, Any], where: str, platform: Platform) -> dict[str, Any]:
    api = str(doc.get("apiVersion", ""))
    if not api.startswith("keda.sh/"):
        raise ValueError(f"{where}: apiVersion must be keda.sh/v1alpha1, got {api!r}")
    spec = doc.get("spec")
    if not isinstance(spec, dict):
        raise ValueError(f"{where}: missing spec")
    triggers = spec.get("triggers")
    if not isinstance(triggers, list) or len(triggers) != 1 or not isinstance(triggers[0], dict):
        raise ValueError(f"{where}: the model supports exactly one trigger (azure-queue)")
    trigger = triggers[0]
    if trigger.get("type") != "azure-queue":
        raise ValueError(f"{where}: trigger type must be azure-queue, got {trigger.get('type')!r}")
    meta = trigger.get("metadata") or {}
    if not isinstance(meta, dict):
        raise ValueError(f"{where}: trigger metadata must be a mapping")
    settings: dict[str, Any] = {"platform": platform}
    if "queueName" in meta:
        settings["queue_name"] = str(meta["queueName"])
    for key, name in (
        ("queueLength", "queue_length"),
        ("activationQueueLength", "activation_queue_length"),
    ):
        if key in meta:
            settings[name] = _int(where, key, meta[key])
    if "queueLengthStrategy" in meta:
        settings["queue_length_strategy"] = str(meta["queueLengthStrategy"]).lower()
    for key, name in (
        ("pollingInterval", "polling_interval_s"),
        ("cooldownPeriod", "cooldown_period_s"),
        ("initialCooldownPeriod", "initial_cooldown_period_s"),
    ):
        if key in spec:
            settings[name] = float(_int(where, key, spec[key]))
    if "minReplicaCount" in spec:
        settings["min_replicas"] = _int(where, "minReplicaCount", spec["minReplicaCount"])
    if "maxReplicaCount" in spec:
        settings["max_replicas"] = _int(where, "maxReplicaCount", spec["maxReplicaCount"])
    elif platform == "container-apps":
        settings["max_replicas"] = CONTAINER_APPS_MAX_REPLICAS_DEFAULT
    advanced = spec.get("advanced") or {}
    hpa_config = (
        advanced.get("horizontalPodAutoscalerConfig") if isinstance(advanced, dict) else None
    )
    raw_behavior = hpa_config.get("behavior") if isinstance(hpa_config, dict) else None
    if raw_behavior is not None and platform == "kubernetes":
        settings["behavior"] = parse_behavior(raw_behavior, where)
    return settings


def parse_behavior(raw: Any, where: str = "behavior") -> Behavior:
    """autoscaling/v2 ``behavior``, missing fields filled as the API server's defaulting does."""
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: behavior must be a mapping")
    return Behavior(
        scale_up=_rules(raw.get("scaleUp"), where, up=True),
        scale_down=_rules(raw.get("scaleDown"), where, up=False),
    )


def _rules(raw: Any, where: str, *, up: bool) -> ScalingRules:
    name = "scaleUp" if up else "scaleDown"
    if raw is None:
        return Behavior().scale_up if up else Behavior().scale_down
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: behavior.{name} must be a mapping")
    window = raw.get("stabilizationWindowSeconds")
    # scaleDown's window, when absent, is the controller flag (300 s); scaleUp's default is 0.
    window_s = (
        (0 if up else 300)
        if window is None
        else _int(where, f"{name}.stabilizationWindowSeconds", window)
    )
    policies_raw = raw.get("policies")
    if policies_raw is None:
        policies = DEFAULT_SCALE_UP.policies if up else DEFAULT_SCALE_DOWN_POLICIES
    else:
        if not isinstance(policies_raw, list):
            raise ValueError(f"{where}: behavior.{name}.policies must be a list")
        policies = tuple(
            ScalingPolicy(
                str(p.get("type")),  # type: ignore[arg-type]
                _int(where, f"{name}.policies.value", p.get("value")),
                _int(where, f"{name}.policies.periodSeconds", p.get("periodSeconds")),
            )
            for p in policies_raw
            if isinstance(p, dict)
        )
    tolerance = raw.get("tolerance")
    return ScalingRules(
        window_s,
        str(raw.get("selectPolicy", "Max")),  # type: ignore[arg-type]
        policies,
        None if tolerance is None else float(tolerance),
    )


@dataclass
class Hpa:
    """The HPA controller's state for one ScaledObject: recommendations and scale events."""

    spec: ScalerSpec
    recommendations: list[tuple[float, int]] = field(default_factory=list)
    scale_up_events: list[tuple[float, int]] = field(default_factory=list)
    scale_down_events: list[tuple[float, int]] = field(default_factory=list)

    def metric_desired(self, now: float, total: int, status_replicas: int) -> int:
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
            raw = self.metric_desired(now, total, current)
            if spec.behavior is None:
                desired = self._normalize_nil(now, current, raw)
            else:
                desired = self._normalize_behavior(now, current, raw, spec.behavior)
        if desired != current and spec.behavior is not None:
            change = (
                (self.scale_up_events, desired - current)
                if desired > current
                else (
                    self.scale_down_events,
                    current - desired,
                )
            )
            change[0].append((now, change[1]))
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

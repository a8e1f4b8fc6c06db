"""Reading a KEDA ScaledObject (a file, YAML text or a parsed document) into scaler settings.

Only reading and checking lives here; the settings are :class:`sim.ScalerSpec` and the replica
arithmetic is in ``_hpa.py`` / ``_keda.py``.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

import yaml

from sim._behavior import (
    DEFAULT_SCALE_DOWN_POLICIES,
    DEFAULT_SCALE_UP,
    Behavior,
    ScalingPolicy,
    ScalingRules,
)

CONTAINER_APPS_MAX_REPLICAS_DEFAULT = 10

# Every field the reader knows. READ: the model implements it. KNOWN: it does not change how the
# deployment scales (names, connections). UNSUPPORTED: it changes real behaviour and the model does
# not implement it, so it is refused unless the caller accepts running without it. A nested dict is
# a mapping of known fields; a list holds one such mapping per item. Anything else is unknown.
READ, KNOWN, UNSUPPORTED = "read", "known", "unsupported"
_POLICY = {"type": READ, "value": READ, "periodSeconds": READ}
_RULES = {
    "stabilizationWindowSeconds": READ,
    "selectPolicy": READ,
    "policies": [_POLICY],
    "tolerance": READ,
}
_TRIGGER_METADATA = {
    "queueLength": READ,
    "activationQueueLength": READ,
    "queueLengthStrategy": READ,
    # The model has one queue and no credentials: these name it and reach it.
    "queueName": KNOWN,
    "connectionFromEnv": KNOWN,
    "connection": KNOWN,
    "accountName": KNOWN,
    "accountNameFromEnv": KNOWN,
    "cloud": KNOWN,
    "endpointSuffix": KNOWN,
}
_TRIGGER = {
    "type": READ,
    "metadata": _TRIGGER_METADATA,
    "name": KNOWN,
    "authenticationRef": KNOWN,
    "useCachedMetrics": UNSUPPORTED,
    "metricType": UNSUPPORTED,
}
_SPEC = {
    "scaleTargetRef": {
        "name": KNOWN,
        "apiVersion": KNOWN,
        "kind": KNOWN,
        "envSourceContainerName": KNOWN,
    },
    "pollingInterval": READ,
    "cooldownPeriod": READ,
    "initialCooldownPeriod": READ,
    "minReplicaCount": READ,
    "maxReplicaCount": READ,
    "idleReplicaCount": UNSUPPORTED,
    "fallback": UNSUPPORTED,
    "advanced": {
        "restoreToOriginalReplicaCount": KNOWN,  # acts only when the ScaledObject is deleted
        "horizontalPodAutoscalerConfig": {
            "name": KNOWN,
            "behavior": {"scaleUp": _RULES, "scaleDown": _RULES},
        },
        "scalingModifiers": UNSUPPORTED,
    },
    "triggers": [_TRIGGER],
}
_DOCUMENT = {"apiVersion": READ, "kind": READ, "metadata": KNOWN, "spec": _SPEC, "status": KNOWN}
PAUSE_ANNOTATION_PREFIX = "autoscaling.keda.sh/paused"


class UnsupportedField(ValueError):
    """A ScaledObject field that changes KEDA's behaviour and that the model does not implement."""

    def __init__(self, where: str, field: str) -> None:
        self.field = field
        super().__init__(f"{where}: {field} is not implemented by the model")


def check_fields(doc: dict[str, Any], where: str, *, ignore_unsupported: bool) -> tuple[str, ...]:
    """Refuse unknown fields (a misspelling is named, with the nearest known field) and fields the
    model does not implement; with ``ignore_unsupported`` return the latter instead."""
    unsupported: list[str] = []
    _walk(doc, _DOCUMENT, "", where, unsupported)
    metadata = doc.get("metadata")
    annotations = metadata.get("annotations") if isinstance(metadata, dict) else None
    if isinstance(annotations, dict):
        for key in annotations:
            if str(key).startswith(PAUSE_ANNOTATION_PREFIX):
                unsupported.append(f"metadata.annotations.{key}")
    if unsupported and not ignore_unsupported:
        raise UnsupportedField(where, unsupported[0])
    return tuple(unsupported)


def _walk(node: Any, schema: Any, path: str, where: str, unsupported: list[str]) -> None:
    if isinstance(schema, list):
        if isinstance(node, list):
            for i, item in enumerate(node):
                _walk(item, schema[0], f"{path}[{i}]", where, unsupported)
        return
    if not isinstance(schema, dict) or not isinstance(node, dict):
        return  # a value, or a wrong type that the reader reports with its own message
    for key, value in node.items():
        name = f"{path}.{key}" if path else str(key)
        if key not in schema:
            near = difflib.get_close_matches(str(key), [str(k) for k in schema], n=1)
            hint = f" (did you mean {near[0]}?)" if near else ""
            raise ValueError(f"{where}: unknown field {name}{hint}")
        role = schema[key]
        if role == UNSUPPORTED:
            if not _is_default(name, value):
                unsupported.append(name)
        else:
            _walk(value, role, name, where, unsupported)


def _is_default(name: str, value: Any) -> bool:
    """A field set to what the model does anyway is not a departure."""
    if name.endswith(".useCachedMetrics"):
        return value is False or str(value).lower() == "false"
    if name.endswith(".metricType"):
        return value == "AverageValue"
    return False


def read_file(path: str | Path) -> tuple[dict[str, Any], str]:
    """The one ``kind: ScaledObject`` document of a YAML file, and the file's name for errors."""
    file = Path(path)
    if not file.is_file():
        raise ValueError(f"ScaledObject file not found: {file}")
    try:
        text = file.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{file}: cannot read ({exc})") from None
    return read_yaml(text, str(file)), str(file)


def read_yaml(text: str, where: str = "ScaledObject") -> dict[str, Any]:
    """The one ``kind: ScaledObject`` document of YAML text."""
    try:
        docs = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" (line {mark.line + 1})" if mark is not None else ""
        raise ValueError(f"{where}: invalid YAML{line}") from None
    objects = [d for d in docs if isinstance(d, dict) and d.get("kind") == "ScaledObject"]
    if len(objects) != 1:
        raise ValueError(f"{where}: expected exactly one 'kind: ScaledObject' document")
    return objects[0]


def _int(where: str, key: str, value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError(f"{where}: {key} must be a whole number, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: {key} must be a whole number, got {value!r}") from None
    if not number.is_integer():
        raise ValueError(f"{where}: {key} must be a whole number, got {value!r}")
    return int(number)


def settings_from(
    doc: dict[str, Any], where: str, platform: str, *, ignore_unsupported: bool = False
) -> dict[str, Any]:
    """``ScalerSpec`` keyword arguments from a parsed ScaledObject (``ignored_fields`` lists the
    unsupported fields run without, when ``ignore_unsupported``)."""
    if not isinstance(doc, dict):
        raise ValueError(f"{where}: a ScaledObject must be a mapping")
    ignored = check_fields(doc, where, ignore_unsupported=ignore_unsupported)
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
    settings: dict[str, Any] = {"platform": platform, "ignored_fields": ignored}
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

"""Reading a ScaledObject: unknown fields are named, fields the model does not implement are
refused (or, when the caller accepts it, run without and listed)."""

from __future__ import annotations

import pytest
import yaml

from sim import Behavior, Burst, PodSpec, ScalerSpec, Scenario, UnsupportedField, run
from workbench.paths import PROJECT_ROOT as ROOT

SHIPPED = ROOT / "data" / "keda" / "processor-scaledobject.yaml"


def shipped_with(change) -> dict:
    doc = yaml.safe_load(SHIPPED.read_text())
    change(doc)
    return doc


def trigger(doc: dict) -> dict:
    return doc["spec"]["triggers"][0]


def _hpa_config(doc: dict) -> dict:
    return doc["spec"].setdefault("advanced", {}).setdefault("horizontalPodAutoscalerConfig", {})


UNSUPPORTED = [
    ("spec.fallback", lambda d: d["spec"].update(fallback={"failureThreshold": 3, "replicas": 6})),
    ("spec.idleReplicaCount", lambda d: d["spec"].update(idleReplicaCount=0)),
    (
        "spec.advanced.scalingModifiers",
        lambda d: d["spec"].update(advanced={"scalingModifiers": {"formula": "a + b"}}),
    ),
    ("spec.triggers[0].useCachedMetrics", lambda d: trigger(d).update(useCachedMetrics=True)),
    ("spec.triggers[0].metricType", lambda d: trigger(d).update(metricType="Value")),
    (
        "metadata.annotations.autoscaling.keda.sh/paused-replicas",
        lambda d: d["metadata"].update(annotations={"autoscaling.keda.sh/paused-replicas": "0"}),
    ),
    (
        "metadata.annotations.autoscaling.keda.sh/paused",
        lambda d: d["metadata"].update(annotations={"autoscaling.keda.sh/paused": "true"}),
    ),
]


@pytest.mark.parametrize(("field", "change"), UNSUPPORTED, ids=[f for f, _ in UNSUPPORTED])
def test_fields_the_model_does_not_implement_are_refused_by_name(field, change):
    doc = shipped_with(change)
    with pytest.raises(UnsupportedField) as info:
        ScalerSpec.from_dict(doc)
    assert info.value.field == field
    assert str(info.value) == f"ScaledObject: {field} is not implemented by the model"
    # Accepted explicitly: the run goes without it, and the field is listed.
    spec = ScalerSpec.from_dict(doc, ignore_unsupported=True)
    assert spec.ignored_fields == (field,)
    assert spec == ScalerSpec.from_file(SHIPPED, ignored_fields=(field,))


def test_settings_equal_to_what_the_model_does_are_accepted():
    def explicit_defaults(doc: dict) -> None:
        trigger(doc).update(useCachedMetrics=False, metricType="AverageValue", name="q")
        doc["metadata"]["annotations"] = {"note": "any other annotation"}
        doc["spec"]["advanced"] = {"restoreToOriginalReplicaCount": True}
        _hpa_config(doc)["name"] = "keda-hpa-x"

    spec = ScalerSpec.from_dict(shipped_with(explicit_defaults))
    assert spec == ScalerSpec.from_file(SHIPPED) and spec.ignored_fields == ()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda d: trigger(d)["metadata"].update(queueLenght="4"),
            "unknown field spec.triggers[0].metadata.queueLenght (did you mean queueLength?)",
        ),
        (
            lambda d: d["spec"].update(maxReplicaCont=3),
            "unknown field spec.maxReplicaCont (did you mean maxReplicaCount?)",
        ),
        (
            lambda d: _hpa_config(d).update(
                behavior={"scaleDown": {"stabilisationWindowSeconds": 60}}
            ),
            "unknown field spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleDown."
            "stabilisationWindowSeconds (did you mean stabilizationWindowSeconds?)",
        ),
        (lambda d: d.update(extra=1), "unknown field extra"),
    ],
)
def test_a_misspelled_field_is_named_as_unknown(change, message):
    doc = shipped_with(change)
    for ignore in (False, True):  # accepting unsupported fields does not accept misspellings
        with pytest.raises(ValueError) as info:
            ScalerSpec.from_dict(doc, ignore_unsupported=ignore)
        assert str(info.value) == f"ScaledObject: {message}"


def test_an_ignored_fallback_runs_as_the_object_without_it():
    scenario = Scenario(
        arrivals=Burst(40, 0.0),
        pods=PodSpec(startup="constant(10)", service="constant(5)"),
        scaler=ScalerSpec.from_file(SHIPPED),
    )
    with_fallback = ScalerSpec.from_dict(UNSUPPORTED_DOC, ignore_unsupported=True)
    plain = run(scenario, 0).records.scale_events
    assert run(
        Scenario(scenario.arrivals, scenario.pods, with_fallback), 0
    ).records.scale_events == (plain)


UNSUPPORTED_DOC = shipped_with(UNSUPPORTED[0][1])


def _with(**spec: object) -> dict:
    doc = yaml.safe_load(SHIPPED.read_text())
    doc["spec"].update(spec)
    return doc


def _behavior(**blocks: object) -> dict:
    return _with(advanced={"horizontalPodAutoscalerConfig": {"behavior": blocks}})


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ([1, 2], "a ScaledObject must be a mapping"),
        ({**_with(), "apiVersion": "autoscaling/v2"}, "apiVersion must be keda.sh/v1alpha1, got 'autoscaling/v2'"),
        ({k: v for k, v in _with().items() if k != "apiVersion"}, "apiVersion must be keda.sh/v1alpha1, got ''"),
        ({**_with(), "spec": None}, "missing spec"),
        (_with(triggers=5), "the model supports exactly one trigger (azure-queue)"),
        (_with(triggers=[5]), "the model supports exactly one trigger (azure-queue)"),
        (_with(triggers=[]), "the model supports exactly one trigger (azure-queue)"),
        (_with(triggers=[{"type": "kafka", "metadata": {}}]), "trigger type must be azure-queue, got 'kafka'"),
        (_with(triggers=[{"type": "azure-queue", "metadata": ["q"]}]), "trigger metadata must be a mapping"),
        (_with(maxReplicaCount=True), "maxReplicaCount must be a whole number, got True"),
        (_with(maxReplicaCount="six"), "maxReplicaCount must be a whole number, got 'six'"),
        (_with(pollingInterval=2.5), "pollingInterval must be a whole number, got 2.5"),
        (_behavior(scaleUp=[1]), "behavior.scaleUp must be a mapping"),
        (_behavior(scaleDown="fast"), "behavior.scaleDown must be a mapping"),
        (_behavior(scaleDown={"stabilizationWindowSeconds": "x"}), "scaleDown.stabilizationWindowSeconds must be a whole number, got 'x'"),
        (_behavior(scaleUp={"stabilizationWindowSeconds": 1.5}), "scaleUp.stabilizationWindowSeconds must be a whole number, got 1.5"),
        (_behavior(scaleUp={"policies": {"type": "Pods"}}), "behavior.scaleUp.policies must be a list"),
        (_behavior(scaleDown={"policies": [{"type": "Pods", "value": "all", "periodSeconds": 15}]}), "scaleDown.policies.value must be a whole number, got 'all'"),
        (_behavior(scaleUp={"policies": [{"type": "Pods", "value": 1, "periodSeconds": None}]}), "scaleUp.policies.periodSeconds must be a whole number, got None"),
    ],
)  # fmt: skip
def test_a_bad_scaledobject_is_named_exactly(doc: object, message: str) -> None:
    with pytest.raises(ValueError) as info:
        ScalerSpec.from_dict(doc)  # type: ignore[arg-type]
    assert str(info.value) == f"ScaledObject: {message}"


def test_behavior_errors_name_the_file(tmp_path) -> None:
    path = tmp_path / "so.yaml"
    path.write_text(yaml.safe_dump(_behavior(scaleDown={"policies": "none"})))
    with pytest.raises(ValueError) as info:
        ScalerSpec.from_file(path)
    assert str(info.value) == f"{path}: behavior.scaleDown.policies must be a list"


def test_unreadable_and_invalid_files_are_named(tmp_path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("kind: ScaledObject\nspec: [\n")
    with pytest.raises(ValueError) as info:
        ScalerSpec.from_file(broken)
    assert str(info.value) == f"{broken}: invalid YAML (line 3)"
    with pytest.raises(ValueError) as text:
        ScalerSpec.from_yaml("a: 1\n  b: [")
    assert str(text.value) == "ScaledObject: invalid YAML (line 2)"
    latin = tmp_path / "latin.yaml"
    latin.write_bytes(b"kind: ScaledObject # caf\xe9\n")
    with pytest.raises(ValueError) as undecodable:
        ScalerSpec.from_file(latin)
    assert str(undecodable.value).startswith(f"{latin}: cannot read ('utf-8' codec can't decode")
    with pytest.raises(ValueError) as none:
        ScalerSpec.from_file(tmp_path / "none.yaml")
    assert str(none.value) == f"ScaledObject file not found: {tmp_path / 'none.yaml'}"


@pytest.mark.parametrize("value", [False, "false", "False", "FALSE"])
def test_use_cached_metrics_off_in_any_spelling_is_the_default(value: object) -> None:
    doc = shipped_with(lambda d: trigger(d).update(useCachedMetrics=value))
    assert ScalerSpec.from_dict(doc) == ScalerSpec.from_file(SHIPPED)


@pytest.mark.parametrize("value", [True, "true", "yes"])
def test_use_cached_metrics_on_is_refused(value: object) -> None:
    doc = shipped_with(lambda d: trigger(d).update(useCachedMetrics=value))
    with pytest.raises(UnsupportedField):
        ScalerSpec.from_dict(doc)


def test_settings_refuse_unsupported_fields_unless_told() -> None:
    from sim._scaledobject import settings_from

    doc = shipped_with(UNSUPPORTED[0][1])
    with pytest.raises(UnsupportedField):
        settings_from(doc, "so", "kubernetes")
    assert settings_from(doc, "so", "kubernetes", ignore_unsupported=True)["ignored_fields"] == (
        "spec.fallback",
    )


def test_an_absent_policy_list_takes_its_own_directions_default() -> None:
    spec = ScalerSpec.from_dict(
        _behavior(scaleUp={"selectPolicy": "Min"}, scaleDown={"selectPolicy": "Min"})
    )
    assert spec.behavior is not None
    assert spec.behavior.scale_up.policies == Behavior().scale_up.policies
    assert spec.behavior.scale_down.policies == Behavior().scale_down.policies
    assert spec.behavior.scale_down.stabilization_window_s == 300


def test_a_behavior_read_alone_names_itself() -> None:
    from sim._scaledobject import parse_behavior

    with pytest.raises(ValueError) as info:
        parse_behavior(["scaleUp"])
    assert str(info.value) == "behavior: behavior must be a mapping"
    assert parse_behavior({}) == Behavior()


def test_every_number_setting_is_read_into_its_field() -> None:
    """Each ScaledObject number lands in the spec field it names (values unlike the defaults)."""
    doc = _with(pollingInterval=7, cooldownPeriod=45, initialCooldownPeriod=90,
                minReplicaCount=1, maxReplicaCount=9)  # fmt: skip
    trigger(doc)["metadata"].update(queueLength=11, activationQueueLength=3)
    spec = ScalerSpec.from_dict(doc)
    assert (spec.polling_interval_s, spec.cooldown_period_s, spec.initial_cooldown_period_s) == (
        7.0, 45.0, 90.0,
    )  # fmt: skip
    assert (spec.min_replicas, spec.max_replicas) == (1, 9)
    assert (spec.queue_length, spec.activation_queue_length) == (11, 3)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["spec"].update(minReplicaCount="one"), "minReplicaCount must be a whole number, got 'one'"),
        (lambda d: trigger(d)["metadata"].update(queueLength=1.5), "queueLength must be a whole number, got 1.5"),
        (lambda d: d["spec"].update(initialCooldownPeriod="x"), "initialCooldownPeriod must be a whole number, got 'x'"),
    ],
)  # fmt: skip
def test_a_bad_number_names_its_field(change, message) -> None:
    with pytest.raises(ValueError) as info:
        ScalerSpec.from_dict(shipped_with(change))
    assert str(info.value) == f"ScaledObject: {message}"

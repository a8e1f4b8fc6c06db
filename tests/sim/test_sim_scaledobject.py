"""Reading a ScaledObject: unknown fields are named, fields the model does not implement are
refused (or, when the caller accepts it, run without and listed)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from sim import Burst, PodSpec, ScalerSpec, Scenario, UnsupportedField, run

ROOT = Path(__file__).resolve().parents[2]
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

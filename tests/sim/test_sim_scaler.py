"""ScalerSpec's checks, each refused value named exactly, and the readers' defaults."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml

from sim import Behavior, ScalerSpec, UnsupportedField
from workbench.paths import PROJECT_ROOT as ROOT

SHIPPED = ROOT / "data" / "keda" / "processor-scaledobject.yaml"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"platform": "nomad"}, "platform must be one of kubernetes, container-apps, got 'nomad'"),
        ({"polling_interval_s": 0.0}, "polling_interval_s must be > 0, got 0.0"),
        ({"polling_interval_s": math.inf}, "polling_interval_s must be > 0, got inf"),
        ({"hpa_sync_period_s": -1.0}, "hpa_sync_period_s must be > 0, got -1.0"),
        ({"cooldown_period_s": -1.0}, "cooldown_period_s must be >= 0, got -1.0"),
        ({"initial_cooldown_period_s": math.inf}, "initial_cooldown_period_s must be >= 0, got inf"),
        ({"hpa_downscale_stabilization_s": -0.5}, "hpa_downscale_stabilization_s must be >= 0, got -0.5"),
        ({"hpa_tolerance": -0.1}, "hpa_tolerance must be >= 0, got -0.1"),
        ({"min_replicas": -1, "max_replicas": 5}, "need 0 <= minReplicaCount <= maxReplicaCount and max >= 1, got min -1, max 5"),
        ({"max_replicas": 0}, "need 0 <= minReplicaCount <= maxReplicaCount and max >= 1, got min 0, max 0"),
        ({"min_replicas": 3, "max_replicas": 2}, "need 0 <= minReplicaCount <= maxReplicaCount and max >= 1, got min 3, max 2"),
        ({"queue_length": 0}, "queueLength must be >= 1, got 0"),
        ({"activation_queue_length": -1}, "activationQueueLength must be >= 0, got -1"),
        ({"queue_length_strategy": "visible"}, "queueLengthStrategy must be all or visibleonly, got 'visible'"),
        ({"keda_poll_phase_s": -1.0}, "keda_poll_phase_s must be >= 0 or None (random), got -1.0"),
        ({"hpa_sync_phase_s": math.inf}, "hpa_sync_phase_s must be >= 0 or None (random), got inf"),
        ({"platform": "container-apps", "behavior": Behavior()}, "container-apps does not expose HPA behavior; set behavior=None"),
    ],
)  # fmt: skip
def test_a_bad_setting_is_named_exactly(fields: dict, message: str) -> None:
    with pytest.raises(ValueError) as info:
        ScalerSpec(**fields)
    assert str(info.value) == message


def test_the_edges_of_the_ranges_are_accepted() -> None:
    spec = ScalerSpec(
        polling_interval_s=0.5, hpa_sync_period_s=0.5, cooldown_period_s=0.0, hpa_tolerance=0.0,
        min_replicas=0, max_replicas=1, queue_length=1, activation_queue_length=0,
        keda_poll_phase_s=0.0, hpa_sync_phase_s=None,
    )  # fmt: skip
    assert spec.hpa_min_replicas == 1
    assert ScalerSpec(min_replicas=2, max_replicas=2).hpa_min_replicas == 2


def test_the_readers_refuse_unsupported_fields_unless_told(tmp_path: Path) -> None:
    doc = yaml.safe_load(SHIPPED.read_text())
    doc["spec"]["idleReplicaCount"] = 0
    text = yaml.safe_dump(doc)
    path = tmp_path / "so.yaml"
    path.write_text(text)
    with pytest.raises(UnsupportedField, match=r"^ScaledObject: spec.idleReplicaCount is not"):
        ScalerSpec.from_yaml(text)
    with pytest.raises(UnsupportedField, match=rf"^{path}: spec.idleReplicaCount is not"):
        ScalerSpec.from_file(path)
    with pytest.raises(UnsupportedField):
        ScalerSpec.from_dict(doc)
    assert ScalerSpec.from_yaml(text, ignore_unsupported=True).ignored_fields == (
        "spec.idleReplicaCount",
    )
    del doc["spec"]["idleReplicaCount"]
    doc["apiVersion"] = "v2"
    with pytest.raises(ValueError, match=r"^ScaledObject: apiVersion must be"):
        ScalerSpec.from_yaml(yaml.safe_dump(doc))

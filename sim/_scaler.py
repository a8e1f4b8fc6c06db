"""KEDA ScaledObject settings (azure-queue trigger plus the HPA's) as a frozen :class:`Scaler`.

Reading the YAML is ``_scaledobject.py``; the loops are ``_keda.py``; the HPA arithmetic ``_hpa.py``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from sim._behavior import Behavior
from sim._control import Controller, Scaler
from sim._keda import KedaHpaScaler
from sim._scaledobject import read_file, read_yaml, settings_from

if TYPE_CHECKING:
    import simpy

    from sim._pods import Deployment
    from sim._queue import StorageQueue

Platform = Literal["kubernetes", "container-apps"]
PLATFORMS: tuple[str, ...] = ("kubernetes", "container-apps")
KUBERNETES_MAX_REPLICAS_DEFAULT = 100


@dataclass(frozen=True)
class ScalerSpec(Scaler):
    """KEDA (azure-queue trigger) plus HPA settings; read one with ``from_file``."""

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
    # ScaledObject fields the model does not implement that the reader was told to run without.
    ignored_fields: tuple[str, ...] = ()

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

    def start(
        self,
        env: simpy.Environment,
        queue: StorageQueue,
        deployment: Deployment,
        rng: np.random.Generator,
    ) -> Controller:
        controller = KedaHpaScaler(env, self, queue, deployment, rng)
        if self.min_replicas > 0:
            deployment.start_with(self.min_replicas)
        return controller

    @classmethod
    def from_file(
        cls,
        path: str | Path,
        platform: Platform = "kubernetes",
        *,
        ignore_unsupported: bool = False,
        **overrides: Any,
    ) -> ScalerSpec:
        """Read the one ``kind: ScaledObject`` document of a YAML file (one azure-queue trigger).

        On ``container-apps`` the behavior block is ignored (not exposed there), the HPA takes the
        behavior = nil path and ``maxReplicaCount`` defaults to 10. ``overrides`` are ScalerSpec
        fields set after reading (for example ``keda_poll_phase_s=None``).

        An unknown field (a misspelling such as ``queueLenght``) is a ``ValueError`` naming it; a
        field KEDA knows but the model does not implement (``fallback``, ``idleReplicaCount``,
        ``advanced.scalingModifiers``, ``useCachedMetrics: true``, a ``metricType`` other than
        AverageValue, the pause annotations) is an :class:`UnsupportedField` error, unless
        ``ignore_unsupported``: then the run goes without it and ``ignored_fields`` lists it.
        """
        doc, where = read_file(path)
        return cls._from(doc, where, platform, ignore_unsupported, overrides)

    @classmethod
    def from_yaml(
        cls,
        text: str,
        platform: Platform = "kubernetes",
        *,
        ignore_unsupported: bool = False,
        **overrides: Any,
    ) -> ScalerSpec:
        """As ``from_file``, from YAML text."""
        return cls._from(read_yaml(text), "ScaledObject", platform, ignore_unsupported, overrides)

    @classmethod
    def from_dict(
        cls,
        doc: dict[str, Any],
        platform: Platform = "kubernetes",
        *,
        ignore_unsupported: bool = False,
        **overrides: Any,
    ) -> ScalerSpec:
        """As ``from_file``, from a parsed ScaledObject document."""
        return cls._from(doc, "ScaledObject", platform, ignore_unsupported, overrides)

    @classmethod
    def _from(
        cls,
        doc: dict[str, Any],
        where: str,
        platform: Platform,
        ignore_unsupported: bool,
        overrides: dict[str, Any],
    ) -> ScalerSpec:
        settings = settings_from(doc, where, platform, ignore_unsupported=ignore_unsupported)
        return cls(**{**settings, **overrides})

"""The one interface between the engine and a scaling policy.

A :class:`Scaler` is a frozen description (``ScalerSpec`` for KEDA + HPA, ``FixedReplicas`` for
scaling off); ``start`` puts its :class:`Controller` into one replication. The engine knows no
policy by name: a new one plugs in by subclassing these two.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import simpy

    from sim._pods import Deployment
    from sim._queue import StorageQueue


class Controller(ABC):
    """A scaling policy at work in one run."""

    # Phase of the policy's loops in this run (first poll / sync), None if it has none.
    keda_phase_s: float | None = None
    hpa_phase_s: float | None = None

    def __init__(self) -> None:
        # Called when the deployment is at zero and nothing can wake it any more.
        self.on_stuck: Callable[[], None] = lambda: None

    @abstractmethod
    def metric(self) -> int:
        """The scaling metric now (what the timeline shows)."""

    @abstractmethod
    def desired(self) -> int:
        """The replicas the metric asked for at the last decision (what the timeline shows)."""


class Scaler(ABC):
    """A frozen scaling policy; the engine calls ``start`` once per replication."""

    @property
    @abstractmethod
    def min_replicas(self) -> int: ...

    @property
    @abstractmethod
    def max_replicas(self) -> int: ...

    @abstractmethod
    def start(
        self,
        env: simpy.Environment,
        queue: StorageQueue,
        deployment: Deployment,
        rng: np.random.Generator,
    ) -> Controller:
        """Create the starting replicas and the policy's processes in ``env``."""


@dataclass(frozen=True)
class FixedReplicas(Scaler):
    """Scaling off: ``replicas`` pods from t = 0 for the whole run."""

    replicas: int

    def __post_init__(self) -> None:
        if isinstance(self.replicas, bool) or self.replicas < 1:
            raise ValueError(f"fixed replicas must be >= 1, got {self.replicas}")

    @property
    def min_replicas(self) -> int:
        return self.replicas

    @property
    def max_replicas(self) -> int:
        return self.replicas

    def start(
        self,
        env: simpy.Environment,
        queue: StorageQueue,
        deployment: Deployment,
        rng: np.random.Generator,
    ) -> Controller:
        deployment.start_with(self.replicas)
        return _Fixed(queue, deployment)


class _Fixed(Controller):
    def __init__(self, queue: StorageQueue, deployment: Deployment) -> None:
        super().__init__()
        self.queue = queue
        self.deployment = deployment

    def metric(self) -> int:
        return self.queue.undeleted

    def desired(self) -> int:
        return self.deployment.replicas

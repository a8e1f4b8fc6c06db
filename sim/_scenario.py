"""The frozen, validated description of one simulated system."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from sim._arrivals import Arrivals, Burst
from sim._control import Scaler
from sim._dists import Constant, Distribution, parse_distribution
from sim._scaler import ScalerSpec

AZURE_QUEUE_MAX_BATCH = 32


@dataclass(frozen=True)
class PodSpec:
    """One processor pod. Defaults are the original processor's loop (docs/simulation.md)."""

    startup: Distribution = Constant(30.0)
    service: Distribution = Constant(10.0)
    concurrency: int = 1
    receive_batch_size: int = 10
    visibility_timeout_s: float = 60.0
    pause_between_batches_s: float = 2.0
    # 0 = long-poll: an idle worker takes a message the moment one becomes visible.
    pause_when_empty_s: float = 10.0
    exit_after_idle_s: float | None = None
    # Renew the visibility of held messages while the pod lives (the processor's lease renewal).
    renew_visibility: bool = False
    # After this many deliveries a message goes to the poison queue instead (None: never).
    max_deliveries: int | None = 5

    def __post_init__(self) -> None:
        object.__setattr__(self, "startup", parse_distribution(self.startup))
        object.__setattr__(self, "service", parse_distribution(self.service))
        if self.concurrency < 1:
            raise ValueError(f"concurrency must be >= 1, got {self.concurrency}")
        if not 1 <= self.receive_batch_size <= AZURE_QUEUE_MAX_BATCH:
            raise ValueError(f"receive_batch_size must be 1..32, got {self.receive_batch_size}")
        if not self.visibility_timeout_s > 0:
            raise ValueError(f"visibility_timeout_s must be > 0, got {self.visibility_timeout_s}")
        for name in ("pause_between_batches_s", "pause_when_empty_s"):
            value = getattr(self, name)
            if not 0 <= value < math.inf:
                raise ValueError(f"{name} must be >= 0, got {value!r}")
        if self.exit_after_idle_s is not None and not self.exit_after_idle_s > 0:
            raise ValueError(f"exit_after_idle_s must be > 0 or None, got {self.exit_after_idle_s}")
        if self.exit_after_idle_s is not None and self.pause_when_empty_s == 0:
            raise ValueError(
                "exit_after_idle_s needs pause_when_empty_s > 0 (the idle check runs then)"
            )
        if self.max_deliveries is not None and self.max_deliveries < 1:
            raise ValueError(f"max_deliveries must be >= 1 or None, got {self.max_deliveries}")


@dataclass(frozen=True)
class Scenario:
    """Arrivals, pods and scaler; the engine takes it as is.

    ``until_s`` ends the run at that time; None runs until every message is finished and the
    deployment is back at its minimum replica count (capped at ``max_time_s``).
    """

    arrivals: Arrivals = field(default_factory=lambda: Burst(85, 0.0))
    pods: PodSpec = field(default_factory=PodSpec)
    scaler: Scaler = field(default_factory=ScalerSpec)
    until_s: float | None = None
    max_time_s: float = 30 * 24 * 3600.0
    # None: no timeline (sweeps, which need only the summaries, run faster without it).
    timeline_interval_s: float | None = 5.0
    # Example price (0.5 vCPU + 1 GiB on a consumption plan); set your own.
    price_per_replica_hour: float = 0.054
    # Messages enqueued before this time are left out of latency and waiting-time metrics.
    warmup_s: float = 0.0

    def __post_init__(self) -> None:
        if not isinstance(self.arrivals, Arrivals):
            raise ValueError("arrivals must be an Arrivals pattern (Times, Burst, Poisson, Repeat)")
        if not isinstance(self.pods, PodSpec):
            raise ValueError("pods must be a PodSpec")
        if not isinstance(self.scaler, Scaler):
            raise ValueError("scaler must be a Scaler (ScalerSpec or FixedReplicas)")
        if self.until_s is not None and not 0 < self.until_s < math.inf:
            raise ValueError(f"until_s must be > 0 or None, got {self.until_s!r}")
        if not 0 < self.max_time_s < math.inf:
            raise ValueError(f"max_time_s must be > 0, got {self.max_time_s!r}")
        if self.timeline_interval_s is not None and not self.timeline_interval_s > 0:
            raise ValueError(f"timeline_interval_s must be > 0, got {self.timeline_interval_s!r}")
        if not 0 <= self.warmup_s < math.inf:
            raise ValueError(f"warmup_s must be >= 0, got {self.warmup_s!r}")
        if not 0 <= self.price_per_replica_hour < math.inf:
            raise ValueError(
                f"price_per_replica_hour must be >= 0, got {self.price_per_replica_hour!r}"
            )

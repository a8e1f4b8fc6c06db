"""SimPy model of queue arrivals and KEDA scaling of the processor.

Describe, check, then run: build a frozen :class:`Scenario` (arrivals, :class:`PodSpec`, and a
:class:`ScalerSpec` read from a KEDA ScaledObject, or :class:`FixedReplicas` for scaling off), then
:func:`run` one seed, :func:`simulate` several (means with 95 % confidence intervals) or
:func:`sweep` settings on all cores. Times are seconds from the start of the run. The semantics
follow ``KEDA_SEMANTICS.md``: KEDA's poll does 0 -> 1 (activation ``count > activationQueueLength``)
and -> 0 at the first poll after last-active + cooldown; the HPA does 1 <-> N with the External
AverageValue formula over status replicas (ready or not), tolerance, the behavior = nil path
(300 s downscale window, ``max(2c, 4)`` per sync) or the behavior path (stabilization windows,
Pods/Percent rate limits per period); in-flight messages count with ``queueLengthStrategy: all``.

Departures from KEDA: pods are created the moment the replica count changes (scheduling, image pull,
app start and readiness ticks are all inside the ``startup`` distribution) and are gone the moment
they are removed (no termination grace period: a message being handled is abandoned at once and
reappears when its visibility timeout expires); deployment spec and status replicas are therefore
always equal. The metric is read exactly at each KEDA poll and HPA sync (no metrics-server lag, no
``useCachedMetrics``, no fallback, one trigger only). The HPA is taken to have existed before t = 0
with no recorded recommendations. Loops tick exactly every period from their phase (no jitter); at
the same instant the HPA sync runs before the KEDA poll, after arrivals and pod events. Pods chosen
for scale-down follow the ReplicaSet ranking (not ready first, then most recently ready in log2
buckets, random UID ties), without node spreading or deletion cost. A pod that exits when idle is
restarted in place after a 10 s back-off doubling to 300 s (reset after 10 min running), not
re-created. With ``renew_visibility`` a removed pod's messages reappear one full visibility timeout
after removal. Container Apps is modelled as KEDA + HPA with behavior = nil and tolerance 0.1; its
own revision and replica management is not modelled. A run that can never progress (zero
replicas, count at or below the activation threshold, no arrivals left) ends at that poll, marked
incomplete. ``fallback``, ``scalingModifiers`` and ``useCachedMetrics`` are not modelled.
"""

from sim._arrivals import Arrivals, Burst, Poisson, Repeat, Times, load_arrivals, parse_arrivals
from sim._behavior import Behavior, ScalingPolicy, ScalingRules
from sim._control import Controller, FixedReplicas, Scaler
from sim._dists import (
    Constant,
    Distribution,
    Exponential,
    Lognormal,
    Uniform,
    parse_distribution,
)
from sim._results import METRICS, RunResult, SimulationResult, run, simulate
from sim._scaler import ScalerSpec
from sim._scenario import PodSpec, Scenario
from sim._stats import percentile
from sim._sweep import sweep, with_setting

__all__ = [
    "METRICS",
    "Arrivals",
    "Behavior",
    "Burst",
    "Constant",
    "Controller",
    "Distribution",
    "Exponential",
    "FixedReplicas",
    "Lognormal",
    "PodSpec",
    "Poisson",
    "Repeat",
    "RunResult",
    "ScalerSpec",
    "ScalingPolicy",
    "ScalingRules",
    "Scaler",
    "Scenario",
    "SimulationResult",
    "Times",
    "Uniform",
    "load_arrivals",
    "parse_arrivals",
    "parse_distribution",
    "percentile",
    "run",
    "simulate",
    "sweep",
    "with_setting",
]

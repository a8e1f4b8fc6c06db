"""SimPy model of queue arrivals and KEDA scaling of the processor (docs/simulation.md).

Describe, check, then run: build a frozen :class:`Scenario` (arrivals, :class:`PodSpec`, and a
:class:`ScalerSpec` read from a KEDA ScaledObject with ``ScalerSpec.from_file``, or
:class:`FixedReplicas` for scaling off), then :func:`run` one seed, :func:`simulate` several
(means with 95 % confidence intervals) or :func:`sweep` settings over processes or a Dask cluster.
Times are seconds from the start of the run. What is modelled, what the ScaledObject reader
refuses, and what the model leaves out are written in docs/simulation.md (semantics:
docs/keda-semantics.md).
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
from sim._scaledobject import UnsupportedField
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
    "UnsupportedField",
    "load_arrivals",
    "parse_arrivals",
    "parse_distribution",
    "percentile",
    "run",
    "simulate",
    "sweep",
    "with_setting",
]

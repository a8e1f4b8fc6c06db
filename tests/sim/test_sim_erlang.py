"""Scaling off, M/M/c: the model's mean waiting time against Erlang C, averaged over seeds."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sim import FixedReplicas, PodSpec, Poisson, Scenario, simulate


def erlang_c_wait(c: int, arrival_rate: float, service_rate: float) -> float:
    """Mean time in queue Wq of M/M/c: C(c, a) / (c mu - lambda), a = lambda / mu."""
    a = arrival_rate / service_rate
    rho = a / c
    top = a**c / math.factorial(c) / (1 - rho)
    p_wait = top / (sum(a**k / math.factorial(k) for k in range(c)) + top)
    return p_wait / (c * service_rate - arrival_rate)


def mmc(c: int, rho: float, arrivals: int, warmup_s: float) -> Scenario:
    service_mean = 1.0
    return Scenario(
        arrivals=Poisson(rho * c / service_mean, count=arrivals),
        # Push-like consumption: batch 1, no pauses, long-poll, no visibility expiry.
        pods=PodSpec(
            startup="constant(0)",
            service=f"exponential(mean={service_mean})",
            receive_batch_size=1,
            visibility_timeout_s=math.inf,
            pause_between_batches_s=0.0,
            pause_when_empty_s=0.0,
            max_deliveries=None,
        ),
        scaler=FixedReplicas(c),
        warmup_s=warmup_s,
        timeline_interval_s=3600.0,
    )


def test_erlang_c_formula_known_value():
    # M/M/1: Wq = rho / (mu - lambda); rho 0.5, mu 1 -> 1.0.
    assert erlang_c_wait(1, 0.5, 1.0) == pytest.approx(1.0)


@pytest.mark.parametrize(("c", "rho"), [(2, 0.7), (4, 0.8)])
def test_mean_wait_within_5_percent_of_erlang_c(c: int, rho: float):
    scenario = mmc(c, rho, arrivals=20_000, warmup_s=500.0)
    result = simulate(scenario, seeds=range(100, 112))
    waits = np.array([r.summary()["wait_mean_s"] for r in result.runs])
    expected = erlang_c_wait(c, rho * c, 1.0)
    assert waits.mean() == pytest.approx(expected, rel=0.05)

"""One replication's bookkeeping (sim/_engine.py): streams per part, how a run ends."""

from __future__ import annotations

import pytest

from sim import Burst, FixedReplicas, PodSpec, Poisson, ScalerSpec, Scenario, Times, run


def test_each_part_draws_from_its_own_stream() -> None:
    """Common random numbers: with one seed, changing the arrivals does not change the pods'
    startup and service draws, and changing the pods does not change the arrival times."""
    pods = PodSpec(startup="uniform(10,40)", service="exponential(mean=8)")
    scaler = FixedReplicas(1)
    few = run(Scenario(Poisson(0.05, duration_s=200), pods, scaler), 3)
    many = run(Scenario(Poisson(0.5, duration_s=200), pods, scaler), 3)
    assert few.records.pods[0].ready_at == many.records.pods[0].ready_at
    services = [
        [d.finished_at - d.started_at for m in r.records.messages for d in m.deliveries][:3]
        for r in (few, many)
    ]
    assert services[0] == pytest.approx(services[1], abs=1e-9) and len(services[0]) == 3
    other_pods = PodSpec(startup="constant(1)", service="constant(1)")
    same_arrivals = run(Scenario(Poisson(0.05, duration_s=200), other_pods, scaler), 3)
    assert [m.enqueued_at for m in same_arrivals.records.messages] == [
        m.enqueued_at for m in few.records.messages
    ]


def test_how_a_run_ends() -> None:
    pods = PodSpec(startup="constant(0)", service="constant(5)")
    nothing = run(Scenario(Times([]), pods, ScalerSpec()), 0).records
    assert nothing.complete is True and nothing.end_s == 0.0
    cut = run(Scenario(Burst(10, 0.0), pods, ScalerSpec(), until_s=20.0), 0).records
    assert cut.complete is True and cut.end_s == 20.0  # stopped where asked
    limit = Scenario(Burst(10, 0.0), pods, FixedReplicas(1), max_time_s=20.0)
    assert run(limit, 0).records.complete is False  # ran out of time
    stuck = Scenario(Times([5.0]), pods, ScalerSpec(activation_queue_length=1))
    assert run(stuck, 0).records.complete is False  # below activation, nothing left to come

"""The processors' simulated work: the same draws per (seed, name) as before the processor was
handed its work, different draws per instance, and no work without a distribution."""

from __future__ import annotations

import pytest

from sim import parse_distribution
from workbench.work import simulated_work

# The first three handling times processor-1 drew with seed 0 from lognormal(mean=6,sd=2)
# when the processor still parsed and drew its service time itself (numpy
# default_rng([seed, crc32(name)]), one scalar lognormal draw per item). A replay with the
# same seeds must see the same times, so its numbers do not move.
BEFORE = [5.471178581983802, 5.766493843386276, 5.931049169159512]


def test_same_seed_and_name_draw_the_times_drawn_before():
    work = simulated_work(parse_distribution("lognormal(mean=6,sd=2)"), seed=0, name="processor-1")
    assert work is not None
    assert [work() for _ in BEFORE] == pytest.approx(BEFORE, rel=1e-12)
    assert str(work) == "lognormal(mean=6,sd=2)"


def test_instances_sharing_a_seed_draw_different_times():
    dist = parse_distribution("exponential(mean=6)")
    one, two = (simulated_work(dist, seed=7, name=f"processor-{i}") for i in (1, 2))
    again = simulated_work(dist, seed=7, name="processor-1")
    assert one is not None and two is not None and again is not None
    first = [one() for _ in range(5)]
    assert first != [two() for _ in range(5)]
    assert first == [again() for _ in range(5)]


def test_no_distribution_means_no_simulated_work():
    assert simulated_work(None, seed=0, name="processor-1") is None

"""The processor's simulated work in the workbench: the service-time distribution (parsed once,
in the simulation's grammar) turned into each processor instance's seeded work function."""

from __future__ import annotations

import zlib

import numpy as np

from pipeline.processor import Work
from sim import Distribution


class SimulatedWork:
    """Draws each item's handling time (recording seconds) from ``service_time``.

    The generator is seeded by ``seed`` and the instance's ``name``, so instances that share a
    seed still draw different times, and a replay with the same seeds draws the same times.
    """

    def __init__(self, service_time: Distribution, *, seed: int, name: str) -> None:
        self.service_time = service_time
        self._rng = np.random.default_rng([seed, zlib.crc32(name.encode("utf-8"))])

    def __call__(self) -> float:
        return self.service_time.sample(self._rng)

    def __str__(self) -> str:
        return str(self.service_time)

    def __repr__(self) -> str:
        return f"SimulatedWork({self.service_time!s})"


def simulated_work(service_time: Distribution | None, *, seed: int, name: str) -> Work | None:
    """The work function of processor ``name``; None (no simulated work) without a distribution."""
    if service_time is None:
        return None
    return SimulatedWork(service_time, seed=seed, name=name)

"""The simulation clock: a SimPy environment where a wake-up can say where it stands among the
events of one instant.

Same-instant order: arrivals, then pods (ready, finish, receive), then the HPA sync, then the
KEDA poll, then the timeline sample. Controllers see the state after everything else that happens
at that instant; when the KEDA poll and the HPA sync fall on one instant, the order between them is
this fixed one (in a cluster it is arbitrary: docs/simulation.md).
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import simpy
from simpy.core import EventPriority
from simpy.events import NORMAL, Event, Timeout

ARRIVAL_PRIORITY = EventPriority(0)
HPA_PRIORITY = EventPriority(2)
KEDA_PRIORITY = EventPriority(3)
SAMPLE_PRIORITY = EventPriority(4)

ProcessGenerator = Generator[Event, Any, None]


class Wake(Timeout):
    """A timeout that takes its ``priority``'s place among the events of its instant."""

    def __init__(self, env: simpy.Environment, delay: float, priority: EventPriority) -> None:
        self.priority = priority
        super().__init__(env, delay)


class Environment(simpy.Environment):
    """SimPy's environment; a :class:`Wake` is scheduled at its own priority."""

    def schedule(self, event: Event, priority: EventPriority = NORMAL, delay: float = 0) -> None:
        if type(event) is Wake:
            priority = event.priority
        super().schedule(event, priority, delay)

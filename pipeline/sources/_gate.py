"""How a streaming run's first sends and its sources' parsing keep out of each other's way.

A collection run sends the earliest item on its timeline at once (``pipeline.collect``,
``_Run.send_early``) and wants that send to have the machine to itself: it is the run's
time to first item. ``ParseGate`` carries the two signals that make this work:

* **Closed** (``closed()``, by the run while an early message is in flight): a response that
  arrives waits before it is parsed (``wait_open``), so no page is parsed on the loop or
  handed to the feeds' parser thread during the send.
* **Parsing** (``parsing(t)``, by a feed while the parser thread works on its response, ``t``
  being when the response came on the run's schedule: its items will carry that time): the
  run's senders and its flusher hold their next request while a parse under way may bring out
  an item earlier than any sent so far (``wait_quiet``). Parsing is untimed, so such an item
  is early however long the parse takes; without the hold it would be sent behind a burst of
  ordinary sends that started meanwhile.

All of it is event-loop state: use it from the loop's thread only.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import Iterator


class ParseGate:
    """Open, with no parse under way, until told otherwise (see the module docstring)."""

    def __init__(self) -> None:
        self._holds = 0
        self._parsing: list[float] = []  # schedule times of the parses under way
        self._changed = asyncio.Event()

    def _notify(self) -> None:
        """Wake every waiter (each checks its own condition again)."""
        self._changed.set()
        self._changed = asyncio.Event()

    @property
    def is_open(self) -> bool:
        return not self._holds

    @contextlib.contextmanager
    def closed(self) -> Iterator[None]:
        """Hold parsing for the block (nested or overlapping blocks: until the last ends)."""
        self._holds += 1
        try:
            yield
        finally:
            self._holds -= 1
            if not self._holds:
                self._notify()

    async def wait_open(self) -> None:
        """Return once the gate is open (at once when it is)."""
        while self._holds:
            await self._changed.wait()

    @contextlib.contextmanager
    def parsing(self, schedule_s: float) -> Iterator[None]:
        """A response received at ``schedule_s`` is being parsed off the loop for the block."""
        self._parsing.append(schedule_s)
        try:
            yield
        finally:
            self._parsing.remove(schedule_s)
            self._notify()

    def earliest_parse(self) -> float:
        """The schedule time of the earliest response being parsed (``inf``: none)."""
        return min(self._parsing, default=math.inf)

    async def wait_quiet(self, earliest_sent_s: float) -> None:
        """Return once the gate is open and no parse under way may bring out an item earlier
        than ``earliest_sent_s`` (at once in a run's steady state: both hold only at its start)."""
        while self._holds or self.earliest_parse() < earliest_sent_s:
            await self._changed.wait()

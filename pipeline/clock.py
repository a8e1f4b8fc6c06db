"""Clocks: every wait in the pipeline (politeness, backoff, replayed latency) goes through one.

``clock.now()`` is in recording seconds since the clock started. A ``Clock(speed=S)`` runs S
times faster than the wall: ``sleep(10)`` waits 10/S wall seconds and advances ``now()`` by 10.
``Clock()`` (speed 1) is the real clock used in production.

Each task also keeps its place on its own schedule: ``task_time()`` advances by the clock
sleeps the task makes, so replayed latencies and pauses give the same times at any speed. The
milliseconds of work between two sleeps, which a fast clock would multiply by ``speed``, do not
count unless they exceed ``slack_wall_s`` wall seconds (then the time since the last sleep
counts in full); work inside ``with clock.untimed():`` (parsing a page) never counts. The
default slack, half a second, absorbs the stalls of a busy machine (a garbage collection, another
process on the core) that a speed-up would otherwise multiply into seconds of recording time.

``InstantClock`` is a virtual clock for one task: ``sleep`` only adds to ``now()``. It computes
what a recording implies (e.g. ``first_item_limit_seconds``) without waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import itertools
import math
import time
from collections.abc import Iterator

_ids = itertools.count(1)
# (clock id, reset epoch, schedule time, now() when it was set) of the current task.
_cursor: contextvars.ContextVar[tuple[int, int, float, float] | None] = contextvars.ContextVar(
    "pipeline_clock_cursor", default=None
)


class Clock:
    """A monotonic clock scaled by ``speed``; times are in recording seconds."""

    def __init__(self, speed: float = 1.0, *, slack_wall_s: float = 0.5) -> None:
        if not speed > 0:
            raise ValueError(f"clock speed must be > 0, got {speed!r}")
        self.speed = float(speed)
        self.slack_wall_s = slack_wall_s
        self._id = next(_ids)
        self._epoch = 0
        self._start = time.monotonic()

    def __repr__(self) -> str:
        return f"Clock(speed={self.speed:g})"

    def now(self) -> float:
        """Recording seconds since the clock was created (or last reset)."""
        return (time.monotonic() - self._start) * self.speed

    def reset(self) -> None:
        """Make ``now()`` start again from zero (at the start of a collection run)."""
        self._start = time.monotonic()
        self._epoch += 1

    def task_time(self) -> float:
        """The current task's time on its schedule (see the module docstring), in recording s."""
        now = self.now()
        cursor = _cursor.get()
        if cursor is None or cursor[0] != self._id or cursor[1] != self._epoch:
            cursor = (self._id, self._epoch, 0.0, 0.0)  # a task's schedule starts at the reset
        since = now - cursor[3]
        if since > self.slack_wall_s * self.speed:
            return cursor[2] + since
        return cursor[2]

    def _set_task_time(self, value: float) -> None:
        _cursor.set((self._id, self._epoch, value, self.now()))

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` recording seconds (``seconds / speed`` on the wall)."""
        start = self.task_time()
        if seconds > 0:
            await asyncio.sleep(seconds / self.speed)
        else:
            await asyncio.sleep(0)
        self._set_task_time(start + max(seconds, 0.0))

    @contextlib.contextmanager
    def untimed(self) -> Iterator[None]:
        """Work in this block (parsing, not waiting) takes no time on the task's schedule."""
        start = self.task_time()
        try:
            yield
        finally:
            self._set_task_time(start)

    def wall(self, seconds: float) -> float:
        """Wall seconds that ``seconds`` recording seconds take."""
        return seconds / self.speed


class InstantClock(Clock):
    """A virtual clock that never waits: ``sleep(s)`` adds ``s`` to ``now()`` at once.

    Meant for one task at a time (one source replayed alone); concurrent sleepers would all
    add to the same time.
    """

    def __init__(self) -> None:
        super().__init__(1.0)
        self.speed = math.inf
        self._now = 0.0

    def __repr__(self) -> str:
        return "InstantClock()"

    def now(self) -> float:
        return self._now

    def reset(self) -> None:
        self._now = 0.0

    def task_time(self) -> float:
        return self._now

    async def sleep(self, seconds: float) -> None:
        self._now += max(seconds, 0.0)
        await asyncio.sleep(0)

    def wall(self, seconds: float) -> float:
        return 0.0

    def _set_task_time(self, value: float) -> None:
        return None

"""Clocks: every wait in the pipeline (politeness, backoff, replayed latency) goes through one.

``clock.now()`` is in recording seconds since the clock started. A ``Clock(speed=S)`` runs S
times faster than the wall: ``sleep(10)`` waits 10/S wall seconds and advances ``now()`` by 10.
``Clock()`` (speed 1) is the real clock used in production.
"""

from __future__ import annotations

import asyncio
import time


class Clock:
    """A monotonic clock scaled by ``speed``; times are in recording seconds."""

    def __init__(self, speed: float = 1.0) -> None:
        if not speed > 0:
            raise ValueError(f"clock speed must be > 0, got {speed!r}")
        self.speed = float(speed)
        self._start = time.monotonic()

    def __repr__(self) -> str:
        return f"Clock(speed={self.speed:g})"

    def now(self) -> float:
        """Recording seconds since the clock was created (or last reset)."""
        return (time.monotonic() - self._start) * self.speed

    def reset(self) -> None:
        """Make ``now()`` start again from zero (at the start of a collection run)."""
        self._start = time.monotonic()

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` recording seconds (``seconds / speed`` on the wall)."""
        if seconds > 0:
            await asyncio.sleep(seconds / self.speed)
        else:
            await asyncio.sleep(0)

    def wall(self, seconds: float) -> float:
        """Wall seconds that ``seconds`` recording seconds take."""
        return seconds / self.speed

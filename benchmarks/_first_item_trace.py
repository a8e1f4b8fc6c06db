"""A benchmark-only tracer: where the wall time of each run's first queued item goes.

``FirstItemTracer`` wraps, in the benchmark's own process only, the points an item passes:
the collector's send (``_Run.send``: the item's stamp says when its source yielded it), the
queue adapter's send (the SDK round trip), and the parsing of every response (feeds in the
parser thread, JSON on the loop). Nothing in ``pipeline/`` logs or keeps these time stamps; the
wrappers cost a few microseconds per item.

For the item with the earliest ``enqueued_at`` of a run, ``breakdown`` splits its overhead
(``enqueued_at`` minus the recording's first-item limit, in wall milliseconds):

* ``schedule``: the item's place on its source's schedule past the limit (not the earliest
  source's item, or a stall counted by the clock);
* ``hand-off``: from the source yielding it to the collector's send starting (the dedup check,
  the wait in the outbox for a sender, the event loop running other tasks first);
* ``message``: building and encoding the message;
* ``queue send``: the SDK's send, a loopback round trip plus whatever else held the loop or
  the GIL meanwhile;
* ``parsing meanwhile``: how much of that span other sources spent parsing (overlap).
"""

from __future__ import annotations

import contextvars
import dataclasses
import time
from collections.abc import Callable
from typing import Any

import pipeline.collect as collect_module
import pipeline.sources._feeds as feeds_module
from pipeline.clock import Clock
from pipeline.sources._http import Fetched
from pipeline.storage import QueueAdapter


@dataclasses.dataclass
class SendTrace:
    source: str
    schedule_s: float
    yielded: float  # wall (time.monotonic) when the source yielded the item
    send_start: float = 0.0
    queue_start: float = 0.0
    queue_end: float = 0.0
    enqueued_at: float = 0.0


@dataclasses.dataclass
class RunTrace:
    reset: float
    sends: list[SendTrace] = dataclasses.field(default_factory=list)
    parses: list[tuple[str, float, float]] = dataclasses.field(default_factory=list)


_current: contextvars.ContextVar[SendTrace | None] = contextvars.ContextVar(
    "first_item_send", default=None
)


class FirstItemTracer:
    """Install with ``with FirstItemTracer() as tracer:``; ``tracer.runs`` has one entry per run."""

    def __init__(self) -> None:
        self.runs: list[RunTrace] = []
        self._restore: list[tuple[Any, str, Any]] = []

    def _patch(self, owner: Any, name: str, make: Callable[[Any], Any]) -> None:
        original = getattr(owner, name)
        self._restore.append((owner, name, original))
        setattr(owner, name, make(original))

    def __enter__(self) -> FirstItemTracer:
        runs = self.runs

        def reset(original: Any) -> Any:
            def wrapped(clock: Clock) -> None:
                original(clock)
                runs.append(RunTrace(reset=time.monotonic()))

            return wrapped

        def run_send(original: Any) -> Any:
            async def wrapped(run: Any, item: Any, mode: str, stamp: Any, *rest: Any) -> None:
                trace = SendTrace(item.source_name, stamp.schedule_s, stamp.wall)
                trace.send_start = time.monotonic()
                token = _current.set(trace)
                try:
                    await original(run, item, mode, stamp, *rest)
                finally:
                    _current.reset(token)
                trace.enqueued_at = run.tally.records[-1].enqueued_at
                if runs:
                    runs[-1].sends.append(trace)

            return wrapped

        def queue_send(original: Any) -> Any:
            async def wrapped(queue: QueueAdapter, content: Any, **kwargs: Any) -> str:
                trace = _current.get()
                if trace is not None:
                    trace.queue_start = time.monotonic()
                result = await original(queue, content, **kwargs)
                if trace is not None:
                    trace.queue_end = time.monotonic()
                return str(result)

            return wrapped

        def feed_parse(original: Any) -> Any:
            def wrapped(fetched: Any, source: Any, stats: Any) -> Any:
                start = time.monotonic()
                try:
                    return original(fetched, source, stats)
                finally:
                    if runs:
                        runs[-1].parses.append((source.name, start, time.monotonic()))

            return wrapped

        def json_parse(original: Any) -> Any:
            def wrapped(fetched: Fetched) -> Any:
                start = time.monotonic()
                try:
                    return original(fetched)
                finally:
                    if runs:
                        runs[-1].parses.append((fetched.url, start, time.monotonic()))

            return wrapped

        self._patch(Clock, "reset", reset)
        self._patch(collect_module._Run, "send", run_send)
        self._patch(QueueAdapter, "send", queue_send)
        self._patch(feeds_module, "_parse_items", feed_parse)
        self._patch(Fetched, "json", json_parse)
        return self

    def __exit__(self, *exc: object) -> None:
        for owner, name, original in reversed(self._restore):
            setattr(owner, name, original)
        self._restore.clear()


def breakdown(run: RunTrace, limit_s: float) -> dict[str, Any]:
    """The first item's overhead in wall milliseconds, split as the module docstring says."""
    first = min(run.sends, key=lambda s: s.enqueued_at)
    ms = 1000.0
    parts = {
        "schedule": (first.schedule_s - limit_s) * ms,
        "hand-off": (first.send_start - first.yielded) * ms,
        "message": (first.queue_start - first.send_start) * ms,
        "queue send": (first.queue_end - first.queue_start) * ms,
    }
    overhead = (first.enqueued_at - limit_s) * ms
    parts["rest"] = overhead - sum(parts.values())
    meanwhile = sum(
        max(0.0, min(end, first.queue_end) - max(start, first.yielded))
        for _, start, end in run.parses
    )
    return {
        "source": first.source,
        "overhead": overhead,
        "parts": parts,
        "parsing meanwhile": meanwhile * ms,
    }

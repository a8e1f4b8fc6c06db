"""Recording folders: ``sources.yaml``, ``run-NNN.har`` per collection run, ``manifest.json``.

``Recording.open`` reads and checks a folder; ``replay_run`` replays one run through every
collector at once (no queue, no blob); ``first_item_limit_seconds`` computes the limit of
docs/metrics.md from the recording alone, replaying each source by itself on an
``InstantClock``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import json
import math
from collections.abc import Coroutine, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx

from pipeline._tasks import first_error
from pipeline.clock import Clock, InstantClock
from pipeline.config import SourceConfig, SourcesConfig, load_sources
from pipeline.errors import ConfigError, ReplayError
from pipeline.har import ReplayTransport, load_har, match_key
from pipeline.items import ContentItem
from pipeline.sources import SourceStats, collect_source

__all__ = [
    "MANIFEST_FORMAT",
    "CollectedRun",
    "Recording",
    "RecordingRun",
    "collect_sources",
    "first_item_limit_seconds",
    "parse_time",
    "replay_run",
    "replay_run_sequential",
]

MANIFEST_FORMAT = "workbench-recording/1"
_T = TypeVar("_T")


@dataclasses.dataclass(frozen=True)
class RecordingRun:
    index: int
    har_path: Path
    started_at: datetime


@dataclasses.dataclass(frozen=True)
class Recording:
    path: Path
    sources: SourcesConfig
    manifest: dict[str, Any]
    runs: list[RecordingRun]

    @classmethod
    def open(cls, path: str | Path) -> Recording:
        """Read a recording folder; ``ReplayError`` (one line) when it is missing or invalid."""
        path = Path(path)
        if not path.exists():
            raise ReplayError(f"recording folder not found: {path}")
        if not path.is_dir():
            raise ReplayError(f"not a recording folder (not a directory): {path}")
        manifest_path = path / "manifest.json"
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ReplayError(f"{path}: not a recording (no manifest.json)") from None
        except (OSError, ValueError) as exc:
            raise ReplayError(f"{manifest_path}: invalid JSON: {exc}") from None
        if not isinstance(manifest, dict):
            raise ReplayError(f"{manifest_path}: expected a JSON object")
        try:
            sources = load_sources(path / "sources.yaml")
        except ConfigError as exc:
            raise ReplayError(f"recording {path}: {exc}") from None
        runs = _runs(path, manifest)
        if not runs:
            raise ReplayError(f"{path}: the recording has no runs (run-NNN.har)")
        return cls(path=path, sources=sources, manifest=manifest, runs=runs)

    def run(self, index: int) -> RecordingRun:
        for run in self.runs:
            if run.index == index:
                return run
        raise ReplayError(f"{self.path}: no run {index} (runs: {len(self.runs)})")


def parse_time(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _runs(path: Path, manifest: Mapping[str, Any]) -> list[RecordingRun]:
    runs: list[RecordingRun] = []
    listed = manifest.get("runs")
    if isinstance(listed, list) and listed:
        for position, run in enumerate(listed):
            try:
                har = path / str(run["har"])
                started = parse_time(str(run["started_at"]))
                index = int(run.get("index", position))
            except (KeyError, TypeError, ValueError) as exc:
                raise ReplayError(
                    f"{path / 'manifest.json'}: runs[{position}] needs har and started_at "
                    f"({type(exc).__name__}: {exc})"
                ) from None
            _check_inside(path, har, f"{path / 'manifest.json'}: runs[{position}]")
            if not har.is_file():
                raise ReplayError(f"{path}: run {index}: HAR file not found: {har.name}")
            runs.append(RecordingRun(index, har, started))
        return runs
    for index, har in enumerate(sorted(path.glob("run-*.har"))):
        _check_inside(path, har, str(path))
        entries = load_har(har)
        first = min((str(e.get("startedDateTime", "")) for e in entries), default="")
        try:
            started = parse_time(first)
        except ValueError:
            started = datetime.fromtimestamp(har.stat().st_mtime, UTC)
        runs.append(RecordingRun(index, har, started))
    return runs


def _check_inside(folder: Path, har: Path, where: str) -> None:
    """A shared recording must not make a replay read files elsewhere on the machine
    (``../``, an absolute path, a symlink out of the folder)."""
    if not har.resolve().is_relative_to(folder.resolve()):
        raise ReplayError(f"{where}: HAR file {har.name!r} lies outside the recording folder")


@dataclasses.dataclass
class CollectedRun:
    """What every source of one run gave: accepted items (in order) and counters."""

    stats: dict[str, SourceStats]
    items: dict[str, list[ContentItem]]
    accepted_at: dict[str, list[float]]
    duration_s: float = 0.0
    index: int | None = None
    started_at: datetime | None = None
    unused_entries: int = 0

    def all_items(self) -> list[ContentItem]:
        return [item for items in self.items.values() for item in items]

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "duration_s": self.duration_s,
            "unused_entries": self.unused_entries,
            "sources": {name: stats.to_dict() for name, stats in self.stats.items()},
        }


async def collect_sources(
    client: httpx.AsyncClient, sources: Sequence[SourceConfig], clock: Clock
) -> CollectedRun:
    """Read every source concurrently (one task each) to the end; no dedup, no queue."""
    result = CollectedRun(
        stats={s.name: SourceStats(name=s.name, type=s.type) for s in sources},
        items={s.name: [] for s in sources},
        accepted_at={s.name: [] for s in sources},
    )

    ends: list[float] = []

    async def one(source: SourceConfig) -> None:
        async for item in collect_source(client, source, clock, result.stats[source.name]):
            result.items[source.name].append(item)
            result.accepted_at[source.name].append(clock.task_time())
        ends.append(clock.task_time())

    start = clock.task_time()
    try:
        async with asyncio.TaskGroup() as group:
            for source in sources:
                group.create_task(one(source))
    except BaseExceptionGroup as errors:
        raise first_error(errors) from None
    result.duration_s = max(ends, default=start) - start
    return result


async def replay_run(
    recording: Recording,
    run_index: int,
    clock: Clock,
    sources: Sequence[SourceConfig] | None = None,
) -> CollectedRun:
    """Replay one recorded run through all collectors concurrently on ``clock`` (reset first)."""
    run = recording.run(run_index)
    transport = ReplayTransport(run.har_path, clock)
    clock.reset()
    async with httpx.AsyncClient(transport=transport) as client:
        result = await collect_sources(client, sources or recording.sources.sources, clock)
    result.index = run.index
    result.started_at = run.started_at
    result.unused_entries = transport.unused
    return result


async def replay_run_sequential(recording: Recording, run_index: int) -> CollectedRun:
    """Replay one run's sources one after another on an ``InstantClock`` (no waiting).

    Items and counters are those of any replay; ``duration_s`` is the recorded time of a
    sequential collection (what batch mode spends before its first send).
    """
    run = recording.run(run_index)
    clock = InstantClock()
    transport = ReplayTransport(run.har_path, clock)
    sources = recording.sources.sources
    result = CollectedRun(
        stats={s.name: SourceStats(name=s.name, type=s.type) for s in sources},
        items={s.name: [] for s in sources},
        accepted_at={s.name: [] for s in sources},
        index=run.index,
        started_at=run.started_at,
    )
    async with httpx.AsyncClient(transport=transport) as client:
        for source in sources:
            async for item in collect_source(client, source, clock, result.stats[source.name]):
                result.items[source.name].append(item)
                result.accepted_at[source.name].append(clock.now())
    result.duration_s = clock.now()
    result.unused_entries = transport.unused
    return result


def first_item_limit_seconds(
    recording: Recording, run_index: int
) -> tuple[float, dict[str, float]]:
    """docs/metrics.md: the earliest any item could be queued, from the recording alone.

    Each source is replayed by itself on an ``InstantClock`` (recorded latencies, politeness
    pauses and retry waits add up, nothing waits): its value is the time its first accepted
    item was parsed. Returns the minimum over sources (``inf`` if none had an item) and the
    per-source values (sources without an item are left out). Callable with or without a
    running event loop.
    """
    run = recording.run(run_index)
    entries = load_har(run.har_path)
    return _run_sync(_limits(entries, recording.sources.sources))


def _run_sync(coro: Coroutine[Any, Any, _T]) -> _T:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


class _FreshReplay(httpx.AsyncBaseTransport):
    """A replay of its own for one source, as ``ReplayTransport(entries, clock)`` would be, but
    built per URL on first use from an index made once: a full transport per source costs
    O(sources^2) with hundreds of sources."""

    def __init__(
        self,
        entries: list[dict[str, Any]],
        by_key: Mapping[tuple[str, str], list[dict[str, Any]]],
        clock: Clock,
    ) -> None:
        self._entries = entries
        self._by_key = by_key
        self._clock = clock
        self._replays: dict[tuple[str, str], ReplayTransport] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        key = match_key(request.method, str(request.url))
        replay = self._replays.get(key)
        if replay is None:
            # An unknown URL gets the full transport, for its error message and hints.
            known = self._by_key.get(key)
            entries = known if known is not None else self._entries
            replay = self._replays[key] = ReplayTransport(entries, self._clock)
        return await replay.handle_async_request(request)


async def _limits(
    entries: list[dict[str, Any]], sources: Sequence[SourceConfig]
) -> tuple[float, dict[str, float]]:
    by_key: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for entry in entries:
        request = entry["request"]
        by_key.setdefault(match_key(str(request["method"]), str(request["url"])), []).append(entry)
    per_source: dict[str, float] = {}
    for source in sources:
        clock = InstantClock()
        stats = SourceStats(name=source.name, type=source.type)
        transport = _FreshReplay(entries, by_key, clock)
        async with httpx.AsyncClient(transport=transport) as client:
            items = collect_source(client, source, clock, stats)
            try:
                async for _item in items:
                    break
            finally:
                await items.aclose()
        if stats.first_accepted_at is not None:
            per_source[source.name] = stats.first_accepted_at
    return min(per_source.values(), default=math.inf), per_source

"""Replay a recording through the real collectors against Azure Storage, with processors.

For each mode, fresh queues and containers are made; the recording's runs are replayed in
order (the history carries from run to run); with processors, N workers drain the queue while
and after each run. All times are recording seconds from the start of each run.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import logging
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

from pipeline.clock import Clock
from pipeline.collect import CollectorOptions, RunInputs, collect_run
from pipeline.errors import PipelineError, StorageError
from pipeline.har import ReplayTransport
from pipeline.history import HistoryIndex
from pipeline.processor import Processor, ProcessorSettings
from pipeline.recording import Recording, first_item_limit_seconds
from pipeline.storage import StorageAccount
from sim import Distribution, parse_distribution
from workbench import interrupt
from workbench.connection import storage_connection
from workbench.errors import WorkbenchError
from workbench.options import DEFAULT_SERVICE_TIME
from workbench.replay_metrics import mode_total, run_document
from workbench.resources import run_base_name
from workbench.work import simulated_work

log = logging.getLogger(__name__)

MODES = ("batch", "streaming")
CONFIGURED = "configured"  # each source in its sources.yaml mode
REPLAY_MODES = (*MODES, CONFIGURED)


@dataclasses.dataclass(frozen=True)
class ReplayOptions:
    speed: float = 20.0
    processors: int = 0
    processor_concurrency: int = 4
    # The processors' simulated work per item, parsed once by the caller (recording seconds).
    service_time: Distribution = dataclasses.field(
        default_factory=lambda: parse_distribution(DEFAULT_SERVICE_TIME)
    )
    visibility_timeout_s: int = 60
    history_lookback: timedelta = timedelta(hours=24)
    history_retention: timedelta = timedelta(days=7)
    collector: CollectorOptions = dataclasses.field(default_factory=CollectorOptions)
    drain_timeout_wall_s: float = 600.0
    keep: bool = False
    seed: int = 0

    def __post_init__(self) -> None:
        if not self.speed > 0:
            raise ValueError(f"speed must be > 0, got {self.speed}")
        if self.processors < 0:
            raise ValueError(f"processors must be >= 0, got {self.processors}")
        if self.processor_concurrency < 1:
            raise ValueError(
                f"processor_concurrency must be >= 1, got {self.processor_concurrency}"
            )


@dataclasses.dataclass(frozen=True)
class ModeResources:
    queue: str
    poison_queue: str
    collected: str
    processed: str

    @classmethod
    def fresh(cls, label: str) -> ModeResources:
        """Names ``workbench storage list|clean`` finds (``workbench.resources``)."""
        base = run_base_name(label)
        return cls(
            queue=base,
            poison_queue=f"{base}-poison",
            collected=f"{base}-collected",
            processed=f"{base}-processed",
        )


ProgressFn = Callable[[str], None]
SourceModes = Mapping[str, str]  # source name -> batch | streaming
# (recording, run index, documents of the runs done) -> the run's modes per source
ModePlan = Callable[[Recording, int, Sequence[dict[str, Any]]], SourceModes]


async def replay_recording(
    recording_dir: Path | str,
    *,
    account: StorageAccount,
    modes: Sequence[str] = MODES,
    options: ReplayOptions | None = None,
    progress: ProgressFn | None = None,
) -> dict[str, Any]:
    """Replay every run of the recording in each mode; returns the replay JSON document.

    A mode is ``batch`` or ``streaming`` (every source in that mode) or ``configured`` (each
    source in the ``mode`` its sources.yaml gives it: a mixed run).
    """
    options = options or ReplayOptions()
    recording = Recording.open(Path(recording_dir))
    for mode in modes:
        if mode not in REPLAY_MODES:
            raise WorkbenchError(f"unknown mode {mode!r}; expected one of {REPLAY_MODES}")
    limits = run_limits(recording)
    result: dict[str, Any] = {
        "recording": str(recording_dir),
        "speed": options.speed,
        "processors": options.processors,
        "service_time": str(options.service_time) if options.processors else None,
        "modes": {},
    }
    for mode in modes:
        runs: list[dict[str, Any]] = []
        try:
            end_state = await _replay_runs_into(
                recording, account, every_run(mode), mode, options, progress, limits, runs
            )
        except (PipelineError, WorkbenchError) as exc:
            # Storage gone, a recording that does not replay...: the runs that completed
            # keep their numbers.
            result["modes"][mode] = {"runs": runs, "total": mode_total(runs), "end": None}
            result["incomplete"] = {"mode": mode, "runs_completed": len(runs), "error": str(exc)}
            raise ReplayIncomplete(result, exc) from None
        result["modes"][mode] = {"runs": runs, "total": mode_total(runs), "end": end_state}
    return result


class ReplayIncomplete(WorkbenchError):
    """A replay stopped by an error; ``result`` holds the numbers of the runs that completed
    (``result["incomplete"]`` says where it stopped)."""

    def __init__(self, result: dict[str, Any], error: Exception) -> None:
        super().__init__(str(error))
        self.result = result

    @property
    def runs_completed(self) -> int:
        return sum(len(mode["runs"]) for mode in self.result["modes"].values())


def run_limits(recording: Recording) -> list[tuple[float, dict[str, float]]]:
    """Each run's ``first_item_limit_seconds`` and its per-source values (from the recording)."""
    return [first_item_limit_seconds(recording, run.index) for run in recording.runs]


def every_run(mode: str) -> ModePlan:
    """The plan of a plain replay: ``mode`` for every source (``configured``: sources.yaml's)."""

    def plan(recording: Recording, run_index: int, done: Sequence[dict[str, Any]]) -> SourceModes:
        if mode == CONFIGURED:
            return {s.name: s.mode for s in recording.sources.sources}
        return {s.name: mode for s in recording.sources.sources}

    return plan


def source_modes(recording: Recording, modes: Mapping[str, str]) -> dict[str, str]:
    """``modes`` for every source of the recording (a source not named keeps its configured
    mode); ``WorkbenchError`` for an unknown source or mode."""
    configured = {s.name: s.mode for s in recording.sources.sources}
    unknown = sorted(set(modes) - set(configured))
    if unknown:
        raise WorkbenchError(
            f"no source {', '.join(map(repr, unknown))} in {recording.path / 'sources.yaml'}"
        )
    bad = {name: mode for name, mode in modes.items() if mode not in MODES}
    if bad:
        name, mode = next(iter(bad.items()))
        raise WorkbenchError(f"source {name!r}: mode {mode!r} is not one of {MODES}")
    return {**configured, **modes}


async def replay_runs(
    recording: Recording | Path | str,
    *,
    account: StorageAccount,
    modes_for_run: ModePlan,
    label: str,
    options: ReplayOptions | None = None,
    progress: ProgressFn | None = None,
    limits: Sequence[tuple[float, dict[str, float]]] | None = None,
) -> dict[str, Any]:
    """Replay the recording's runs in order on fresh storage resources (one queue, one
    collection container and one history index for all runs), each source in the mode
    ``modes_for_run(recording, run_index, runs_done)`` gives it for that run; returns
    ``{"runs", "total", "end"}`` as under a mode of the replay JSON.

    The plan sees the documents of the runs already replayed, so a rollout can decide a run's
    modes from the last one (guardrails).
    """
    options = options or ReplayOptions()
    if not isinstance(recording, Recording):
        recording = Recording.open(Path(recording))
    limits = limits if limits is not None else run_limits(recording)
    runs: list[dict[str, Any]] = []
    end_state = await _replay_runs_into(
        recording, account, modes_for_run, label, options, progress, limits, runs
    )
    return {"runs": runs, "total": mode_total(runs), "end": end_state}


async def _replay_runs_into(
    recording: Recording,
    account: StorageAccount,
    modes_for_run: ModePlan,
    label: str,
    options: ReplayOptions,
    progress: ProgressFn | None,
    limits: Sequence[tuple[float, dict[str, float]]],
    runs: list[dict[str, Any]],
) -> dict[str, Any]:
    """Replay every run as ``replay_runs`` does, appending each run's document to ``runs`` as
    it completes (a caller keeps them when a later run fails); returns the end state."""
    names = ModeResources.fresh(label)
    queue = await account.queue(names.queue).create_if_missing()
    await account.queue(names.poison_queue).create_if_missing()
    collected = await account.container(names.collected).create_if_missing()
    await account.container(names.processed).create_if_missing()
    history = HistoryIndex(
        collected, lookback=options.history_lookback, retention=options.history_retention
    )
    clock = Clock(options.speed)
    # Every source's mode comes from the plan, so sources.yaml's modes are not overridden.
    collector = dataclasses.replace(options.collector, mode_override=None)
    processor_settings = ProcessorSettings(
        queue_name=names.queue,
        poison_queue_name=names.poison_queue,
        results_container=names.processed,
        claims_container=names.collected,
        concurrency=options.processor_concurrency,
        # Receive only what can start now, so work spreads across workers.
        batch_size=options.processor_concurrency,
        visibility_timeout_s=options.visibility_timeout_s,
    )
    try:
        for run in recording.runs:
            modes = source_modes(recording, modes_for_run(recording, run.index, runs))
            sources = [
                dataclasses.replace(s, mode=modes[s.name]) for s in recording.sources.sources
            ]
            if progress:
                progress(
                    f"{label}: run {run.index + 1}/{len(recording.runs)} ({run.started_at}), "
                    f"{_describe_modes(modes)}"
                )
            transport = ReplayTransport(run.har_path, clock)
            processors = [
                Processor(
                    account,
                    processor_settings,
                    clock=clock,
                    work=simulated_work(
                        options.service_time,
                        seed=options.seed * 1000 + run.index * 10 + i,
                        name=f"processor-{i + 1}",
                    ),
                    name=f"processor-{i + 1}",
                )
                for i in range(options.processors)
            ]
            stop = asyncio.Event()
            tasks = [asyncio.create_task(p.run(stop)) for p in processors]
            try:
                async with httpx.AsyncClient(transport=transport) as client:
                    # A full garbage collection of the loaded HAR and the SDK's objects would
                    # otherwise fall inside the run, and at speed S count S times over.
                    gc.collect()
                    gc.freeze()
                    try:
                        metrics = await collect_run(
                            RunInputs(
                                sources=sources,
                                client=client,
                                queue=queue,
                                store=collected,
                                history=history,
                                clock=clock,
                                started_at=run.started_at,
                                options=collector,
                            )
                        )
                    finally:
                        gc.unfreeze()
                if processors:
                    await _drain(queue, options.drain_timeout_wall_s, tasks)
            finally:
                stop.set()
                done = await asyncio.gather(*tasks, return_exceptions=True)
            for outcome in done:
                if isinstance(outcome, BaseException):
                    raise outcome
            metrics.first_item_limit_seconds = limits[run.index][0]
            document = run_document(run.index, metrics, processors, limits[run.index][1])
            document["modes"] = modes
            runs.append(document)
            if progress:
                first = metrics.time_to_first_item_queued_seconds
                progress(
                    f"{label}: run {run.index + 1} queued {metrics.items_queued} items, "
                    f"first at {_fmt(first)} s (limit {_fmt(limits[run.index][0])} s)"
                )
        end_state = {
            "queue_depth_at_end": await queue.approximate_count(),
            "poison_queue_depth_at_end": await account.queue(
                names.poison_queue
            ).approximate_count(),
            "resources": dataclasses.asdict(names),
            "kept": options.keep,
        }
    finally:
        if not options.keep:
            await _remove(account, names)
    return end_state


async def _remove(account: StorageAccount, names: ModeResources) -> None:
    """Delete the run's queues and containers; when storage is gone, say what is left (an
    error here must not hide the one that ended the replay)."""
    try:
        for q in (names.queue, names.poison_queue):
            await account.delete_queue(q)
        for c in (names.collected, names.processed):
            await account.delete_container(c)
    except StorageError as exc:
        log.warning(
            "resources_left run=%s error=%s: `workbench storage clean` removes them later",
            names.queue,
            exc,
        )


def _describe_modes(modes: Mapping[str, str]) -> str:
    counts = Counter(modes.values())
    if len(counts) == 1:
        return f"every source {next(iter(counts))}"
    streaming = [name for name, mode in modes.items() if mode == "streaming"]
    return f"{len(streaming)} of {len(modes)} sources streaming ({', '.join(streaming)})"


async def _drain(queue: Any, timeout_wall_s: float, tasks: Sequence[asyncio.Task[Any]]) -> None:
    """Wait until the queue holds nothing, visible or in flight (polling, with a deadline)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_wall_s
    while loop.time() < deadline:
        for task in tasks:
            if task.done() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]
        if await queue.approximate_count() == 0:
            return
        await asyncio.sleep(0.05)
    raise WorkbenchError(
        f"the processors did not drain queue {queue.name!r} within {timeout_wall_s:g} s"
    )


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def run_replay(
    recording: Path,
    modes: tuple[str, ...],
    options: ReplayOptions,
    progress: ProgressFn | None = None,
) -> dict[str, Any]:
    """``replay_recording`` against the configured storage (``workbench.connection``): the
    environment's account, the background Azurite, or an Azurite of its own for this call. A
    bad recording folder is reported before any storage is touched."""
    Recording.open(recording)
    with storage_connection() as (conn, where):
        if progress:
            progress(f"storage: {where}")

        async def go() -> dict[str, Any]:
            async with StorageAccount(conn) as account:
                return await replay_recording(
                    recording, account=account, modes=modes, options=options, progress=progress
                )

        return interrupt.run(go())  # a notebook's replay, in a worker thread, stops too

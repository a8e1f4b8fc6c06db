"""Sweeps over scaler (and pod) settings, on local processes or any executor (a Dask cluster),
with a progress bar on stderr."""

from __future__ import annotations

import dataclasses
import itertools
import multiprocessing
import os
import sys
from collections.abc import Mapping, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, as_completed
from typing import Any

import pandas as pd
from tqdm import tqdm

from sim._results import METRICS, summary_of
from sim._scaler import ScalerSpec
from sim._scenario import PodSpec, Scenario
from sim._stats import aggregate

_SCALER_FIELDS = {f.name for f in dataclasses.fields(ScalerSpec)}
_POD_FIELDS = {f.name for f in dataclasses.fields(PodSpec)}
_SCENARIO_FIELDS = {"until_s", "price_per_replica_hour", "arrivals"}
# fork is fast and needs no __main__ guard; Python 3.12+ warns about fork with threads.
_START_METHOD = "fork" if sys.platform == "linux" and sys.version_info < (3, 12) else "forkserver"


def with_setting(scenario: Scenario, key: str, value: Any) -> Scenario:
    """``scenario`` with one setting changed: a ScalerSpec field (``queue_length``), a PodSpec field
    (``pods.receive_batch_size`` or bare), or ``until_s`` / ``price_per_replica_hour`` / ``arrivals``."""
    name = key.removeprefix("scaler.").removeprefix("pods.")
    if key.startswith("pods.") or (name in _POD_FIELDS and name not in _SCALER_FIELDS):
        if name not in _POD_FIELDS:
            raise ValueError(f"unknown pod setting {key!r}")
        return dataclasses.replace(
            scenario, pods=dataclasses.replace(scenario.pods, **{name: value})
        )
    if name in _SCALER_FIELDS:
        if not isinstance(scenario.scaler, ScalerSpec):
            raise ValueError(f"cannot sweep {key!r}: the scenario has scaling off")
        changes: dict[str, Any] = {name: value}
        if name == "platform" and value == "container-apps":
            changes["behavior"] = None
        return dataclasses.replace(scenario, scaler=dataclasses.replace(scenario.scaler, **changes))
    if name in _SCENARIO_FIELDS:
        return dataclasses.replace(scenario, **{name: value})
    known = sorted(_SCALER_FIELDS | _POD_FIELDS | _SCENARIO_FIELDS)
    raise ValueError(f"unknown setting {key!r}; known: {', '.join(known)}")


def sweep(
    scenario: Scenario,
    grid: Mapping[str, Sequence[Any]] | Sequence[Mapping[str, Any]],
    seeds: int | Sequence[int] = 5,
    *,
    jobs: int | None = None,
    progress: bool = True,
    executor: Executor | None = None,
) -> pd.DataFrame:
    """Every combination of ``grid`` x seeds; one row per combination with metric means and 95 % CIs.
    ``grid`` maps each setting to its values (every combination runs), or is a list of settings
    dicts (exactly those run, in that order).

    Columns: the grid keys, ``seeds``, then ``<metric>`` (mean) and ``<metric>_ci_low/_ci_high``.
    Runs go to ``executor`` when given (any ``concurrent.futures.Executor``, for example a Dask
    cluster's ``distributed.Client(address).get_executor()``; ``jobs`` is then its worker count,
    used to size the chunks); else to ``jobs`` local processes (default all cores; 1 runs in this
    process). The table is the same whichever runs it: each run depends only on its scenario and
    seed. The progress bar (stderr) counts finished runs.
    """
    seed_list = list(range(seeds)) if isinstance(seeds, int) else [int(s) for s in seeds]
    if not seed_list:
        raise ValueError("need at least one seed")
    combos = _combinations(grid)
    scenarios = []
    for combo in combos:
        s = scenario
        for key, value in combo.items():
            s = with_setting(s, key, value)
        # Only summaries are kept: no timeline, which is most of a long run's events.
        scenarios.append(dataclasses.replace(s, timeline_interval_s=None))
    tasks = [(s, seed) for s in scenarios for seed in seed_list]
    results = run_summaries(tasks, jobs=jobs, progress=progress, executor=executor)
    rows = []
    n = len(seed_list)
    for i, combo in enumerate(combos):
        agg = aggregate(results[i * n : (i + 1) * n])
        row: dict[str, Any] = {k: _plain(v) for k, v in combo.items()}
        row["seeds"] = n
        for metric, values in agg.iterrows():
            row[str(metric)] = values["mean"]
            row[f"{metric}_ci_low"] = values["ci_low"]
            row[f"{metric}_ci_high"] = values["ci_high"]
        rows.append(row)
    return pd.DataFrame(rows)


def _combinations(
    grid: Mapping[str, Sequence[Any]] | Sequence[Mapping[str, Any]],
) -> list[dict[str, Any]]:
    keys = list(grid) if isinstance(grid, Mapping) else list(grid[0]) if grid else []
    for key in keys:
        if key in METRICS:
            # The table has a column per metric; a setting of the same name would be overwritten.
            raise ValueError(f"setting {key!r} has the name of a metric column; write scaler.{key}")
    if not isinstance(grid, Mapping):
        combos = [dict(settings) for settings in grid]
        if not combos or any(set(c) != set(combos[0]) for c in combos):
            raise ValueError("a list of sweep settings must be non-empty, all with the same keys")
        return combos
    keys = list(grid)
    for key in keys:
        if isinstance(grid[key], str | bytes) or len(grid[key]) == 0:
            raise ValueError(f"sweep values for {key!r} must be a non-empty list")
    return [
        dict(zip(keys, combo, strict=True)) for combo in itertools.product(*(grid[k] for k in keys))
    ]


def run_summaries(
    tasks: Sequence[tuple[Scenario, int]],
    *,
    jobs: int | None = None,
    progress: bool = True,
    executor: Executor | None = None,
    desc: str = "sweep",
) -> list[dict[str, float]]:
    """``run(scenario, seed).summary()`` for every task, in order, in chunks on ``executor`` or
    on ``jobs`` local processes; a progress bar on stderr counts finished runs."""
    workers = jobs or (os.cpu_count() or 1)
    bar = tqdm(total=len(tasks), file=sys.stderr, disable=not progress, desc=desc, unit="run")
    try:
        if executor is None and (workers <= 1 or len(tasks) <= 1):
            results = []
            for task in tasks:
                results.append(summary_of(task))
                bar.update()
            return results
        size = max(1, len(tasks) // (workers * 8))
        chunks = [list(tasks[i : i + size]) for i in range(0, len(tasks), size)]
        if executor is not None:
            return _gather(executor, chunks, bar)
        context = multiprocessing.get_context(_START_METHOD)
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            return _gather(pool, chunks, bar)
    finally:
        bar.close()


def _gather(executor: Executor, chunks: list[list[tuple[Scenario, int]]], bar: Any) -> list:
    futures = {executor.submit(_summaries_of, chunk): i for i, chunk in enumerate(chunks)}
    done: dict[int, list[dict[str, float]]] = {}
    try:
        for future in as_completed(futures):
            i = futures[future]
            done[i] = future.result()
            bar.update(len(chunks[i]))
    except BaseException:
        for future in futures:
            future.cancel()
        raise
    return [summary for i in range(len(chunks)) for summary in done[i]]


def _summaries_of(chunk: list[tuple[Scenario, int]]) -> list[dict[str, float]]:
    return [summary_of(task) for task in chunk]


def _plain(value: Any) -> Any:
    return value if isinstance(value, int | float | str | bool) or value is None else str(value)

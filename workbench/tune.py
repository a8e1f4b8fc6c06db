"""Tuning the scaler: a sweep of ScaledObject settings on given arrivals, with random loop phases
and seeds, read as a Pareto front of p95 latency against replica-seconds (docs/simulation.md,
"Tuning").

``tune(scenario)`` returns a :class:`TuningResult`: the table (one row per setting, metric means
with 95 % intervals, and the columns ``complete``, ``pareto``, ``pareto_first_item``, ``shipped``
and ``recommended``), the shipped setting's position, and the recommended row chosen by
:data:`RULE`. Notebooks call these functions; ``workbench tune`` writes the same table.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Mapping, Sequence
from concurrent.futures import Executor
from typing import Any

import numpy as np
import pandas as pd

from sim import ScalerSpec, Scenario, sweep

# The tuned settings, by their ScaledObject names, and the ScalerSpec field each sets.
TUNED: dict[str, str] = {
    "queueLength": "queue_length",
    "activationQueueLength": "activation_queue_length",
    "pollingInterval": "polling_interval_s",
    "cooldownPeriod": "cooldown_period_s",
    "maxReplicaCount": "max_replicas",
}
# Around the shipped object (queueLength 8, activation 1, polling 30, cooldown 300, max 6).
DEFAULT_GRID: dict[str, list[int]] = {
    "queueLength": [4, 8, 16],
    "activationQueueLength": [0, 1, 5],
    "pollingInterval": [10, 30, 60],
    "cooldownPeriod": [60, 300],
    "maxReplicaCount": [3, 6, 10],
}
LATENCY = "latency_p95_s"
COST = "replica_seconds"
FIRST_ITEM = "time_to_first_item_processed_s"
DEFAULT_LATENCY_SLACK = 0.10
RULE = (
    "Recommended: among the settings on the Pareto front of mean p95 latency against mean "
    "replica-seconds (only settings whose runs finished every item), those whose p95 latency is "
    "within {slack:.0%} of the front's lowest; of these, the one with the fewest replica-seconds "
    "(ties: the earlier first item processed, then the smaller p95)."
)


@dataclasses.dataclass
class TuningResult:
    """The tuning table and what it says about the shipped and the recommended setting."""

    table: pd.DataFrame
    latency_slack: float

    @property
    def rule(self) -> str:
        return RULE.format(slack=self.latency_slack)

    @property
    def shipped(self) -> pd.Series:
        return self.table[self.table["shipped"]].iloc[0]

    @property
    def recommended(self) -> pd.Series | None:
        rows = self.table[self.table["recommended"]]
        return None if rows.empty else rows.iloc[0]

    def shipped_position(self) -> dict[str, Any]:
        """Where the shipped setting stands: on the front or not, how many settings beat it on
        both p95 latency and replica-seconds, and its rank (1 = best) on each."""
        table, row = self.table, self.shipped
        dominating = table[_dominates(table, row, (LATENCY, COST))]
        best = dominating.sort_values([COST, LATENCY]).head(1)
        return {
            "setting": setting_of(row),
            "on_pareto_front": bool(row["pareto"]),
            "complete": bool(row["complete"]),
            "dominated_by": len(dominating),
            "cheapest_dominating": None if best.empty else setting_of(best.iloc[0]),
            "latency_p95_rank": int((table[LATENCY] < row[LATENCY]).sum()) + 1,
            "replica_seconds_rank": int((table[COST] < row[COST]).sum()) + 1,
            "settings": len(table),
        }

    def describe(self) -> str:
        """Two lines for a terminal: the shipped setting's position and the recommendation."""
        pos = self.shipped_position()
        shipped = _fmt_setting(pos["setting"])
        if pos["on_pareto_front"]:
            where = "on the Pareto front"
        else:
            better = pos["cheapest_dominating"]
            where = f"dominated by {pos['dominated_by']} setting(s)" + (
                f", e.g. {_fmt_setting(better)}" if better else ""
            )
        lines = [
            f"shipped {shipped}: {where}; p95 {_fmt(self.shipped[LATENCY])} s, "
            f"{_fmt(self.shipped[COST])} replica-s (rank {pos['latency_p95_rank']} of "
            f"{pos['settings']} on p95, {pos['replica_seconds_rank']} on replica-seconds)"
        ]
        rec = self.recommended
        if rec is None:
            lines.append("recommended: none (no setting finished every item)")
        else:
            lines.append(
                f"recommended {_fmt_setting(setting_of(rec))}: p95 {_fmt(rec[LATENCY])} s, "
                f"{_fmt(rec[COST])} replica-s, first item {_fmt(rec[FIRST_ITEM])} s"
            )
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        rec = self.recommended
        return {
            "rule": self.rule,
            "latency_slack": self.latency_slack,
            "shipped_position": self.shipped_position(),
            "shipped": _record(self.shipped),
            "recommended": None if rec is None else _record(rec),
            "rows": [_record(row) for _, row in self.table.iterrows()],
        }


def tune(
    scenario: Scenario,
    grid: Mapping[str, Sequence[float]] | None = None,
    seeds: int | Sequence[int] = 10,
    *,
    jobs: int | None = None,
    executor: Executor | None = None,
    progress: bool = True,
    latency_slack: float = DEFAULT_LATENCY_SLACK,
) -> TuningResult:
    """Sweep ``grid`` (ScaledObject names -> values; default :data:`DEFAULT_GRID`) around
    ``scenario``'s scaler, which is the shipped setting (added to the table if the grid misses
    it). KEDA's poll and the HPA's sync get phases uniform over their periods, drawn per seed."""
    if not isinstance(scenario.scaler, ScalerSpec):
        raise ValueError("tuning needs a ScaledObject scaler, not fixed replicas")
    if not (latency_slack >= 0 and math.isfinite(latency_slack)):
        raise ValueError(f"latency slack must be a finite number >= 0, got {latency_slack!r}")
    grid = dict(DEFAULT_GRID if grid is None else grid)
    unknown = [k for k in grid if k not in TUNED]
    if unknown or not grid:
        raise ValueError(
            f"tuning settings must be among {', '.join(TUNED)}; got {', '.join(unknown) or 'none'}"
        )
    scaler = dataclasses.replace(scenario.scaler, keda_poll_phase_s=None, hpa_sync_phase_s=None)
    scenario = dataclasses.replace(scenario, scaler=scaler)
    keys = list(grid)
    for key in keys:
        if isinstance(grid[key], str | bytes) or len(grid[key]) == 0:
            raise ValueError(f"tuning values for {key} must be a non-empty list")
    shipped = {key: _plain(getattr(scaler, TUNED[key])) for key in keys}
    combos = [dict(zip(keys, c, strict=True)) for c in itertools.product(*grid.values())]
    if shipped not in combos:
        combos.append(shipped)
    table = sweep(
        scenario,
        [{f"scaler.{TUNED[k]}": v for k, v in combo.items()} for combo in combos],
        seeds,
        jobs=jobs,
        executor=executor,
        progress=progress,
    )
    table = table.rename(columns={f"scaler.{field}": name for name, field in TUNED.items()})
    return TuningResult(mark(table, shipped, latency_slack), latency_slack)


def mark(table: pd.DataFrame, shipped: Mapping[str, Any], latency_slack: float) -> pd.DataFrame:
    """``table`` with ``complete``, ``pareto``, ``pareto_first_item``, ``shipped`` and
    ``recommended`` columns (see :data:`RULE`)."""
    table = table.copy()
    table["complete"] = table["unfinished"].fillna(math.inf) == 0
    # A setting that leaves items unfinished has its p95 over the finished ones only: it is
    # neither on the front nor allowed to push complete settings off it.
    complete = table[table["complete"]]
    for column, objectives in (
        ("pareto", (LATENCY, COST)),
        ("pareto_first_item", (LATENCY, COST, FIRST_ITEM)),
    ):
        table[column] = pareto_front(complete, objectives).reindex(table.index, fill_value=False)
    is_shipped = np.ones(len(table), dtype=bool)
    for key, value in shipped.items():
        is_shipped &= table[key].to_numpy() == value
    table["shipped"] = is_shipped
    table["recommended"] = False
    front = table[table["pareto"]]
    if not front.empty:
        limit = front[LATENCY].min() * (1 + latency_slack)
        near = front[front[LATENCY] <= limit]
        choice = near.sort_values([COST, FIRST_ITEM, LATENCY], kind="stable").index[0]
        table.loc[choice, "recommended"] = True
    return table


def pareto_front(table: pd.DataFrame, objectives: Sequence[str]) -> pd.Series:
    """True for the rows no other row beats: at most as large in every objective (all minimised)
    and smaller in one. Rows with a missing value are not on the front."""
    values = table[list(objectives)].to_numpy(dtype=float)
    finite = np.isfinite(values).all(axis=1)
    on_front = finite.copy()
    for i in np.flatnonzero(finite):
        others = values[finite]
        beaten = (others <= values[i]).all(axis=1) & (others < values[i]).any(axis=1)
        on_front[i] = not beaten.any()
    return pd.Series(on_front, index=table.index)


def heatmap(
    table: pd.DataFrame,
    value: str = LATENCY,
    index: str = "queueLength",
    columns: str = "pollingInterval",
) -> pd.DataFrame:
    """``value`` over ``index`` x ``columns`` with the other tuned settings at their shipped
    values (from the row marked ``shipped``); where the grid has no such row, the mean over them."""
    shipped = table[table["shipped"]].iloc[0]
    rows = table
    for key in TUNED:
        if key in table and key not in (index, columns):
            rows = rows[rows[key] == shipped[key]]
    if (
        rows[[index, columns]].drop_duplicates().shape[0]
        < (table[[index, columns]].drop_duplicates().shape[0])
    ):
        rows = table
    return rows.pivot_table(index=index, columns=columns, values=value, aggfunc="mean")


def setting_of(row: pd.Series) -> dict[str, Any]:
    """The tuned settings of a table row."""
    return {key: _plain(row[key]) for key in TUNED if key in row.index}


def _dominates(table: pd.DataFrame, row: pd.Series, objectives: Sequence[str]) -> pd.Series:
    values = table[list(objectives)].to_numpy(dtype=float)
    target = row[list(objectives)].to_numpy(dtype=float)
    beats = (values <= target).all(axis=1) & (values < target).any(axis=1)
    return pd.Series(beats, index=table.index) & table["complete"]


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _record(row: pd.Series) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in row.items():
        value = _plain(value)
        out[str(key)] = None if isinstance(value, float) and not math.isfinite(value) else value
    return out


def _fmt(value: float) -> str:
    return "-" if not math.isfinite(value) else f"{value:.0f}" if value >= 100 else f"{value:.1f}"


def _fmt_setting(setting: Mapping[str, Any] | None) -> str:
    return "" if not setting else ", ".join(f"{k} {v}" for k, v in setting.items())

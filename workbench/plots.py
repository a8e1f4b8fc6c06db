"""The report's figures (matplotlib, object API: nothing is shown until asked).

Each function takes result documents (the JSON the notebooks write) and a title that states the
finding, and returns a ``matplotlib.figure.Figure``; ``png`` turns one into bytes. Batch and
streaming have one colour each in every figure (``MODE_COLOURS``); times are recording seconds.
"""

from __future__ import annotations

import io
import math
import textwrap
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

MODES = ("batch", "streaming")
# Okabe-Ito colours (safe for colour-blind readers); the same for a mode in every figure.
MODE_COLOURS = {"batch": "#0072B2", "streaming": "#D55E00"}
# Batch is drawn wider and first, so where the modes coincide both stay visible.
MODE_LINEWIDTHS = {"batch": 3.4, "streaming": 1.7}
SOURCE_TYPE_COLOURS = {"reddit": "#009E73", "rss": "#6E6E6E", "mastodon": "#CC79A7"}
PANEL_WIDTH_IN = 4.2
ROW_HEIGHT_IN = 3.2
MAX_PANELS_PER_ROW = 3
RUN_AXIS = "time since the run started (s)"


def png(fig: Figure, dpi: int = 100) -> bytes:
    """The figure as PNG bytes."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def _title(fig: Figure, title: str) -> None:
    """The finding as the figure's title, wrapped to the figure's width."""
    chars = int(fig.get_figwidth() * 10.5)
    fig.suptitle(textwrap.fill(title, chars), fontsize=12.5, fontweight="bold", x=0.01, ha="left")


def _figure(
    title: str,
    panels: int,
    rows_per_panel: int = 1,
    height: float = ROW_HEIGHT_IN,
    sharey: bool | str = False,
) -> tuple[Figure, np.ndarray]:
    """A figure with one column per panel (wrapping after MAX_PANELS_PER_ROW) and the title."""
    cols = max(1, min(panels, MAX_PANELS_PER_ROW))
    grid_rows = math.ceil(max(panels, 1) / cols) * rows_per_panel
    width = max(PANEL_WIDTH_IN * cols, 9.0)
    fig = Figure(figsize=(width, height * grid_rows + 1.2), layout="constrained")
    axes = fig.subplots(grid_rows, cols, squeeze=False, sharey=sharey)
    _title(fig, title)
    return fig, axes


def _hide_unused(axes: np.ndarray, used: int, rows_per_panel: int = 1) -> None:
    cols = axes.shape[1]
    for k in range(used, axes.shape[0] // rows_per_panel * cols):
        for r in range(rows_per_panel):
            axes[(k // cols) * rows_per_panel + r, k % cols].set_visible(False)


def _run_label(run: dict[str, Any]) -> str:
    started = str(run.get("started_at", ""))
    clock = started[11:16] if len(started) >= 16 else started
    return f"run {run.get('run', run.get('index', '?'))}" + (f" ({clock} UTC)" if clock else "")


def _legend(fig: Figure, *axes: Axes) -> None:
    """One legend for the figure, below the panels (never over the data)."""
    seen: dict[str, Any] = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            seen.setdefault(label, handle)
    if seen:
        fig.legend(list(seen.values()), list(seen), loc="outside lower center",
                   ncols=min(len(seen), 4), fontsize=9.5, frameon=False)  # fmt: skip


def _mode_line(mode: str) -> dict[str, Any]:
    return {"color": MODE_COLOURS[mode], "lw": MODE_LINEWIDTHS[mode], "label": mode}


def _run_panels(
    replay: dict[str, Any],
    title: str,
    ylabel: str,
    draw: Callable[[Axes, str, dict[str, Any], int], None],
) -> Figure:
    """One panel per run (time since the run started), each mode drawn by ``draw(ax, mode,
    run, index)``; y shared across panels so that runs compare."""
    runs_by_mode = {m: replay["modes"][m]["runs"] for m in MODES if m in replay["modes"]}
    count = max(len(r) for r in runs_by_mode.values())
    fig, axes = _figure(title, count, sharey=True)
    for i in range(count):
        ax = axes[i // axes.shape[1], i % axes.shape[1]]
        for mode, runs in runs_by_mode.items():
            if i < len(runs):
                draw(ax, mode, runs[i], i)
                ax.set_title(_run_label(runs[i]), fontsize=10)
        ax.set_xlabel(RUN_AXIS)
        if i % axes.shape[1] == 0:
            ax.set_ylabel(ylabel)
        ax.set_xlim(left=0)
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
    _legend(fig, axes[0, 0])
    _hide_unused(axes, count)
    return fig


def items_queued_over_time(replay: dict[str, Any], title: str) -> Figure:
    """Cumulative items queued against time since the run started, one panel per run; dotted:
    the run's first-item limit."""

    def draw(ax: Axes, mode: str, run: dict[str, Any], _: int) -> None:
        times = sorted(m["enqueued_at"] for m in run["messages"])
        ax.step([0.0, *times], range(len(times) + 1), where="post", **_mode_line(mode))
        limit = run.get("first_item_limit_seconds")
        if limit is not None and mode == MODES[-1]:
            ax.axvline(limit, color="black", ls=":", lw=1, label="first-item limit")

    return _run_panels(replay, title, "items queued (cumulative)", draw)


def enqueue_rate(replay: dict[str, Any], title: str, bin_s: float = 2.0) -> Figure:
    """Items queued per second in ``bin_s`` bins against time since the run started."""
    ends = [
        max((m["enqueued_at"] for mode in MODES if mode in replay["modes"]
             for m in replay["modes"][mode]["runs"][i]["messages"]), default=bin_s)
        for i in range(max(len(d["runs"]) for d in replay["modes"].values()))
    ]  # fmt: skip

    def draw(ax: Axes, mode: str, run: dict[str, Any], i: int) -> None:
        edges = np.arange(0.0, ends[i] + 2 * bin_s, bin_s)
        counts, _ = np.histogram([m["enqueued_at"] for m in run["messages"]], bins=edges)
        ax.stairs(counts / bin_s, edges, **_mode_line(mode))

    return _run_panels(replay, title, f"items queued per second ({bin_s:g} s bins)", draw)


def per_source_throughput(replay: dict[str, Any], title: str) -> Figure:
    """Mean items/s per source (over runs), both modes side by side."""
    names: list[str] = []
    for mode in MODES:
        for run in replay["modes"].get(mode, {}).get("runs", []):
            names += [n for n in run.get("per_source", {}) if n not in names]
    fig = Figure(figsize=(10, 0.42 * len(names) + 2.0), layout="constrained")
    ax = fig.subplots()
    _title(fig, title)
    y = np.arange(len(names))
    height = 0.38
    for k, mode in enumerate(MODES):
        runs = replay["modes"].get(mode, {}).get("runs", [])
        means = []
        for name in names:
            values = [r["per_source"][name].get("throughput_items_per_second") or 0.0
                      for r in runs if name in r.get("per_source", {})]  # fmt: skip
            means.append(float(np.mean(values)) if values else 0.0)
        ax.barh(y + (k - 0.5) * height, means, height, color=MODE_COLOURS[mode], label=mode)
    ax.set_yticks(y, names)
    ax.set_ylabel("source")
    ax.invert_yaxis()
    ax.set_xlabel("throughput, items queued per second of the run (mean of runs)")
    ax.grid(axis="x", alpha=0.3)
    _legend(fig, ax)
    return fig


def latency_distribution(replay: dict[str, Any], title: str) -> Figure:
    """Share of items processed within a given end-to-end latency (queued -> processed), all
    runs, per mode; dashed: the replay's p95 (mean of the runs' p95)."""
    fig = Figure(figsize=(10, 4.6), layout="constrained")
    ax = fig.subplots()
    _title(fig, title)
    for mode in MODES:
        latencies = sorted(
            m["processed_at"] - m["enqueued_at"]
            for run in replay["modes"].get(mode, {}).get("runs", [])
            for m in run["messages"]
            if m.get("processed_at") is not None
        )
        if not latencies:
            continue
        share = np.arange(1, len(latencies) + 1) / len(latencies)
        ax.step(latencies, share, where="post", **_mode_line(mode))
        p95 = replay["modes"][mode]["total"].get("processing", {}).get("latency_p95_seconds")
        if p95 is not None:
            ax.axvline(p95, color=MODE_COLOURS[mode], ls="--", lw=1.2,
                       label=f"{mode}: p95, mean of runs")  # fmt: skip
    ax.set_xlabel("end-to-end latency, queued to processed (s)")
    ax.set_ylabel("share of items processed")
    ax.set_ylim(0, 1.02)
    ax.set_xlim(left=0)
    ax.grid(alpha=0.3)
    _legend(fig, ax)
    return fig


def source_timelines(explore: dict[str, Any], title: str) -> Figure:
    """When each source's items become available within a run (all sources started at 0):
    one dot per item, one row per source, one panel per run."""
    runs = explore["runs"]
    names = list(explore["sources"])
    panel_height = max(ROW_HEIGHT_IN, 0.32 * len(names) + 1.2)
    fig, axes = _figure(title, len(runs), height=panel_height)
    for i, run in enumerate(runs):
        ax = axes[i // axes.shape[1], i % axes.shape[1]]
        seen_types: set[str] = set()
        for row, name in enumerate(names):
            kind = explore["sources"][name]
            times = run["accepted_at"].get(name, [])
            label = kind if kind not in seen_types else None
            seen_types.add(kind)
            ax.scatter(times, [row] * len(times), s=14, color=SOURCE_TYPE_COLOURS.get(kind, "k"),
                       alpha=0.7, label=label)  # fmt: skip
        limit = run.get("first_item_limit_seconds")
        if limit is not None:
            ax.axvline(limit, color="black", ls=":", lw=1, label="first-item limit")
        ax.set_yticks(range(len(names)), names if i % axes.shape[1] == 0 else [""] * len(names))
        ax.invert_yaxis()
        ax.set_title(_run_label(run), fontsize=10)
        ax.set_xlabel(RUN_AXIS)
        ax.set_xlim(left=0)
        ax.grid(axis="x", alpha=0.3)
    _legend(fig, axes[0, 0])
    _hide_unused(axes, len(runs))
    return fig


def _timeline(sim: dict[str, Any], mode: str) -> dict[str, np.ndarray]:
    doc = sim["timeline"][mode]
    rows = np.array(doc["rows"], dtype=float)
    return {c: rows[:, k] for k, c in enumerate(doc["columns"])}


def _window_ends(sim: dict[str, Any], offsets: Sequence[float]) -> list[float]:
    """Per run: the time (since the run started) when both modes are idle again at 0 replicas."""
    ends = []
    for i, start in enumerate(offsets):
        stop = offsets[i + 1] if i + 1 < len(offsets) else math.inf
        last = 0.0
        for mode in MODES:
            if mode not in sim.get("timeline", {}):
                continue
            tl = _timeline(sim, mode)
            busy = (tl["replicas"] > 0) | (tl["visible"] + tl["in_flight"] > 0)
            inside = (tl["t"] >= start) & (tl["t"] < stop) & busy
            if inside.any():
                last = max(last, float(tl["t"][inside].max()) - start)
        ends.append(last * 1.05 + 30.0)
    return ends


def queue_and_replicas(sim: dict[str, Any], offsets: Sequence[float], title: str) -> Figure:
    """Simulated queue depth (visible and in flight) and replicas (all and ready) against time
    since each run started; one column per run, both modes."""
    count = len(offsets)
    fig, axes = _figure(title, count, rows_per_panel=2, height=2.6, sharey="row")
    ends = _window_ends(sim, offsets)
    cols = axes.shape[1]
    for i, start in enumerate(offsets):
        top = axes[(i // cols) * 2, i % cols]
        bottom = axes[(i // cols) * 2 + 1, i % cols]
        for mode in MODES:
            if mode not in sim.get("timeline", {}):
                continue
            tl = _timeline(sim, mode)
            t = tl["t"] - start
            colour = MODE_COLOURS[mode]
            width = MODE_LINEWIDTHS[mode]
            top.step(t, tl["visible"] + tl["in_flight"], where="post", color=colour, lw=width,
                     label=f"{mode}: in queue (visible + in flight)")  # fmt: skip
            top.step(t, tl["in_flight"], where="post", color=colour, lw=width / 2, ls=":",
                     label=f"{mode}: in flight")  # fmt: skip
            bottom.step(t, tl["replicas"], where="post", color=colour, lw=width,
                        label=f"{mode}: replicas")  # fmt: skip
            bottom.step(t, tl["ready_replicas"], where="post", color=colour, lw=width / 2,
                        ls="--", label=f"{mode}: ready replicas")  # fmt: skip
        top.set_title(f"run {i}", fontsize=10)
        for ax in (top, bottom):
            ax.set_xlim(0, ends[i])
            ax.set_ylim(bottom=0)
            ax.grid(alpha=0.3)
        if i % cols == 0:
            top.set_ylabel("messages in queue")
            bottom.set_ylabel("replicas")
        bottom.set_xlabel(RUN_AXIS)
    _legend(fig, axes[0, 0], axes[1, 0])
    _hide_unused(axes, count, rows_per_panel=2)
    return fig


def seed_distributions(
    sim: dict[str, Any], metrics: Sequence[tuple[str, str]], title: str
) -> Figure:
    """Each seed's value of each metric (dots) with the mean and its 95 % interval (bar), per
    mode; ``metrics`` are (metric key, axis label with unit)."""
    fig = Figure(figsize=(10, 4.4), layout="constrained")
    axes = fig.subplots(1, len(metrics), squeeze=False)[0]
    _title(fig, title)
    rng = np.random.default_rng(0)  # jitter only
    for ax, (metric, label) in zip(axes, metrics, strict=True):
        for k, mode in enumerate(MODES):
            values = [r[metric] for r in sim.get("per_seed", {}).get(mode, [])
                      if r.get(metric) is not None]  # fmt: skip
            if not values:
                continue
            x = k + rng.uniform(-0.12, 0.12, len(values))
            ax.scatter(
                x, values, s=22, color=MODE_COLOURS[mode], alpha=0.6, label=f"{mode}, per seed"
            )
            stats = sim["modes"][mode].get(metric, {})
            mean, low, high = stats.get("mean"), stats.get("ci_low"), stats.get("ci_high")
            if mean is not None:
                err = [[mean - (low if low is not None else mean)],
                       [(high if high is not None else mean) - mean]]  # fmt: skip
                ax.errorbar(k + 0.3, mean, yerr=err, fmt="D", color=MODE_COLOURS[mode],
                            capsize=5, lw=2, label=f"{mode}, mean and 95 % interval")  # fmt: skip
        ax.set_xticks(range(len(MODES)), MODES)
        ax.set_xlim(-0.5, len(MODES) - 0.3)
        ax.set_ylabel(label)
        ax.grid(axis="y", alpha=0.3)
    _legend(fig, *axes)
    return fig


def rate_limit_sweep(sweeps: dict[str, dict[str, Any]], chosen: float | None, title: str) -> Figure:
    """Per recording, against the send limit: the replayed 10 s peak enqueue rate (batch's as a
    dashed line) and the simulated p95 latency with its 95 % interval; the chosen limit marked."""
    fig = Figure(figsize=(10, 4.4), layout="constrained")
    ax_peak, ax_p95 = fig.subplots(1, 2)
    _title(fig, title)
    markers = ["o", "s", "^", "D"]
    for i, (rec, sweep) in enumerate(sweeps.items()):
        rows = sweep["rows"]
        labels = [r["rate"] for r in rows]
        x = np.arange(len(rows))
        colour = f"C{i}"
        ax_peak.plot(x, [r["peak_enqueue_rate_10s"] for r in rows], marker=markers[i % 4],
                     color=colour, label=f"{rec}, streaming")  # fmt: skip
        ax_peak.axhline(sweep["batch"]["peak_enqueue_rate_10s"], color=colour, ls="--", lw=1,
                        label=f"{rec}, batch")  # fmt: skip
        p95 = [r["simulated"]["latency_p95_s"] for r in rows]
        mean = np.array([p["mean"] for p in p95], dtype=float)
        low = np.array([p["ci_low"] if p["ci_low"] is not None else p["mean"] for p in p95])
        high = np.array([p["ci_high"] if p["ci_high"] is not None else p["mean"] for p in p95])
        ax_p95.errorbar(x + 0.05 * i, mean, yerr=[mean - low, high - mean], marker=markers[i % 4],
                        color=colour, capsize=4, label=rec)  # fmt: skip
        for ax in (ax_peak, ax_p95):
            ax.set_xticks(x, labels)
        if chosen in [r["rate_limit_items_per_s"] for r in rows]:
            k = [r["rate_limit_items_per_s"] for r in rows].index(chosen)
            for ax in (ax_peak, ax_p95):
                ax.axvline(k, color="0.6", lw=6, alpha=0.25)
    ax_peak.set_xlabel("streaming send limit (items/s)")
    ax_peak.set_ylabel("peak enqueue rate over 10 s (items/s)")
    ax_p95.set_xlabel("streaming send limit (items/s)")
    ax_p95.set_ylabel("simulated end-to-end latency p95 (s)")
    for ax in (ax_peak, ax_p95):
        ax.grid(axis="y", alpha=0.3)
    _legend(fig, ax_peak, ax_p95)
    return fig

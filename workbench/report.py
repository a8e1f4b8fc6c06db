"""Tables and the rollout report built from a replay document (``workbench replay --json``)."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

Row = tuple[str, Callable[[dict[str, Any]], float | int | None], str, str]


def _shown_path(path: str) -> str:
    """A path relative to the project when it lies inside it (reports travel)."""
    from workbench.paths import PROJECT_ROOT

    try:
        return str(Path(path).resolve().relative_to(PROJECT_ROOT))
    except ValueError:
        return str(path)


def fmt(value: Any, digits: int = 2) -> str:
    """The one number format used by tables and reports (tests compare with it)."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _get(*path: str) -> Callable[[dict[str, Any]], Any]:
    def read(doc: dict[str, Any]) -> Any:
        value: Any = doc
        for key in path:
            if not isinstance(value, dict) or key not in value:
                return None
            value = value[key]
        return value

    return read


# (label, how to read it from a mode's "total", unit, better: "lower" | "higher" | "")
COMPARISON_ROWS: Sequence[Row] = (
    ("Time to first item queued, mean of runs", _get("time_to_first_item_queued_seconds"), "s", "lower"),
    ("Time to first item queued, worst run", _get("time_to_first_item_queued_seconds_max"), "s", "lower"),
    ("First-item limit from the recording, mean", _get("first_item_limit_seconds"), "s", ""),
    ("Time to last item queued, mean", _get("time_to_last_item_queued_seconds"), "s", "lower"),
    ("Items collected (all runs)", _get("items_collected"), "", ""),
    ("Items queued (all runs)", _get("items_queued"), "", ""),
    ("Duplicates skipped (all runs)", _get("duplicates_skipped"), "", ""),
    ("Deduplication hit rate", _get("deduplication_hit_rate"), "", ""),
    ("Content hashes queued twice", _get("content_hashes_queued_twice"), "", "lower"),
    ("Throughput, mean", _get("throughput_items_per_second"), "items/s", "higher"),
    ("Peak enqueue rate over 10 s, mean", _get("peak_enqueue_rate_10s"), "items/s", "lower"),
    ("Coefficient of variation of gaps, mean", _get("gap_cv"), "", "lower"),
    ("Time to first item processed, mean", _get("processing", "time_to_first_item_processed_seconds"), "s", "lower"),
    ("End-to-end latency p50, mean", _get("processing", "latency_p50_seconds"), "s", "lower"),
    ("End-to-end latency p95, mean", _get("processing", "latency_p95_seconds"), "s", "lower"),
    ("End-to-end latency max, mean", _get("processing", "latency_max_seconds"), "s", "lower"),
    ("Makespan (last item processed), mean", _get("processing", "makespan_seconds"), "s", "lower"),
    ("Items processed", _get("processing", "items_processed"), "", ""),
    ("Redeliveries", _get("processing", "redeliveries"), "", "lower"),
)  # fmt: skip


def improvement(batch: Any, streaming: Any, better: str) -> str:
    """How streaming compares with batch, in words a reader can check against the columns."""
    if better == "" or batch is None or streaming is None:
        return ""
    if batch == streaming:
        return "same"
    if better == "lower":
        if streaming > 0 and batch > streaming:
            return f"{batch / streaming:.1f}x lower"
        if batch > 0 and streaming > batch:
            return f"{streaming / batch:.1f}x higher (worse)"
        return "lower" if streaming < batch else "higher (worse)"
    if batch > 0 and streaming > batch:
        return f"{streaming / batch:.1f}x higher"
    if streaming > 0 and batch > streaming:
        return f"{batch / streaming:.1f}x lower (worse)"
    return "higher" if streaming > batch else "lower (worse)"


def comparison_table(result: dict[str, Any]) -> str:
    modes = result["modes"]
    batch, streaming = (
        modes.get("batch", {}).get("total", {}),
        modes.get("streaming", {}).get("total", {}),
    )
    lines = [
        "| Metric | Batch | Streaming | Streaming vs batch |",
        "| --- | ---: | ---: | --- |",
    ]
    for label, read, unit, better in COMPARISON_ROWS:
        b, s = read(batch), read(streaming)
        if b is None and s is None:
            continue
        name = f"{label} ({unit})" if unit else label
        lines.append(f"| {name} | {fmt(b)} | {fmt(s)} | {improvement(b, s, better)} |")
    return "\n".join(lines)


def per_run_table(result: dict[str, Any]) -> str:
    lines = [
        "| Mode | Run | Started | First item (s) | Limit (s) | First / limit | Last item (s) "
        "| Collected | Queued | Duplicates | Dedup rate | Peak 10 s (items/s) | Latency p95 (s) |",
        "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for mode, doc in result["modes"].items():
        for run in doc["runs"]:
            first, limit = run["time_to_first_item_queued_seconds"], run["first_item_limit_seconds"]
            ratio = first / limit if first is not None and limit else None
            lines.append(
                f"| {mode} | {run['run']} | {run['started_at']} | {fmt(first)} | {fmt(limit)} "
                f"| {fmt(ratio)} | {fmt(run['time_to_last_item_queued_seconds'])} "
                f"| {run['items_collected']} | {run['items_queued']} | {run['duplicates_skipped']} "
                f"| {fmt(run['deduplication_hit_rate'])} | {fmt(run['peak_enqueue_rate_10s'])} "
                f"| {fmt(_get('processing', 'latency_p95_seconds')(run))} |"
            )
    return "\n".join(lines)


def replay_table(result: dict[str, Any]) -> str:
    """What ``workbench replay`` prints: one block per mode."""
    return per_run_table(result) + "\n\n" + comparison_table(result)


def success_criteria(result: dict[str, Any]) -> list[tuple[str, bool | None, str]]:
    """The design's success criteria that a replay measures: (criterion, passed, evidence)."""
    modes = result["modes"]
    out: list[tuple[str, bool | None, str]] = []
    streaming = modes.get("streaming", {}).get("total", {})
    batch = modes.get("batch", {}).get("total", {})
    worst = streaming.get("time_to_first_item_queued_seconds_max")
    out.append(
        (
            "First item queued < 60 s (streaming, every run)",
            None if worst is None else worst < 60,
            f"worst run {fmt(worst)} s",
        )
    )
    twice = sum(m["total"].get("content_hashes_queued_twice", 0) for m in modes.values())
    processing = [
        m["total"].get("processing") for m in modes.values() if m["total"].get("processing")
    ]
    processed_twice = sum(p.get("duplicates_absorbed", 0) for p in processing)
    out.append(
        (
            "No duplicate processing",
            twice == 0,
            f"{twice} content hashes queued twice; {processed_twice} deliveries absorbed "
            "by the processor's idempotency",
        )
    )
    errors = streaming.get("errors", {})
    queued_all_runs = all(r["items_queued"] > 0 for r in modes.get("streaming", {}).get("runs", []))
    out.append(
        (
            "A failing source does not stop the others",
            queued_all_runs if errors else None,
            f"source errors {errors or 'none'}; items still queued in every run"
            if errors
            else "no source failed in this recording",
        )
    )
    if batch and streaming:
        rates = (batch.get("deduplication_hit_rate"), streaming.get("deduplication_hit_rate"))
        out.append(
            (
                "Deduplication hit rate 10-20 %, equal in both modes",
                all(r is not None and 0.10 <= r <= 0.20 for r in rates) and rates[0] == rates[1],
                f"batch {fmt(rates[0])}, streaming {fmt(rates[1])}",
            )
        )
        peaks = (batch.get("peak_enqueue_rate_10s"), streaming.get("peak_enqueue_rate_10s"))
        out.append(
            (
                "Smoother arrivals (lower 10 s peak enqueue rate)",
                None if None in peaks else peaks[1] < peaks[0],  # type: ignore[operator]
                f"batch {fmt(peaks[0])} items/s, streaming {fmt(peaks[1])} items/s",
            )
        )
    return out


def simulation_table(simulation: dict[str, Any]) -> str:
    """Processor-side metrics simulated for each mode's arrivals (mean over seeds)."""
    from workbench.simreport import SIM_ROWS

    batch = simulation["modes"].get("batch", {})
    streaming = simulation["modes"].get("streaming", {})
    lines = [
        "| Metric (simulated, mean of seeds) | Batch | Streaming | Streaming vs batch |",
        "| --- | ---: | ---: | --- |",
    ]
    for label, key, unit, better in SIM_ROWS:
        b = batch.get(key, {}).get("mean")
        s = streaming.get(key, {}).get("mean")
        name = f"{label} ({unit})" if unit else label
        lines.append(f"| {name} | {fmt(b)} | {fmt(s)} | {improvement(b, s, better)} |")
    return "\n".join(lines)


def _simulation_section(simulation: dict[str, Any] | None) -> str:
    if not simulation:
        return ""
    st = simulation["settings"]
    return f"""
## KEDA scaling of the processor, simulated

The replay's enqueue times of each mode (all runs, 8 h apart) through the SimPy model of KEDA and
the HPA (`sim/`, semantics in `docs/simulation.md`), with the ScaledObject `{_shown_path(st["scaledobject"])}`
on `{st["platform"]}`; pods start in `{st["startup"]}` s, handle {st["concurrency"]} messages at
once (receiving {st["receive_batch_size"]} at a time, renewing visibility) in `{st["service"]}` s
each; {st["seeds"]} seeds. Numbers are those of `simulation.json`.

{simulation_table(simulation)}
"""


def write_report(
    result: dict[str, Any],
    out_dir: Path,
    simulate: Callable[[Path], dict[str, Any]] | None = None,
) -> list[Path]:
    """Write ``replay-metrics.json``, then (with ``simulate``, which reads the arrivals from
    that file) ``simulation.json``, then ``comparison.md``; returns their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path = out_dir / "replay-metrics.json"
    json_path.write_text(json.dumps(result, indent=1, default=str))
    paths = [json_path]
    simulation = simulate(json_path) if simulate is not None else None
    if simulation is not None:
        sim_path = out_dir / "simulation.json"
        sim_path.write_text(json.dumps(simulation, indent=1))
        paths.append(sim_path)
    md_path = out_dir / "comparison.md"
    criteria = "\n".join(
        f"| {name} | {'-' if ok is None else ('PASS' if ok else 'FAIL')} | {evidence} |"
        for name, ok, evidence in success_criteria(result)
    )
    md_path.write_text(
        f"""# Batch vs streaming collection: measured comparison

Recording `{_shown_path(result["recording"])}` replayed at speed {fmt(result["speed"], 0)} through the real
collectors against Azure Storage (Azurite), with {result["processors"]} processor workers
(service time `{result["service_time"]}`). All times are recording seconds from the start of each
collection run; numbers are those of `replay-metrics.json`.

## Comparison

{comparison_table(result)}

## Success criteria measured by the replay

| Criterion | Result | Evidence |
| --- | --- | --- |
{criteria}

{_simulation_section(simulation)}
## Per run

{per_run_table(result)}
"""
    )
    return [*paths, md_path]

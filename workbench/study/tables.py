"""The report's tables, built from the result JSON files; every number is a ``Num`` whose key
says where it sits in ``metrics.json``. ``Table.frame`` gives each as a DataFrame.

Keys: ``recordings/{rec}/...`` (explore.json), ``replay/{rec}/{mode}/...`` (replay-{rec}.json:
``modes.{mode}.total``), ``simulation/{rec}/{mode}/{metric}/mean|ci_low|ci_high``
(simulation-{rec}.json), ``.../streaming_vs_batch/...`` for the factors, ``thresholds/...`` and
``definitions/...`` for the numbers in the criteria and labels.
"""

from __future__ import annotations

import dataclasses
import statistics
from collections.abc import Callable, Sequence
from typing import Any

from workbench.replay import MODES
from workbench.report import Inline, Key, Num, Table, Text, improvement, plain
from workbench.simreport import SIM_ROWS

# Numbers the criteria and labels use (the design's own).
FIRST_ITEM_TARGET_S = Num(("thresholds", "first_item_queued_s"), 60)
DEDUP_RATE_LOW = Num(("thresholds", "deduplication_hit_rate_low"), 0.10)
DEDUP_RATE_HIGH = Num(("thresholds", "deduplication_hit_rate_high"), 0.20)
PEAK_WINDOW_S = Num(("definitions", "peak_enqueue_window_s"), 10)
CONFIDENCE_PERCENT = Num(("definitions", "confidence_percent"), 95)


def get_path(doc: Any, path: Sequence[str]) -> Any:
    for key in path:
        if not isinstance(doc, dict) or key not in doc:
            return None
        doc = doc[key]
    return doc


def _total(replay: dict[str, Any], mode: str) -> dict[str, Any]:
    return get_path(replay, ("modes", mode, "total")) or {}


# -- the design's comparison ----------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Row:
    aspect: str
    label: Text
    path: tuple[str, ...]  # in a mode's replay total, or a simulation metric name
    unit: str
    better: str  # "lower" | "higher" | "" (no judgement)
    simulated: bool = False


def _runs_with_errors(replay: dict[str, Any], mode: str) -> tuple[int, int]:
    runs = get_path(replay, ("modes", mode, "runs")) or []
    failing = [r for r in runs if any(r.get("errors", {}).values())]
    return len(failing), sum(1 for r in failing if r.get("items_queued", 0) > 0)


def _derived_totals(replay: dict[str, Any], mode: str) -> dict[str, Any]:
    """Totals the replay JSON holds only per source or per run."""
    total = _total(replay, mode)
    failing, queued = _runs_with_errors(replay, mode)
    return {
        "source_errors": sum(total.get("errors", {}).values()),
        "runs_with_source_errors": failing,
        "runs_with_source_errors_that_queued": queued,
    }


COMPARISON_ROWS: tuple[Row, ...] = (
    Row("Time to first item", "Time to first item queued, mean of runs", ("time_to_first_item_queued_seconds",), "s", "lower"),
    Row("Time to first item", "Time to first item queued, worst run", ("time_to_first_item_queued_seconds_max",), "s", "lower"),
    Row("Time to first item", "First-item limit from the recording, mean", ("first_item_limit_seconds",), "s", ""),
    Row("Time to first item", "Time to last item queued, mean", ("time_to_last_item_queued_seconds",), "s", "lower"),
    Row("Queue load pattern", ["Peak enqueue rate over any ", PEAK_WINDOW_S, " s, mean"], ("peak_enqueue_rate_10s",), "items/s", "lower"),
    Row("Queue load pattern", "Coefficient of variation of gaps, mean", ("gap_cv",), "", "lower"),
    Row("Queue load pattern", "Throughput, mean", ("throughput_items_per_second",), "items/s", "higher"),
    Row("KEDA scaling (simulated)", "Time to first replica ready from each run's start, mean of runs", ("run_first_replica_ready_s",), "s", "lower", True),
    Row("KEDA scaling (simulated)", "Time to first item processed from each run's start, mean of runs", ("run_first_item_processed_s",), "s", "lower", True),
    Row("KEDA scaling (simulated)", "First item queued to first replica ready, mean of runs", ("queued_to_replica_ready_s",), "s", "lower", True),
    Row("KEDA scaling (simulated)", "Max replicas", ("max_replicas",), "", "lower", True),
    Row("KEDA scaling (simulated)", "Scale events", ("scale_events",), "", "lower", True),
    Row("KEDA scaling (simulated)", "Replica-seconds (cost)", ("replica_seconds",), "s", "lower", True),
    Row("Processing (replayed)", "Time to first item processed, mean", ("processing", "time_to_first_item_processed_seconds"), "s", "lower"),
    Row("Processing (replayed)", "End-to-end latency p50, mean", ("processing", "latency_p50_seconds"), "s", "lower"),
    Row("Processing (replayed)", "End-to-end latency p95, mean", ("processing", "latency_p95_seconds"), "s", "lower"),
    Row("Processing (replayed)", "Makespan (last item processed), mean", ("processing", "makespan_seconds"), "s", "lower"),
    Row("Processing (replayed)", "Items processed", ("processing", "items_processed"), "", ""),
    Row("Processing (replayed)", "Redeliveries", ("processing", "redeliveries"), "", "lower"),
    Row("Deduplication", "Items collected (all runs)", ("items_collected",), "", ""),
    Row("Deduplication", "Items queued (all runs)", ("items_queued",), "", ""),
    Row("Deduplication", "Duplicates skipped (all runs)", ("duplicates_skipped",), "", ""),
    Row("Deduplication", "Deduplication hit rate", ("deduplication_hit_rate",), "", ""),
    Row("Deduplication", "Content hashes queued twice", ("content_hashes_queued_twice",), "", "lower"),
    Row("Partial failures", "Source errors (all runs)", ("source_errors",), "", ""),
    Row("Partial failures", "Runs with a source error", ("runs_with_source_errors",), "", ""),
    Row("Partial failures", "Runs with a source error that still queued items", ("runs_with_source_errors_that_queued",), "", "higher"),
)  # fmt: skip


def comparison_table(
    rec: str, replay: dict[str, Any], simulation: dict[str, Any] | None = None
) -> Table:
    """The design's comparison table: measured (and, given, simulated) values per mode with
    streaming's factor over batch."""
    rows: list[list[Text]] = []
    for row in COMPARISON_ROWS:
        if row.simulated:
            if simulation is None:
                continue
            metric = row.path[0]
            values = [get_path(simulation, ("modes", m, metric, "mean")) for m in MODES]
            keys = [("simulation", rec, m, metric, "mean") for m in MODES]
            ratio_key: Key = ("simulation", rec, "streaming_vs_batch", metric)
        else:
            values = [
                get_path({**_total(replay, m), **_derived_totals(replay, m)}, row.path)
                for m in MODES
            ]
            keys = [("replay", rec, m, *row.path) for m in MODES]
            ratio_key = ("replay", rec, "streaming_vs_batch", *row.path)
        if all(v is None for v in values):
            continue
        nums = [Num(k, v) for k, v in zip(keys, values, strict=True)]
        rows.append(
            [row.aspect, row.label, row.unit, *nums, improvement(*values, row.better, ratio_key)]
        )
    source = f"`replay-{rec}.json`: `modes.<mode>.total`"
    if simulation is not None:
        source += f"; KEDA rows `simulation-{rec}.json`: `modes.<mode>.<metric>.mean`"
    return Table(
        ["Aspect", "Metric", "Unit", "Batch", "Streaming", "Streaming vs batch"],
        rows,
        source=source,
        numeric=[False, False, False, True, True, False],
    )


def per_run_table(rec: str, replay: dict[str, Any]) -> Table:
    rows: list[list[Text]] = []
    for mode, doc in replay["modes"].items():
        for i, run in enumerate(doc["runs"]):

            def n(key: str, value: Any = None, _i: int = i, _mode: str = mode) -> Num:
                return Num(("replay", rec, _mode, "runs", _i, key), value)

            first, limit = run["time_to_first_item_queued_seconds"], run["first_item_limit_seconds"]
            rows.append(
                [
                    mode,
                    n("run", run["run"]),
                    started(run["started_at"]),
                    n("time_to_first_item_queued_seconds", first),
                    n("first_item_limit_seconds", limit),
                    n("first_over_limit", first / limit if first is not None and limit else None),
                    n("time_to_last_item_queued_seconds", run["time_to_last_item_queued_seconds"]),
                    n("items_collected", run["items_collected"]),
                    n("items_queued", run["items_queued"]),
                    n("duplicates_skipped", run["duplicates_skipped"]),
                    n("deduplication_hit_rate", run["deduplication_hit_rate"]),
                    n("peak_enqueue_rate_10s", run["peak_enqueue_rate_10s"]),
                    Num(
                        ("replay", rec, mode, "runs", i, "processing", "latency_p95_seconds"),
                        get_path(run, ("processing", "latency_p95_seconds")),
                    ),
                ]
            )
    return Table(
        ["Mode", "Run", "Started (UTC)", "First item (s)", "Limit (s)", "First / limit",
         "Last item (s)", "Collected", "Queued", "Duplicates", "Dedup rate",
         "Peak enqueue rate (items/s)", "Latency p95 (s)"],
        rows,
        source=f"`replay-{rec}.json`: `modes.<mode>.runs[i]`",
        numeric=[False, *[True] * 12],  # the start time too: it must not wrap
    )  # fmt: skip


def per_source_table(rec: str, replay: dict[str, Any]) -> Table:
    """Per source: items queued (all runs), throughput and first item queued (mean of runs)."""
    names: list[str] = []
    types: dict[str, str] = {}
    for doc in replay["modes"].values():
        for run in doc["runs"]:
            for name, s in run.get("per_source", {}).items():
                if name not in types:
                    names.append(name)
                    types[name] = s.get("type", "")
    rows: list[list[Text]] = []
    for name in names:
        cells: dict[str, list[Num]] = {"queued": [], "rate": [], "first": []}
        for mode in MODES:
            runs = [r.get("per_source", {}).get(name, {}) for r in replay["modes"][mode]["runs"]]
            key: Key = ("replay", rec, mode, "per_source", name)
            cells["queued"].append(
                Num((*key, "items_queued"), sum(r.get("items_queued", 0) for r in runs))
            )
            cells["rate"].append(
                Num((*key, "throughput_items_per_second_mean"),
                    mean_present([r.get("throughput_items_per_second") for r in runs]))
            )  # fmt: skip
            cells["first"].append(
                Num((*key, "time_to_first_item_queued_seconds_mean"),
                    mean_present([r.get("time_to_first_item_queued_seconds") for r in runs]))
            )  # fmt: skip
        rows.append([name, types[name], *cells["queued"], *cells["rate"], *cells["first"]])
    return Table(
        ["Source", "Type", "Queued, batch", "Queued, streaming", "Items/s, batch",
         "Items/s, streaming", "First queued (s), batch", "First queued (s), streaming"],
        rows,
        source=f"`replay-{rec}.json`: `modes.<mode>.runs[i].per_source.<source>` "
        "(queued: sum of runs; items/s and first queued: mean of runs)",
        numeric=[False, False, *[True] * 6],
    )  # fmt: skip


def started(value: Any) -> str:
    """A run's start as ``2024-05-14 08:00`` (UTC, as the column says)."""
    text = str(value).replace("T", " ")
    return text[:16] if len(text) >= 16 else text


def mean_present(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.fmean(present) if present else None


# -- success criteria -----------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Criterion:
    id: str
    name: Text
    verdict: str  # PASS | FAIL | NOT RUN | - (nothing to judge in this recording)
    evidence: Text


def verdict(ok: bool | None) -> str:
    return "-" if ok is None else ("PASS" if ok else "FAIL")


def success_criteria(rec: str, replay: dict[str, Any]) -> list[Criterion]:
    """The design's success criteria, judged from the replay; those this report does not
    evaluate yet are listed as NOT RUN."""

    def total(mode: str, *path: str) -> Num:
        return Num(("replay", rec, mode, *path), get_path(_total(replay, mode), path))

    out: list[Criterion] = []
    worst = total("streaming", "time_to_first_item_queued_seconds_max")
    out.append(
        Criterion(
            "first_item",
            ["First item queued within ", FIRST_ITEM_TARGET_S, " s (streaming, every run)"],
            verdict(None if worst.value is None else worst.value < FIRST_ITEM_TARGET_S.value),  # type: ignore[operator]
            ["worst run ", worst, " s"],
        )
    )
    twice = [total(m, "content_hashes_queued_twice") for m in MODES]
    absorbed = [total(m, "processing", "duplicates_absorbed") for m in MODES]
    evidence: list[Inline] = [
        "content hashes queued twice: batch ",
        twice[0],
        ", streaming ",
        twice[1],
    ]
    if any(a.value is not None for a in absorbed):
        evidence += ["; deliveries absorbed by the processor's idempotency: batch ", absorbed[0],
                     ", streaming ", absorbed[1]]  # fmt: skip
    out.append(
        Criterion("no_duplicates", "No duplicate processing",
                  verdict(all(t.value == 0 for t in twice)), evidence)
    )  # fmt: skip
    errors = _total(replay, "streaming").get("errors", {})
    failing, queued = _runs_with_errors(replay, "streaming")
    if errors:
        kinds = ", ".join(f"`{k}`" for k in sorted(errors))
        out.append(
            Criterion(
                "failing_source",
                "A failing source does not stop the others",
                verdict(queued == failing),
                [Num(("replay", rec, "streaming", "source_errors"), sum(errors.values())),
                 f" source errors ({kinds}); ",
                 Num(("replay", rec, "streaming", "runs_with_source_errors_that_queued"), queued),
                 " of ", Num(("replay", rec, "streaming", "runs_with_source_errors"), failing),
                 " runs with an error still queued items"],
            )
        )  # fmt: skip
    else:
        out.append(
            Criterion("failing_source", "A failing source does not stop the others", "-",
                      "no source failed in this recording")
        )  # fmt: skip
    rates = [total(m, "deduplication_hit_rate") for m in MODES]
    low, high = DEDUP_RATE_LOW.value, DEDUP_RATE_HIGH.value
    in_range = all(r.value is not None and low <= r.value <= high for r in rates)  # type: ignore[operator]
    out.append(
        Criterion(
            "deduplication",
            ["Deduplication against the history: hit rate between ", DEDUP_RATE_LOW, " and ",
             DEDUP_RATE_HIGH, ", equal in both modes"],
            verdict(in_range and rates[0].value == rates[1].value),
            ["batch ", rates[0], ", streaming ", rates[1]],
        )
    )  # fmt: skip
    peaks = [total(m, "peak_enqueue_rate_10s") for m in MODES]
    out.append(
        Criterion(
            "smoother_arrivals",
            ["Smoother arrivals (lower peak enqueue rate over ", PEAK_WINDOW_S, " s)"],
            verdict(None if None in (peaks[0].value, peaks[1].value)
                     else peaks[1].value < peaks[0].value),  # type: ignore[operator]
            ["batch ", peaks[0], " items/s, streaming ", peaks[1], " items/s"],
        )
    )  # fmt: skip
    rates_by_source = all(
        "throughput_items_per_second" in s
        for run in replay["modes"]["streaming"]["runs"]
        for s in run.get("per_source", {}).values()
    )
    out.append(
        Criterion("per_source_throughput", "Per-source throughput measured",
                  verdict(rates_by_source), "items/s per source in every run (per-source table)")
    )  # fmt: skip
    for cid, name in NOT_EVALUATED:
        out.append(Criterion(cid, name, "NOT RUN", "not evaluated by this report yet"))
    return out


# The design's criteria that need the rollout and tuning studies.
NOT_EVALUATED = (
    ("batch_fallback", "Batch fallback works (a source switched back to batch loses nothing)"),
    ("smoother_scaling", "Smoother KEDA scaling (no spike)"),
    ("even_work", "Even work across processor instances"),
    ("rate_limits", "Configurable rate limits keep the queue from flooding"),
    ("progress_logs", "Progress in logs"),
)


def criteria_table(
    rec: str, replay: dict[str, Any], criteria: Sequence[Criterion] | None = None
) -> Table:
    """The criteria (default: the replay's own) as a table."""
    shown = success_criteria(rec, replay) if criteria is None else criteria
    return Table(
        ["Criterion", "Result", "Evidence"],
        [[c.name, c.verdict, c.evidence] for c in shown],
        source=f"`replay-{rec}.json`: `modes.<mode>.total`, `modes.<mode>.runs[i]`",
        numeric=[False, False, False],
    )


# -- the simulation --------------------------------------------------------------------------
def simulation_table(rec: str, simulation: dict[str, Any]) -> Table:
    """Each metric's mean over seeds with its 95 % interval, per mode."""
    rows: list[list[Text]] = []
    for label, metric, unit, better in SIM_ROWS:
        cells: list[Text] = []
        means = []
        for mode in MODES:
            stats = get_path(simulation, ("modes", mode, metric)) or {}
            key: Key = ("simulation", rec, mode, metric)
            mean = Num((*key, "mean"), stats.get("mean"))
            means.append(mean.value)
            cells.append(
                [mean, " (", Num((*key, "ci_low"), stats.get("ci_low")), " to ",
                 Num((*key, "ci_high"), stats.get("ci_high")), ")"]
            )  # fmt: skip
        ratio = improvement(*means, better, ("simulation", rec, "streaming_vs_batch", metric))
        rows.append([label, unit, *cells, ratio])
    seeds = Num(("simulation", rec, "seeds"), get_path(simulation, ("settings", "seeds")))
    return Table(
        ["Metric", "Unit", "Batch", "Streaming", "Streaming vs batch"],
        rows,
        source=f"`simulation-{rec}.json`: `modes.<mode>.<metric>`",
        caption=["Mean over ", seeds, " seeds (", CONFIDENCE_PERCENT, " % interval)"],
        numeric=[False, False, True, True, False],
    )


def scale_events_table(
    rec: str, simulation: dict[str, Any], run_offsets_s: Sequence[float]
) -> Table:
    """One seed's scale events, a row per mode and run: when (seconds into the run), from how
    many replicas to how many, and which loop (KEDA's poll or the HPA's sync)."""
    rows: list[list[Text]] = []
    for mode in MODES:
        by_run: dict[int, list[Inline]] = {}
        shown = get_path(simulation, ("scale_events", mode)) or {}
        for j, event in enumerate(shown.get("events", [])):
            run = max((i for i, o in enumerate(run_offsets_s) if o <= event["t"]), default=0)
            key: Key = ("simulation", rec, mode, "scale_events_seed", j)
            cell = by_run.setdefault(run, [])
            cell += [
                *(["; "] if cell else []),
                Num((*key, "t_into_run_s"), event["t"] - run_offsets_s[run]),
                " s: ",
                Num((*key, "from"), event["from"]),
                " → ",
                Num((*key, "to"), event["to"]),
                f" ({event['by']})",
            ]
        for run, cell in sorted(by_run.items()):
            rows.append([mode, Num(("simulation", rec, mode, "scale_event_runs", run), run), cell])
    seed = Num(
        ("simulation", rec, "timeline_seed"), get_path(simulation, ("timeline", "batch", "seed"))
    )
    return Table(
        ["Mode", "Run", "Scale events: time into the run, replicas from → to (loop)"],
        rows,
        source=f"`simulation-{rec}.json`: `scale_events.<mode>.events`",
        caption=["Scale events of seed ", seed],
        numeric=[False, True, False],
    )


def frame_of(build: Callable[..., Table], *args: Any) -> Any:
    """A table builder's result as a DataFrame (notebooks)."""
    return build(*args).frame


__all__ = [
    "COMPARISON_ROWS",
    "Criterion",
    "comparison_table",
    "criteria_table",
    "per_run_table",
    "per_source_table",
    "plain",
    "scale_events_table",
    "simulation_table",
    "success_criteria",
]

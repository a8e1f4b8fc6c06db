"""The report as a document (numbers with keys, two renderings, metrics.json), its tables and
criteria from hand-made result documents, and the figures' common form."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from matplotlib.lines import Line2D

from workbench import plots
from workbench.paths import SCALEDOBJECT
from workbench.report import (
    Bullets,
    Figure,
    Heading,
    Num,
    Paragraph,
    Report,
    Section,
    Table,
    improvement,
    plain,
    replay_table,
)
from workbench.simreport import SIM_ROWS, SimulationSettings, simulate_modes
from workbench.study import tables
from workbench.study.simulate import simulate_recording

MODES = ("batch", "streaming")
PNG = b"\x89PNG\r\n\x1a\n-not-a-real-image"


# -- hand-made result documents ---------------------------------------------------------------
def _run(
    index: int, times: list[float], *, errors: dict | None = None, latency: float = 5.0
) -> dict:
    return {
        "run": index,
        "started_at": f"2024-05-14T{8 * index:02d}:00:00+00:00",
        "time_to_first_item_queued_seconds": times[0] if times else None,
        "first_item_limit_seconds": 0.5,
        "time_to_last_item_queued_seconds": times[-1] if times else None,
        "items_collected": len(times) + 1,
        "items_queued": len(times),
        "duplicates_skipped": 1,
        "deduplication_hit_rate": 1 / (len(times) + 1),
        "peak_enqueue_rate_10s": 2.0,
        "errors": errors or {},
        "per_source": {
            "feed-a": {
                "type": "rss",
                "items_queued": len(times),
                "throughput_items_per_second": 1.5,
                "time_to_first_item_queued_seconds": times[0] if times else None,
            },
        },  # fmt: skip
        "messages": [
            {"enqueued_at": t, "processed_at": t + latency, "content_hash": f"h{index}-{k}"}
            for k, t in enumerate(times)
        ],
        "processing": {"latency_p95_seconds": latency},
    }


def _replay_doc(
    batch_first: float = 30.0,
    streaming_first: float = 0.5,
    *,
    twice: int = 0,
    rates: tuple[float, float] = (0.15, 0.15),
    peaks: tuple[float, float] = (20.0, 5.0),
    streaming_errors: list[dict] | None = None,
) -> dict[str, Any]:
    doc: dict[str, Any] = {"recording": "data/recordings/x", "speed": 20.0, "processors": 1,
                           "service_time": "constant(1)", "modes": {}}  # fmt: skip
    for mode, first, rate, peak in zip(
        MODES, (batch_first, streaming_first), rates, peaks, strict=True
    ):
        errs = streaming_errors if mode == "streaming" and streaming_errors else [{}, {}]
        runs = [_run(i, [first, first + 1.0, first + 2.0], errors=errs[i]) for i in range(2)]
        doc["modes"][mode] = {
            "runs": runs,
            "total": {
                "time_to_first_item_queued_seconds": first,
                "time_to_first_item_queued_seconds_max": first + 0.25,
                "first_item_limit_seconds": 0.5,
                "time_to_last_item_queued_seconds": first + 2.0,
                "peak_enqueue_rate_10s": peak,
                "gap_cv": 0.5,
                "throughput_items_per_second": 3.0 / (first + 2.0),
                "items_collected": 8,
                "items_queued": 6,
                "duplicates_skipped": 2,
                "deduplication_hit_rate": rate,
                "content_hashes_queued_twice": twice,
                "errors": {
                    f"{s}:{k}": n
                    for run in errs
                    for s, kinds in run.items()
                    for k, n in kinds.items()
                },
                "processing": {"latency_p95_seconds": 5.0, "duplicates_absorbed": 0},
            },
        }
    return doc


# -- numbers and renderings -------------------------------------------------------------------
def test_improvement_states_the_factor_and_whether_it_is_better() -> None:
    def words(b: Any, s: Any, better: str) -> str:
        return plain(improvement(b, s, better))

    assert words(26.4, 0.23, "lower") == "114.8x lower"
    assert words(9.43, 31.22, "higher") == "3.3x higher"
    assert words(1.43, 7.72, "lower") == "5.4x higher (worse)"
    assert words(31.22, 9.43, "higher") == "3.3x lower (worse)"
    assert words(5, 5, "lower") == "same"
    assert words(5, 0, "lower") == "lower"  # no factor against zero
    assert words(5, 6, "") == "" and words(None, 6, "lower") == ""
    factor = improvement(26.4, 0.23, "lower", ("k", "ratio"))[0]
    assert isinstance(factor, Num) and factor.key == ("k", "ratio")
    assert factor.value == pytest.approx(26.4 / 0.23)


def _report() -> Report:
    table = Table(
        ["Metric", "Batch", "Streaming"],
        [["Time <to> first", Num(("r", "batch", "first"), 26.4), Num(("r", "streaming", "first"), 0.234)],
         ["Items", Num(("r", "batch", "items"), 12), Num(("r", "streaming", "items"), None)]],
        source="`replay-x.json`: `modes.<mode>.total`",
    )  # fmt: skip
    summary = Section(
        "summary", "Summary", [Paragraph(["**Move.** Worst run ", Num(("r", "worst"), 0.3), " s"])]
    )
    body = Section(
        "replay",
        "Replay",
        [Heading("x"), table, Bullets(["a `code` span", ["n ", Num(("r", "batch", "items"), 12)]]),
         Figure("x-fig", ["Finding ", Num(("r", "batch", "first"), 26.4), " s"], PNG, "`f.json`")],
    )  # fmt: skip
    return Report("Title", summary, [body], inputs=["replay-x.json"])


def test_metrics_nest_every_shown_number_and_refuse_two_values_for_one_key() -> None:
    report = _report()
    assert report.metrics() == {
        "r": {"worst": 0.3, "batch": {"first": 26.4, "items": 12},
              "streaming": {"first": 0.234, "items": None}},
    }  # fmt: skip
    report.sections[0].blocks.append(Paragraph([Num(("r", "worst"), 0.31)]))
    with pytest.raises(ValueError, match="r/worst shown as 0.3 and 0.31"):
        report.metrics()
    clash = _report()
    clash.sections[0].blocks.append(Paragraph([Num(("r", "batch"), 1)]))
    with pytest.raises(ValueError, match="clashes"):
        clash.metrics()


def test_html_marks_every_number_and_embeds_everything(tmp_path: Path) -> None:
    paths = _report().write(tmp_path)
    assert [p.name for p in paths] == ["rollout-report.html", "rollout-report.md", "metrics.json"]
    html = paths[0].read_text()
    assert '<data value="r/batch/first">26.40</data>' in html
    assert '<data value="r/streaming/first">0.23</data>' in html
    assert '<data value="r/streaming/items">-</data>' in html
    assert "Time &lt;to&gt; first" in html and "<to>" not in html
    assert "<strong>Move.</strong>" in html and "<code>code</code>" in html
    assert 'src="data:image/png;base64,' in html and "<script" not in html
    assert html.index('id="summary"') < html.index("<nav>") < html.index('id="replay"')
    doc = json.loads(paths[2].read_text())
    assert doc["inputs"] == ["replay-x.json"] and doc["metrics"]["r"]["worst"] == 0.3


def test_markdown_shows_the_same_numbers_and_links_the_figures(tmp_path: Path) -> None:
    paths = _report().write(tmp_path)
    markdown = paths[1].read_text()
    assert "| Time <to> first | 26.40 | 0.23 |" in markdown
    assert "| Items | 12 | - |" in markdown
    assert "Numbers: `replay-x.json`: `modes.<mode>.total`" in markdown
    assert "![Finding 26.40 s](figures/x-fig.png)" in markdown
    assert (tmp_path / "figures" / "x-fig.png").read_bytes() == PNG
    assert markdown.index("## Summary") < markdown.index("## Replay") < markdown.index("### x")


def test_a_table_is_a_dataframe_of_values() -> None:
    frame = _report().sections[0].blocks[1].frame  # type: ignore[union-attr]
    assert list(frame.columns) == ["Metric", "Batch", "Streaming"]
    assert frame.iloc[0].tolist() == ["Time <to> first", 26.4, 0.234]


# -- tables and criteria ----------------------------------------------------------------------
def test_comparison_table_reads_each_modes_total() -> None:
    doc = _replay_doc(streaming_errors=[{"feed-a": {"parse": 1}}, {}])
    rows = {plain(r[1]): r for r in tables.comparison_table("x", doc).rows}
    first = rows["Time to first item queued, mean of runs"]
    assert [c.value for c in first[3:5]] == [30.0, 0.5]  # type: ignore[union-attr]
    assert first[3].key == ("replay", "x", "batch", "time_to_first_item_queued_seconds")  # type: ignore[union-attr]
    assert plain(first[5]) == "60.0x lower"
    assert [c.value for c in rows["Items queued (all runs)"][3:5]] == [6, 6]  # type: ignore[union-attr]
    # Partial failures: streaming's run 0 had a parse error and still queued its 3 items.
    assert [c.value for c in rows["Source errors (all runs)"][3:5]] == [0, 1]  # type: ignore[union-attr]
    assert [c.value for c in rows["Runs with a source error that still queued items"][3:5]] == [
        0,
        1,
    ]  # type: ignore[union-attr]
    assert not any(r[0] == "KEDA scaling (simulated)" for r in rows.values())


def _verdicts(doc: dict[str, Any]) -> dict[str, str]:
    return {c.id: c.verdict for c in tables.success_criteria("x", doc)}


@pytest.mark.parametrize(
    ("doc", "criterion", "verdict"),
    [
        (_replay_doc(streaming_first=59.5), "first_item", "PASS"),  # worst run 59.75 s
        (_replay_doc(streaming_first=59.75), "first_item", "FAIL"),  # worst run exactly 60 s
        (_replay_doc(), "no_duplicates", "PASS"),
        (_replay_doc(twice=1), "no_duplicates", "FAIL"),
        (_replay_doc(), "failing_source", "-"),
        (_replay_doc(streaming_errors=[{"a": {"parse": 1}}, {}]), "failing_source", "PASS"),
        (_replay_doc(rates=(0.10, 0.10)), "deduplication", "PASS"),
        (_replay_doc(rates=(0.09, 0.09)), "deduplication", "FAIL"),
        (_replay_doc(rates=(0.15, 0.16)), "deduplication", "FAIL"),  # the modes disagree
        (_replay_doc(peaks=(20.0, 19.9)), "smoother_arrivals", "PASS"),
        (_replay_doc(peaks=(20.0, 20.0)), "smoother_arrivals", "FAIL"),
        (_replay_doc(rates=(0.20, 0.20)), "deduplication", "PASS"),  # the bounds are inclusive
        (_replay_doc(rates=(0.21, 0.21)), "deduplication", "FAIL"),
        (_replay_doc(peaks=(20.0, 20.1)), "smoother_arrivals", "FAIL"),
        (_replay_doc(), "per_source_throughput", "PASS"),
        (_replay_doc(), "batch_fallback", "NOT RUN"),
    ],
)
def test_success_criteria(doc: dict[str, Any], criterion: str, verdict: str) -> None:
    assert _verdicts(doc)[criterion] == verdict


def _without(doc: dict[str, Any], mode: str, *path: str) -> dict[str, Any]:
    """``doc`` with the key at ``path`` of ``mode``'s total set to None."""
    node = doc["modes"][mode]["total"]
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = None
    return doc


def test_criteria_with_nothing_to_judge_are_a_dash_and_each_can_fail() -> None:
    # No item queued in streaming: no worst first-item time, no peak to compare.
    assert (
        _verdicts(_without(_replay_doc(), "streaming", "time_to_first_item_queued_seconds_max"))[
            "first_item"
        ]
        == "-"
    )
    assert (
        _verdicts(_without(_replay_doc(), "batch", "peak_enqueue_rate_10s"))["smoother_arrivals"]
        == "-"
    )
    assert (
        _verdicts(_without(_replay_doc(), "streaming", "deduplication_hit_rate"))["deduplication"]
        == "FAIL"
    )
    # One mode queued a content hash twice: no duplicate processing fails.
    twice_in_batch = _replay_doc()
    twice_in_batch["modes"]["batch"]["total"]["content_hashes_queued_twice"] = 2
    assert _verdicts(twice_in_batch)["no_duplicates"] == "FAIL"
    # A source without its throughput in one run.
    unmeasured = _replay_doc()
    del unmeasured["modes"]["streaming"]["runs"][1]["per_source"]["feed-a"][
        "throughput_items_per_second"
    ]
    assert _verdicts(unmeasured)["per_source_throughput"] == "FAIL"
    # Every criterion of the design is listed, in the design's order, judged or not.
    assert list(_verdicts(_replay_doc())) == [
        "first_item", "no_duplicates", "failing_source", "deduplication", "smoother_arrivals",
        "per_source_throughput", "batch_fallback", "smoother_scaling", "even_work",
        "rate_limits", "progress_logs",
    ]  # fmt: skip


def test_criteria_evidence_shows_the_numbers_judged() -> None:
    doc = _replay_doc(streaming_errors=[{"a": {"parse": 2}, "b": {"timeout": 1}}, {}], twice=0)
    doc["modes"]["streaming"]["total"]["processing"]["duplicates_absorbed"] = 3
    evidence = {c.id: plain(c.evidence) for c in tables.success_criteria("x", doc)}
    assert evidence["first_item"] == "worst run 0.75 s"
    assert evidence["no_duplicates"] == (
        "content hashes queued twice: batch 0, streaming 0; deliveries absorbed by the "
        "processor's idempotency: batch 0, streaming 3"
    )
    assert evidence["failing_source"] == (
        "3 source errors (`a:parse`, `b:timeout`); 1 of 1 runs with an error still queued items"
    )
    assert evidence["deduplication"] == "batch 0.15, streaming 0.15"
    assert evidence["smoother_arrivals"] == "batch 20.00 items/s, streaming 5.00 items/s"
    rows = tables.criteria_table("x", doc).rows
    assert [plain(r[0]) for r in rows][:2] == [
        "First item queued within 60 s (streaming, every run)",
        "No duplicate processing",
    ]
    assert [r[1] for r in rows][:6] == ["PASS", "PASS", "PASS", "PASS", "PASS", "PASS"]


def test_a_failing_source_that_stops_a_run_fails_the_criterion() -> None:
    doc = _replay_doc(streaming_errors=[{"a": {"timeout": 1}}, {}])
    doc["modes"]["streaming"]["runs"][0]["items_queued"] = 0
    assert _verdicts(doc)["failing_source"] == "FAIL"


def test_replay_table_prints_runs_and_comparison() -> None:
    text = replay_table(_replay_doc())
    assert "| batch | 1 | 2024-05-14 08:00 | 30.00 | 0.50 | 60.00 |" in text
    assert (
        "| Time to first item | Time to first item queued, mean of runs | s | 30.00 | 0.50 | 60.0x lower |"
        in text
    )


# -- the simulation ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], dict[str, Any]]:
    """simulate_recording's document and simulate_modes's, for the same replay and settings."""
    replay_json = tmp_path_factory.mktemp("sim") / "replay-x.json"
    replay_json.write_text(json.dumps(_replay_doc()))
    kwargs = dict(scaledobject=SCALEDOBJECT, service_time="constant(2)", startup="constant(10)",
                  concurrency=2, seeds=3)  # fmt: skip
    ours = simulate_recording(replay_json, **kwargs)  # type: ignore[arg-type]
    theirs = simulate_modes(
        replay_json,
        list(MODES),
        SimulationSettings(
            scaledobject=SCALEDOBJECT,
            service="constant(2)",
            startup="constant(10)",
            concurrency=2,
            receive_batch_size=2,
            seeds=3,
        ),  # fmt: skip
    )
    return ours, theirs


def test_the_figures_seeds_are_the_tables_seeds(simulated: tuple[dict, dict]) -> None:
    """The per-seed values and timelines come from the same scenario as simulate_modes's means
    (if simulate_modes changes its scenario, this fails: change study/simulate.py with it)."""
    ours, theirs = simulated
    assert ours["modes"] == theirs["modes"]
    for mode in MODES:
        for metric in ("time_to_first_item_processed_s", "latency_p95_s", "replica_seconds"):
            seeds = [row[metric] for row in ours["per_seed"][mode]]
            assert sum(seeds) / len(seeds) == pytest.approx(theirs["modes"][mode][metric]["mean"])
        # The timeline shown is seed 0's: its peak replicas and queue are that seed's.
        timeline = ours["timeline"][mode]
        rows, seed0 = timeline["rows"], ours["per_seed"][mode][0]
        assert timeline["seed"] == seed0["seed"] == 0
        assert timeline["columns"] == ["t", "visible", "in_flight", "replicas", "ready_replicas"]
        assert max(r[3] for r in rows) == seed0["max_replicas"]
        assert max(r[1] + r[2] for r in rows) == seed0["peak_queue_depth"]


def test_simulation_table_shows_the_means_and_intervals(simulated: tuple[dict, dict]) -> None:
    ours, _ = simulated
    table = tables.simulation_table("x", ours)
    by_label = {row[0]: row for row in table.rows}
    for label, key, _, _ in SIM_ROWS:
        for column, mode in ((2, "batch"), (3, "streaming")):
            stats = ours["modes"][mode][key]
            expected = " ".join(
                "-" if stats[s] is None else f"{stats[s]:.2f}"
                for s in ("mean", "ci_low", "ci_high")
            )
            shown = re.sub(r"[()]|to ", "", plain(by_label[label][column]))
            assert shown == expected, (label, mode)


# -- figures ----------------------------------------------------------------------------------
def _lines(fig: Any) -> list[Line2D]:
    return [line for ax in fig.axes for line in ax.get_lines()]


def test_figures_keep_one_colour_per_mode_and_label_their_axes() -> None:
    doc = _replay_doc()
    sim = {
        "modes": {m: {"time_to_first_item_processed_s": {"mean": 5.0, "ci_low": 4.0, "ci_high": 6.0}}
                  for m in MODES},
        "per_seed": {m: [{"time_to_first_item_processed_s": v} for v in (4.0, 6.0)] for m in MODES},
        "timeline": {m: {"seed": 0, "columns": ["t", "visible", "in_flight", "replicas", "ready_replicas"],
                         "rows": [[0, 0, 0, 0, 0], [40, 3, 0, 1, 0], [60, 0, 0, 1, 1], [400, 0, 0, 0, 0]]}
                     for m in MODES},
    }  # fmt: skip
    figures = [
        plots.items_queued_over_time(doc, "t1"),
        plots.enqueue_rate(doc, "t2"),
        plots.per_source_throughput(doc, "t3"),
        plots.latency_distribution(doc, "t4"),
        plots.queue_and_replicas(sim, [0.0], "t5"),
        plots.seed_distributions(sim, [("time_to_first_item_processed_s", "time (s)")], "t6"),
    ]
    for k, fig in enumerate(figures, 1):
        assert fig._suptitle is not None and fig._suptitle.get_text() == f"t{k}"
        labels = [text.get_text() for legend in fig.legends for text in legend.get_texts()]
        assert any(label.startswith("batch") for label in labels), k
        assert any(label.startswith("streaming") for label in labels), k
        for ax in fig.axes:
            if ax.get_visible():
                assert ax.get_xlabel() or ax.get_xticklabels(), k
        assert any(ax.get_ylabel() for ax in fig.axes), k
        for line in _lines(fig):
            for mode in MODES:
                if str(line.get_label()).startswith(mode):
                    assert line.get_color() == plots.MODE_COLOURS[mode], (k, line.get_label())
        assert plots.png(fig).startswith(b"\x89PNG")

"""The four notebooks: committed clean and thin; executed headless on a small recording by
``workbench report``; the report they write is self-contained and shows only the numbers of
``metrics.json``, which are those of the result files."""

from __future__ import annotations

import ast
import json
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import nbformat
import pytest
from tiny_recording import StudyRun, build_tiny_recording

from workbench.paths import PROJECT_ROOT as ROOT

NOTEBOOKS = ROOT / "notebooks"
NAMES = (
    "01-explore-recordings",
    "02-replay-batch-vs-streaming",
    "03-simulate-keda",
    "04-rollout-report",
)
MODES = ("batch", "streaming")


# -- committed notebooks ---------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_committed_notebook_is_clean_and_thin(name: str) -> None:
    book = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    nbformat.validate(book)
    assert book.metadata["kernelspec"]["name"] == "workbench"
    code = [c for c in book.cells if c.cell_type == "code"]
    for cell in code:
        assert cell.outputs == [] and cell.execution_count is None, f"{name}: outputs committed"
        for node in ast.walk(ast.parse(cell.source)):
            assert not isinstance(
                node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda
            ), f"{name}: logic belongs in the packages: {cell.source!r}"
    tagged = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, f"{name}: one cell tagged 'parameters'"
    names = {t.id for n in ast.walk(ast.parse(tagged[0].source)) if isinstance(n, ast.Assign)
             for t in n.targets if isinstance(t, ast.Name)}  # fmt: skip
    assert {"recordings", "out"} <= names
    # Every path comes from workbench.paths, none is spelled in a notebook.
    assert not re.search(r"[\"'](/|\.\./|data/|reports)", "".join(c.source for c in code))


# -- the run ---------------------------------------------------------------------------------
def test_report_command_ran_every_notebook(study_run: StudyRun) -> None:
    assert study_run.exit_code == 0, study_run.stderr[-3000:]
    for k, name in enumerate(NAMES, 1):
        assert f"[{k}/4] {name} done in" in study_run.stderr
    for produced in ("rollout-report.html", "rollout-report.md", "metrics.json"):
        assert (study_run.out / produced).is_file()
        assert f"wrote {study_run.out / produced}" in study_run.stdout
    assert "time: " in study_run.stdout


@pytest.mark.parametrize("name", NAMES)
def test_each_notebook_ran_within_a_minute_without_errors(study_run: StudyRun, name: str) -> None:
    book = nbformat.read(study_run.out / "notebooks" / f"{name}.ipynb", as_version=4)
    assert book.metadata["papermill"]["duration"] < 60
    assert book.metadata["papermill"]["parameters"]["recordings"] == [str(study_run.recording)]
    for cell in book.cells:
        if cell.cell_type != "code":
            continue
        assert cell.execution_count is not None, f"{name}: a cell did not run"
        for output in cell.outputs:
            assert output.output_type != "error", f"{name}: {output.get('evalue')}"
            text = output.get("text", "")
            assert "Traceback" not in text and "Warning:" not in text, f"{name}: {text}"


def test_executed_notebooks_show_their_section(study_run: StudyRun) -> None:
    """01 shows the duplicates by key kind, 02 the comparison without the simulated rows (03
    has not run yet), 03 the simulation, 04 the summary."""
    expected = {"01-explore-recordings": ("Duplicates by key kind", None),
                "02-replay-batch-vs-streaming": ("Batch and streaming, replayed", "KEDA scaling (simulated)"),
                "03-simulate-keda": ("KEDA scaling of the processor, simulated", None),
                "04-rollout-report": ("Recommendation:", None)}  # fmt: skip
    for name, (shown, absent) in expected.items():
        book = nbformat.read(study_run.out / "notebooks" / f"{name}.ipynb", as_version=4)
        html = "".join(o.get("data", {}).get("text/html", "") for c in book.cells
                       if c.cell_type == "code" for o in c.outputs)  # fmt: skip
        assert shown in html, name
        if absent:
            assert absent not in html, name


# -- the report's numbers --------------------------------------------------------------------
class _ReportParser(HTMLParser):
    """Numbers in <data>, the text outside <data>, <code> and <style>, and every URL."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.data: list[tuple[str, str]] = []
        self.text: list[str] = []
        self.urls: list[tuple[str, str, str]] = []  # (tag, attribute, value)
        self.tags: list[str] = []
        self.sections: list[str] = []
        self._stack: list[str] = []
        self._data_key: str | None = None
        self._data_text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        values = dict(attrs)
        for attr in ("src", "href", "srcset", "data", "poster"):
            if values.get(attr):
                self.urls.append((tag, attr, values[attr] or ""))
        if tag == "section":
            self.sections.append(values.get("id") or "")
        if tag == "data":
            self._data_key, self._data_text = values["value"], ""
        if tag not in ("img", "meta", "br"):
            self._stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag == "data" and self._data_key is not None:
            self.data.append((self._data_key, self._data_text))
            self._data_key = None
        if self._stack and self._stack[-1] == tag:
            self._stack.pop()

    def handle_data(self, data: str) -> None:
        if self._data_key is not None:
            self._data_text += data
        elif not {"code", "style", "title"} & set(self._stack):
            self.text.append(data)


def _parse(path: Path) -> _ReportParser:
    parser = _ReportParser()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def _lookup(tree: Any, key: str) -> Any:
    for part in key.split("/"):
        assert isinstance(tree, dict) and part in tree, f"metrics.json has no {key}"
        tree = tree[part]
    return tree


def _shown(value: Any, text: str) -> bool:
    """Is ``text`` how ``value`` looks at the precision ``text`` has?"""
    if value is None:
        return text == "-"
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return text == str(value)
    decimals = len(text.split(".", 1)[1]) if "." in text else 0
    return decimals in (1, 2) and text == f"{value:.{decimals}f}"


def _leaves(tree: Any) -> list[Any]:
    if isinstance(tree, dict):
        return [v for child in tree.values() for v in _leaves(child)]
    return [tree]


DATES = re.compile(r"\d{4}-\d{2}-\d{2}( \d{2}:\d{2})?")
NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?=x\b|[^\w.]|\.(?!\d)|$)")


def test_every_number_in_the_html_is_the_one_in_metrics_json(study_run: StudyRun) -> None:
    metrics = json.loads((study_run.out / "metrics.json").read_text())["metrics"]
    parsed = _parse(study_run.out / "rollout-report.html")
    assert len(parsed.data) > 200
    for key, text in parsed.data:
        value = _lookup(metrics, key)
        assert _shown(value, text), f"{key}: shown {text!r}, metrics.json has {value!r}"
    # No number outside a <data> element (code, file names and run start dates aside).
    outside = [n for chunk in parsed.text for n in NUMBER.findall(DATES.sub("", chunk))]
    assert outside == [], outside[:20]


def test_markdown_shows_the_same_numbers(study_run: StudyRun) -> None:
    metrics = json.loads((study_run.out / "metrics.json").read_text())["metrics"]
    formatted = set()
    for value in _leaves(metrics):
        if isinstance(value, bool) or value is None:
            continue
        formatted |= {str(value)} if isinstance(value, int) else {f"{value:.1f}", f"{value:.2f}"}
    markdown = (study_run.out / "rollout-report.md").read_text()
    prose = DATES.sub("", re.sub(r"`[^`]*`|\]\([^)]*\)", "", markdown))
    tokens = NUMBER.findall(prose)
    assert tokens and set(tokens) <= formatted, sorted(set(tokens) - formatted)[:20]
    html_numbers = {text for _, text in _parse(study_run.out / "rollout-report.html").data}
    assert set(tokens) == html_numbers - {"-"}


def test_metrics_are_the_result_files_numbers(study_run: StudyRun) -> None:
    """metrics.json's keys point into the result files (checked against the files)."""
    metrics = json.loads((study_run.out / "metrics.json").read_text())["metrics"]
    rec = study_run.name
    replay = json.loads((study_run.out / f"replay-{rec}.json").read_text())
    sim = json.loads((study_run.out / f"simulation-{rec}.json").read_text())
    explore = json.loads((study_run.out / "explore.json").read_text())["recordings"][rec]
    for mode in MODES:
        total = replay["modes"][mode]["total"]
        shown = metrics["replay"][rec][mode]
        for key in ("time_to_first_item_queued_seconds", "items_queued", "duplicates_skipped",
                    "peak_enqueue_rate_10s", "deduplication_hit_rate"):  # fmt: skip
            assert shown[key] == total[key], (mode, key)
        assert (
            shown["processing"]["latency_p95_seconds"] == total["processing"]["latency_p95_seconds"]
        )
        for i, run in enumerate(replay["modes"][mode]["runs"]):
            assert shown["runs"][str(i)]["items_queued"] == run["items_queued"]
        for metric in ("run_first_item_processed_s", "latency_p95_s", "replica_seconds"):
            stats = sim["modes"][mode][metric]  # mean, 95 % interval and the seeds counted
            assert metrics["simulation"][rec][mode][metric] == {
                k: stats[k] for k in ("mean", "ci_low", "ci_high")
            }
    assert metrics["recordings"][rec]["items_collected"] == explore["items_collected"]
    # The tiny recording: run 1 repeats run 0 but for one new post.
    assert replay["modes"]["streaming"]["runs"][1]["items_queued"] == 1
    # Run 0: limited-feed serves rss-example's feed again (same guid, link and text); run 1:
    # every item but the new post was seen in run 0, by all three keys. Each counts under the
    # first kind that matched: id (docs/dedup.md).
    runs = metrics["recordings"][rec]["runs"]
    assert runs["0"]["overlap"]["duplicates_seen_in_earlier_runs"] == 0
    assert runs["0"]["overlap"]["duplicates_within_run"] == 1
    assert runs["0"]["overlap"]["duplicates_by_key"] == {"id": 1, "link": 0, "text": 0}
    assert runs["1"]["overlap"]["duplicates_seen_in_earlier_runs"] == 10
    assert runs["1"]["overlap"]["duplicates_within_run"] == 0
    assert runs["1"]["overlap"]["duplicates_by_key"] == {"id": 10, "link": 0, "text": 0}


def test_the_rollout_study_is_in_the_report(study_run: StudyRun) -> None:
    """The rollout options, the send limit, the hazards and the tuning are sections; the
    recommendation heads the summary, its numbers those of recommendation.json."""
    rec = study_run.name
    parsed = _parse(study_run.out / "rollout-report.html")
    assert parsed.sections[4:8] == ["rollout", "rate_limit", "hazards", "tuning"]
    html = (study_run.out / "rollout-report.html").read_text()
    recommendation = json.loads((study_run.out / "recommendation.json").read_text())
    assert html.index("Roll out ") < html.index("Recommendation: ") < html.index("<nav>")
    metrics = json.loads((study_run.out / "metrics.json").read_text())["metrics"]
    scores = recommendation["option"]["scores"]
    for option, score in scores.items():
        shown = metrics["recommendation"]["option"][option]
        assert shown["streaming_share"] == score["streaming_share"]
        assert shown["content_hashes_lost"] == score["content_hashes_lost"] == 0
    rollouts = json.loads((study_run.out / f"rollout-{rec}.json").read_text())["options"]
    assert set(rollouts) == {"big-bang", "phased", "ab"}
    for option, doc in rollouts.items():
        for i, step in enumerate(doc["steps"]):
            assert (
                metrics["rollout"][rec][option][str(i)]["items_queued"]
                == (step["total"]["items_queued"])
            )
    # The fault case: the stalled feed went back to batch, and the option rule saw it.
    fault = json.loads((study_run.out / "rollout-fault-stalled-feed.json").read_text())
    assert [f["source"] for f in fault["fallbacks"]] == ["martin-fowler"]
    assert scores["ab"]["contains_a_misbehaving_source"] is True
    sweep = json.loads((study_run.out / f"rate-limit-{rec}.json").read_text())
    assert (
        metrics["rate_limit"][rec]["batch"]["peak_enqueue_rate_10s"]
        == (sweep["batch"]["peak_enqueue_rate_10s"])
    )
    criteria = {c: v for c, v in re.findall(r"<td>([^<]+)</td><td[^>]*>(PASS|FAIL|-)</td>", html)}
    assert criteria["Batch fallback works (sources switched between modes lose nothing)"] == "PASS"


# -- the report's form -----------------------------------------------------------------------
def test_html_is_self_contained_and_summary_first(study_run: StudyRun) -> None:
    html = (study_run.out / "rollout-report.html").read_text()
    parsed = _parse(study_run.out / "rollout-report.html")
    assert "script" not in parsed.tags and "iframe" not in parsed.tags
    assert "link" not in parsed.tags  # styles are inline, fonts are the reader's own
    assert not re.search(r"@import|url\(", html)
    for tag, attr, value in parsed.urls:
        assert not value.lower().startswith(("http://", "https://", "//")), (tag, attr, value)
    images = [v for tag, attr, v in parsed.urls if tag == "img" and attr == "src"]
    assert len(images) >= 6 and all(v.startswith("data:image/png;base64,") for v in images)
    assert parsed.sections[0] == "summary"
    assert parsed.sections[1:4] == ["recordings", "replay", "simulation"]
    assert html.index("Recommendation:") < html.index("<nav>")


def test_figures_are_written_for_the_markdown(study_run: StudyRun) -> None:
    markdown = (study_run.out / "rollout-report.md").read_text()
    linked = re.findall(r"!\[[^\]]*\]\((figures/[^)]+\.png)\)", markdown)
    assert len(linked) >= 6
    for link in linked:
        assert (study_run.out / link).read_bytes().startswith(b"\x89PNG")


# -- failures --------------------------------------------------------------------------------
def test_a_failing_cell_fails_the_report_with_one_line(tmp_path: Path) -> None:
    recording = build_tiny_recording(tmp_path / "broken")
    (recording / "run-001.har").write_text("{not json")  # the folder opens; reading run 1 fails
    done = subprocess.run(
        [sys.executable, "-m", "workbench.cli", "report", "--recording", str(recording),
         "--out", str(tmp_path / "out")],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("workbench report:")]
    assert len(errors) == 1, done.stderr
    assert errors[0].startswith(
        "workbench report: error: notebook 01-explore-recordings, cell 4: ReplayError: "
    ), errors[0]
    assert "run-001.har" in errors[0] and "executed copy:" in errors[0]
    assert "Traceback" not in done.stderr
    assert (tmp_path / "out" / "notebooks" / "01-explore-recordings.ipynb").is_file()
    assert not (tmp_path / "out" / "notebooks" / "02-replay-batch-vs-streaming.ipynb").exists()


def test_a_bad_recording_is_refused_before_any_notebook_runs(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    done = subprocess.run(
        [sys.executable, "-m", "workbench.cli", "report", "--recording", str(empty),
         "--out", str(tmp_path / "out")],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"workbench report: error: {empty}: not a recording (no manifest.json)"
    ]
    assert not (tmp_path / "out").exists()


def test_a_cached_replay_is_reused_until_the_recording_changes(
    study_run: StudyRun, tmp_path: Path
) -> None:
    """02 loads replay-<rec>.json instead of replaying when it is newer than the recording;
    without storage configured a replay would have to start Azurite, which it is not given."""
    from workbench.study import Results, replay_recordings

    out = tmp_path / "out"
    out.mkdir()
    cached = study_run.out / f"replay-{study_run.name}.json"
    shutil.copy2(cached, out / cached.name)
    doc = json.loads(cached.read_text())
    settings = doc["replay_settings"]
    lines: list[str] = []
    kwargs = dict(
        speed=settings["speed"], processors=settings["processors"],
        processor_concurrency=settings["processor_concurrency"],
        service_time=settings["service_time"], seed=settings["seed"], progress=lines.append,
    )  # fmt: skip
    again = replay_recordings([study_run.recording], Results(out), **kwargs)
    assert again[study_run.name] == doc
    assert lines and "using the cached replay" in lines[0]


def test_a_cached_replay_is_stale_once_the_recording_or_the_settings_change(
    study_run: StudyRun, tmp_path: Path
) -> None:
    import os

    from workbench.study import Results
    from workbench.study.replay import cached_replay

    recording = tmp_path / study_run.name
    shutil.copytree(study_run.recording, recording)
    out = tmp_path / "out"
    out.mkdir()
    cached = shutil.copy2(study_run.out / f"replay-{study_run.name}.json", out)
    settings = json.loads(Path(cached).read_text())["replay_settings"]
    stamp = Path(cached).stat().st_mtime
    for path in recording.iterdir():
        os.utime(path, (stamp - 10, stamp - 10))
    assert cached_replay(recording, Results(out), settings) is not None
    assert cached_replay(recording, Results(out), {**settings, "speed": 1.0}) is None
    os.utime(recording / "run-001.har", (stamp + 1, stamp + 1))
    assert cached_replay(recording, Results(out), settings) is None

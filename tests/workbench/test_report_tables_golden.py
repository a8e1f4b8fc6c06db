"""Every table of the report, rendered from fixed inputs and diffed against a reviewed golden
file (tests/workbench/golden/tables.md): labels, units, sources, captions, alignment, each
number's text and its metrics.json key. The numbers' own logic is checked against
hand-computed values in tests/workbench/test_report.py; this catches everything else a reader
sees changing unnoticed.

After a deliberate change, regenerate and review the diff:
``UPDATE_GOLDEN=1 .venv/bin/pytest tests/workbench/test_report_tables_golden.py``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from tests.workbench.test_report import _replay_doc
from workbench.report import Num, Table, markdown_table, parts, plain
from workbench.simreport import SIM_ROWS
from workbench.study import tables

GOLDEN = Path(__file__).parent / "golden"


def _simulation() -> dict[str, Any]:
    """A simulation document: each metric's mean and interval differ per mode and row."""
    modes = {
        mode: {
            metric: (
                {"mean": None, "ci_low": None, "ci_high": None}
                if (mode, i) == ("batch", 2)
                else {"mean": 10.0 * (i + 1) + m, "ci_low": 9.0 * (i + 1), "ci_high": 11.0 * (i + 1) + 2 * m}
            )
            for i, (_, metric, _, _) in enumerate(SIM_ROWS)
        }
        for m, mode in enumerate(("batch", "streaming"))
    }  # fmt: skip
    events = [{"t": 30.0, "from": 0, "to": 1, "by": "keda"}, {"t": 45.0, "from": 1, "to": 4, "by": "hpa"},
              {"t": 28_830.0, "from": 0, "to": 1, "by": "keda"}, {"t": 29_160.0, "from": 1, "to": 0, "by": "keda"}]  # fmt: skip
    return {
        "settings": {"seeds": 5},
        "modes": modes,
        "scale_events": {"batch": {"events": events}, "streaming": {"events": events[:1]}},
        "timeline": {"batch": {"seed": 0}},
    }


def _render(name: str, table: Table) -> str:
    lines = [f"## {name}", "", markdown_table(table), ""]
    lines += [f"source: {table.source}", f"caption: {plain(table.caption)}"]
    lines += [f"right-aligned: {table.aligned_right()}", ""]
    for cell in [table.caption, *(cell for row in table.rows for cell in row)]:
        for part in parts(cell):
            if isinstance(part, Num):
                lines.append(f"- {'/'.join(part.key)} = {part.value!r} ({part.text})")
    return "\n".join(lines) + "\n"


def _sparse_replay() -> dict[str, Any]:
    """A replay document with the optional keys left out, short start times and no errors."""
    replay = _replay_doc()
    batch, streaming = (replay["modes"][m] for m in ("batch", "streaming"))
    for run in batch["runs"]:
        del run["errors"]
    del batch["total"]["errors"]
    batch["runs"][0]["started_at"] = "2024-05-14"
    batch["runs"][1]["started_at"] = "2024-05-14T08:00"  # exactly 16 characters
    batch["runs"][1]["time_to_first_item_queued_seconds"] = None
    streaming["runs"][0]["first_item_limit_seconds"] = 0
    del streaming["runs"][0]["per_source"]
    source = streaming["runs"][1]["per_source"]["feed-a"]
    del source["items_queued"], source["type"]
    batch["runs"][0]["per_source"]["feed-b"] = {"items_queued": 2}  # no type, no rates
    del batch["runs"][0]["per_source"]["feed-a"]["type"]
    return replay


def _explore_with_errors() -> dict[str, Any]:
    explore = json.loads((GOLDEN / "explore-dedup.json").read_text())
    first, second = explore["runs"]
    first["totals"]["errors"] = {"timeout": 1, "parse": 2}
    first["sources"]["blog"].update(rejections={"too_old": 2}, errors={"timeout": 1})
    second["sources"]["blog"].update(rejections={"too_old": 1, "empty": 3}, errors={"parse": 2})
    del second["sources"]["devto"]  # a source that did not run
    del second["sources"]["notes"]["bytes_received"]
    return explore


def _document() -> str:
    replay = _replay_doc(streaming_errors=[{"feed-a": {"parse": 2}, "feed-b": {"timeout": 1}}, {}])
    replay["modes"]["streaming"]["runs"][0]["items_queued"] = 0  # a run the error stopped
    replay["modes"]["batch"]["total"]["processing"]["items_processed"] = 6
    explore = json.loads((GOLDEN / "explore-dedup.json").read_text())
    simulation = _simulation()
    built = [
        ("comparison", tables.comparison_table("x", replay)),
        ("comparison with the simulation", tables.comparison_table("x", replay, simulation)),
        ("per run", tables.per_run_table("x", replay)),
        ("per source", tables.per_source_table("x", replay)),
        ("criteria", tables.criteria_table("x", replay)),
        ("simulation", tables.simulation_table("x", simulation)),
        ("scale events", tables.scale_events_table("x", simulation, [0.0, 28_800.0])),
        ("recording runs", tables.recording_runs_table("d", explore)),
        ("overlap", tables.overlap_table("d", explore)),
        ("dedup by source", tables.dedup_sources_table("d", explore)),
        ("dedup examples", tables.dedup_examples_table("d", explore)),
        ("recording sources", tables.recording_sources_table("d", explore)),
    ]
    sparse = _sparse_replay()
    late = _simulation()
    late["scale_events"] = {"batch": {"events": [
        {"t": 5.0, "from": 0, "to": 1, "by": "keda"}, {"t": 28_810.0, "from": 0, "to": 2, "by": "keda"},
    ]}, "streaming": {}}  # fmt: skip
    errors = _explore_with_errors()
    built += [
        ("comparison, sparse", tables.comparison_table("s", sparse)),
        ("per run, sparse", tables.per_run_table("s", sparse)),
        ("per source, sparse", tables.per_source_table("s", sparse)),
        ("criteria, sparse", tables.criteria_table("s", sparse)),
        ("scale events before and at a run's start", tables.scale_events_table("s", late, [10.0, 28_810.0])),
        ("recording runs with errors", tables.recording_runs_table("e", errors)),
        ("recording sources with errors", tables.recording_sources_table("e", errors)),
    ]  # fmt: skip
    return "\n".join(_render(name, table) for name, table in built)


def test_the_tables_are_the_reviewed_ones() -> None:
    golden = GOLDEN / "tables.md"
    got = _document()
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(got)
    assert got == golden.read_text(), "tables changed: see the module docstring to regenerate"

"""``workbench inspect`` explains duplicates by key kind (docs/dedup.md), on the fixture
recording tests/fixtures/dedup and on the shipped recordings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.recording import Recording
from workbench.cli import main
from workbench.inspection import EXAMPLES_PER_KIND, dedup_summary
from workbench.paths import PROJECT_ROOT as ROOT

FIXTURE = ROOT / "tests" / "fixtures" / "dedup"
RECORDINGS = ROOT / "data" / "recordings"


def test_inspect_json_counts_duplicates_by_key_per_run_and_source(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "inspect.json"
    assert main(["inspect", str(FIXTURE), "--json", str(out)]) == 0
    dedup = json.loads(out.read_text())["deduplication"]
    # Hand-derived in tests/pipeline/test_dedup_collect.py's docstring: run 0 has 9
    # duplicates (id 2, link 5, text 2) of 32, run 1 has 32 (id 25, link 5, text 2) of 33.
    assert (dedup["duplicates"], dedup["items_collected"]) == (41, 65)
    assert dedup["by_key"] == {"id": 27, "link": 10, "text": 4}
    assert dedup["key_order"] == ["id", "link", "text"]
    assert [r["by_key"] for r in dedup["runs"]] == [
        {"id": 2, "link": 5, "text": 2},
        {"id": 25, "link": 5, "text": 2},
    ]
    run0 = dedup["runs"][0]["per_source"]
    assert list(run0) == [s.name for s in Recording.open(FIXTURE).sources.sources]
    assert run0["reddit-programming"]["duplicates"] == 4
    assert run0["reddit-programming"]["by_key"] == {"id": 0, "link": 4, "text": 0}
    assert run0["microblog"] == {
        "duplicates": 0,
        "by_key": {"id": 0, "link": 0, "text": 0},
        "examples": {"id": [], "link": [], "text": []},
    }
    assert dedup["per_source"]["reddit-learnpython"] == {
        "duplicates": 7, "by_key": {"id": 5, "link": 2, "text": 0}}  # fmt: skip
    for run in dedup["runs"]:
        for source in run["per_source"].values():
            assert sum(source["by_key"].values()) == source["duplicates"]
        assert sum(s["duplicates"] for s in run["per_source"].values()) == run["duplicates"]

    # Examples: both items (run, source, title) and the key that matched.
    text = dedup["runs"][0]["examples"]["text"]
    assert text[0] == {
        "key": text[0]["key"],
        "item": {"run": 0, "source": "devto", "title": "Deduplication keys that do not lose posts"},
        "first_seen": {"run": 0, "source": "blog",
                       "title": "Deduplication keys that do not lose posts"},
    }  # fmt: skip
    assert text[0]["key"].startswith("hash:")
    link = dedup["runs"][0]["per_source"]["reddit-programming"]["examples"]["link"]
    assert len(link) == EXAMPLES_PER_KIND == 3
    assert link[0]["key"] == "url:https://blog.example.org/2024/05/streaming-collectors/"
    assert link[0]["item"]["title"] == "Going from batch to streams"
    assert link[0]["first_seen"]["title"] == "Streaming collectors in practice"
    later_devto = dedup["runs"][1]["per_source"]["devto"]["examples"]["text"][0]
    assert (later_devto["item"]["run"], later_devto["first_seen"]["run"]) == (1, 0)
    assert all(len(v) <= EXAMPLES_PER_KIND for v in dedup["examples"].values())

    printed = capsys.readouterr().out
    assert "by key id=27,link=10,text=4" in printed
    assert "in the order id, link, text" in printed
    assert "    - reddit-programming           4 (id=0,link=4,text=0)" in printed
    assert (
        'run 0 devto "Deduplication keys that do not lose posts" = run 0 blog '
        '"Deduplication keys that do not lose posts"  [hash:'
    ) in printed


@pytest.mark.parametrize(
    ("name", "duplicates", "collected", "by_key"),
    [
        # Unchanged by the rules of docs/dedup.md: no shipped link has a fragment, and every
        # duplicate but one matches by id or link; that one (a Mastodon post seen on two
        # timelines under two ids) has 29 words, past the text threshold.
        ("synthetic-tech", 117, 909, {"id": 100, "link": 16, "text": 1}),
        ("design-scale", 49, 313, {"id": 35, "link": 14, "text": 0}),
    ],
)
def test_shipped_recordings_hit_rates(
    name: str, duplicates: int, collected: int, by_key: dict[str, int]
) -> None:
    dedup = dedup_summary(Recording.open(RECORDINGS / name))
    assert (dedup["duplicates"], dedup["items_collected"]) == (duplicates, collected)
    assert dedup["by_key"] == by_key


def test_explore_notebook_shows_the_same_counts_by_key_per_source(tmp_path: Path) -> None:
    from workbench import study

    doc = study.explore_recordings([str(FIXTURE)], study.Results(tmp_path))
    explored = doc["recordings"]["dedup"]
    assert [r["overlap"]["duplicates_by_key"] for r in explored["runs"]] == [
        {"id": 2, "link": 5, "text": 2},
        {"id": 25, "link": 5, "text": 2},
    ]
    section = study.duplicates_section(study.Context.of(tmp_path, [str(FIXTURE)]))
    by_source, examples = (b for b in section.blocks if hasattr(b, "frame"))
    frame = by_source.frame.set_index("Source")
    # Over both runs (test_dedup_collect.py's docstring): Reddit's link posts 4 + 4 by link,
    # the cross-post 1 + 1 by text, "How?"/"Help" 5 by id (run 1) and "Why?" 1 + 1 by link.
    assert frame.loc["reddit-programming"].tolist() == [8, 0, 8, 0]
    assert frame.loc["devto"].tolist() == [2, 0, 0, 2]
    assert frame.loc["reddit-learnpython"].tolist() == [7, 5, 2, 0]
    assert frame["Duplicates"].sum() == 41
    rows = examples.frame
    assert rows["Kind"].tolist() == ["id"] * 3 + ["link"] * 3 + ["text"] * 3
    assert rows.iloc[6]["Source"] == "devto" and rows.iloc[6]["First source"] == "blog"

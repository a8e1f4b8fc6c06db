"""A recording's manifest names HAR files inside its own folder only (issue 12, defect 10)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from pipeline.errors import ReplayError
from pipeline.recording import Recording

HAR = Path(__file__).resolve().parents[1] / "fixtures" / "har" / "feeds.har"
SOURCES = "sources:\n  - {name: a, type: rss, url: 'https://rss.example/feed.xml'}\n"


def recording(tmp_path: Path, har: str) -> Path:
    folder = tmp_path / "rec"
    folder.mkdir()
    (folder / "sources.yaml").write_text(SOURCES)
    (folder / "manifest.json").write_text(
        json.dumps({"runs": [{"har": har, "started_at": "2024-05-14T06:00:00Z"}]})
    )
    return folder


def test_a_har_in_the_folder_opens(tmp_path: Path) -> None:
    folder = recording(tmp_path, "runs/run-000.har")
    (folder / "runs").mkdir()
    shutil.copyfile(HAR, folder / "runs" / "run-000.har")
    [run] = Recording.open(folder).runs
    assert run.har_path == folder / "runs" / "run-000.har"


@pytest.mark.parametrize("where", ["parent", "absolute", "symlink"])
def test_a_har_outside_the_folder_is_refused(tmp_path: Path, where: str) -> None:
    outside = tmp_path / "outside.har"
    shutil.copyfile(HAR, outside)
    name = {"parent": "../outside.har", "absolute": str(outside), "symlink": "link.har"}[where]
    folder = recording(tmp_path, name)
    if where == "symlink":
        (folder / "link.har").symlink_to(outside)
    with pytest.raises(ReplayError) as info:
        Recording.open(folder)
    message = str(info.value)
    assert "outside the recording folder" in message and "runs[0]" in message, message
    assert "\n" not in message

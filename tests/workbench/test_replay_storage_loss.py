"""Storage that disappears mid-replay (issue 12, defect 8): the runs that completed keep their
numbers, in the table and in ``--json``, and the error is one line that says where they are."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workbench import cli, cmd_replay
from workbench.azurite import Azurite
from workbench.paths import SHIPPED_RECORDING


def test_the_runs_before_the_storage_went_away_are_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    server = Azurite()
    server.start()
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", server.connection_string)
    shown = cmd_replay.progress

    def progress(text: str) -> None:
        shown(text)
        if text.startswith("streaming: run 1 queued"):
            server.stop()  # storage goes away after the first run completes

    out = tmp_path / "metrics.json"
    try:
        monkeypatch.setattr(cmd_replay, "progress", progress)
        code = cli.main(["replay", "--recording", str(SHIPPED_RECORDING), "--mode", "streaming",
                         "--speed", "200", "--json", str(out)])  # fmt: skip
    finally:
        server.stop()
    captured = capsys.readouterr()
    assert code == 2
    [line] = [x for x in captured.err.splitlines() if "error:" in x]
    assert line.startswith("workbench replay: error: ") and "not reachable" in line, line
    assert f"the numbers of the 1 run(s) that completed are written to {out}" in line
    doc = json.loads(out.read_text())
    [run] = doc["modes"]["streaming"]["runs"]
    assert run["run"] == 0 and run["items_queued"] > 0
    assert doc["incomplete"]["runs_completed"] == 1 and doc["incomplete"]["mode"] == "streaming"
    assert str(run["items_queued"]) in captured.out  # the table of what completed

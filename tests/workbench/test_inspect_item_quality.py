"""``workbench inspect`` shows the item-quality rejections (``removed``, ``not_public``) and the
servers' error text, on the fixture recording tests/fixtures/item-quality (issue 17)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.pipeline.item_fixtures import ITEM_QUALITY
from workbench.cli import main


def test_inspect_shows_removed_and_not_public(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = tmp_path / "out.json"
    assert main(["inspect", str(ITEM_QUALITY), "--json", str(report)]) == 0
    lines = {
        line.split()[0]: line for line in capsys.readouterr().out.splitlines() if line[:2] == "  "
    }
    # 13 posts: 4 removed (moderator, banned_by, deleted by the author, crosspost of a removed
    # post); 11 statuses: 4 not public (private, direct, a private boost, limited).
    for name in ("reddit-raw", "reddit-escaped"):
        assert " 9 " in lines[name] and "removed=4" in lines[name], lines[name]
    for name in ("mastodon-tag", "mastodon-trending"):
        assert " 7 " in lines[name] and "not_public=4" in lines[name], lines[name]
    doc = json.loads(report.read_text())
    [run] = doc["runs"]
    assert run["totals"]["rejections"] == {"not_public": 8, "removed": 8}
    assert run["sources"]["mastodon-public"]["last_error"].endswith(
        "HTTP 401 (server: This API requires an authenticated user)"
    )
    assert run["sources"]["reddit-private"]["last_error"].endswith(
        "HTTP 403 (server: Forbidden - private)"
    )

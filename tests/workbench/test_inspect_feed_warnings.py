"""`workbench inspect` shows feed warnings (a quiet feed is not a broken one)."""

from __future__ import annotations

import json
from pathlib import Path

from workbench.inspection import format_report, inspect_recording

FEEDS = Path(__file__).resolve().parents[1] / "fixtures" / "feeds"


def test_an_empty_feed_shows_as_a_warning_in_the_report(tmp_path: Path) -> None:
    entries = []
    for name in ("empty.xml", "recovered_empty.xml"):
        entries.append(
            {
                "startedDateTime": "2024-05-14T00:00:00.000Z",
                "time": 100,
                "request": {"method": "GET", "url": f"https://feeds.example/{name}"},
                "response": {
                    "status": 200,
                    "headers": [{"name": "content-type", "value": "application/rss+xml"}],
                    "content": {
                        "mimeType": "application/rss+xml",
                        "text": (FEEDS / name).read_text(encoding="utf-8"),
                    },
                },
            }
        )
    (tmp_path / "run-000.har").write_text(json.dumps({"log": {"entries": entries}}))
    (tmp_path / "manifest.json").write_text(json.dumps({"runs": []}))
    sources = [
        {"name": "quiet", "type": "rss", "url": "https://feeds.example/empty.xml"},
        {"name": "broken", "type": "rss", "url": "https://feeds.example/recovered_empty.xml"},
    ]
    (tmp_path / "sources.yaml").write_text(json.dumps({"sources": sources}))
    doc = inspect_recording(tmp_path)
    quiet = doc["runs"][0]["sources"]["quiet"]
    assert quiet["warnings"] == {"empty": 1} and quiet["errors"] == {}
    lines = {
        line.split()[0]: line
        for line in format_report(doc).splitlines()
        if line[:3] == "  q" or line[:3] == "  b"
    }
    assert lines["quiet"].endswith("- (warnings empty=1)")
    assert lines["broken"].endswith("parse=1")

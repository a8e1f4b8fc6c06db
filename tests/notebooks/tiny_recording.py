"""A small recording made from the HAR fixtures (never the shipped one), and what a run of
``workbench report`` on it left behind."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from pipeline.har import load_har, write_har

HAR = Path(__file__).resolve().parent.parent / "fixtures" / "har"

SOURCES_YAML = """\
sources:  # the defaults: 60 requests a minute, titles of 10 characters at least
  - {name: reddit-python, type: reddit, subreddit: Python, sort: new, limit: 5, pages: 3,
     min_score: 0, base_url: "https://www.reddit.com"}
  - {name: fosstodon-python, type: mastodon, instance: "https://fosstodon.org",
     timeline: "tag:python", limit: 4, pages: 2, min_boosts: 0}
  - {name: rss-example, type: rss, url: "https://rss.example/feed.xml"}
  - {name: atom-example, type: rss, url: "https://atom.example/atom.xml"}
  - {name: rdf-example, type: rss, url: "https://rdf.example/index.rdf"}
  - {name: moved-feed, type: rss, url: "https://moved.example/feed"}
  - {name: limited-feed, type: rss, url: "https://limited.example/feed"}
"""
RUN_STARTS = ("2024-05-14T00:00:00Z", "2024-05-14T08:00:00Z")
# Run 1 repeats run 0 except one Reddit post, which is new (another id and title).
NEW_POST = (("aaa0007", "bbb0007"), ("The second page has posts too", "Fresh on the second page"))


def _shifted(entry: dict, hours: int, replace: tuple[tuple[str, str], ...]) -> dict:
    out = copy.deepcopy(entry)
    started = datetime.fromisoformat(out["startedDateTime"].replace("Z", "+00:00"))
    out["startedDateTime"] = (started + timedelta(hours=hours)).isoformat().replace("+00:00", "Z")
    content = out["response"]["content"]
    if "text" in content and content.get("encoding") != "base64":
        for old, new in replace:
            content["text"] = content["text"].replace(old, new)
    return out


def build_tiny_recording(folder: Path) -> Path:
    """Two runs 8 h apart of seven sources (Reddit, Mastodon, five feeds: one answers with an
    HTML page, one with 429 then the feed) from tests/fixtures/har."""
    folder.mkdir(parents=True)
    entries = [
        e for name in ("reddit.har", "mastodon.har", "feeds.har") for e in load_har(HAR / name)
    ]
    (folder / "sources.yaml").write_text(SOURCES_YAML)
    write_har(folder / "run-000.har", entries, comment="tiny fixture run 0")
    write_har(folder / "run-001.har", [_shifted(e, 8, NEW_POST) for e in entries], comment="run 1")
    manifest = {
        "format": "workbench-recording/1",
        "name": folder.name,
        "synthetic": True,
        "runs": [
            {"index": i, "har": f"run-{i:03d}.har", "started_at": start}
            for i, start in enumerate(RUN_STARTS)
        ],
    }
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return folder


@dataclass(frozen=True)
class StudyRun:
    recording: Path
    out: Path
    exit_code: int
    stdout: str
    stderr: str

    @property
    def name(self) -> str:
        return self.recording.name

"""What no item may carry when it leaves the collector (issue 17), checked over every item of
the Reddit/Mastodon fixture recording and of both shipped recordings: a relative URL, a
literal HTML character reference, the author ``[deleted]``, a Mastodon status that is not
public or unlisted, a removed Reddit post. Each item is traced back to its raw payload in
the HAR, so the checks do not trust what the collector wrote into ``metadata``."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime
from html.entities import html5
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from pipeline.har import entry_body, load_har
from pipeline.items import ContentItem
from pipeline.recording import Recording, replay_run_sequential
from tests.pipeline.item_fixtures import ITEM_QUALITY
from workbench.paths import PROJECT_ROOT as ROOT

RECORDINGS = {
    "item-quality": ITEM_QUALITY,
    "synthetic-tech": ROOT / "data" / "recordings" / "synthetic-tech",
    "design-scale": ROOT / "data" / "recordings" / "design-scale",
}
_REFERENCE = re.compile(r"&(#[0-9]+|#[xX][0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]*);")
PUBLIC = {"public", "unlisted"}


def literal_references(text: str) -> list[str]:
    """Character references that an HTML reader would turn into characters."""
    return [m[0] for m in _REFERENCE.finditer(text) if m[1].startswith("#") or f"{m[1]};" in html5]


def _payloads(run_har: Path) -> tuple[dict[str, Any], dict[str, list[bool]]]:
    """Reddit posts by fullname, and for each Mastodon status URI whether each appearance of
    it (as itself, or boosted) was public, from the HAR's JSON bodies."""
    posts: dict[str, Any] = {}
    appearances: dict[str, list[bool]] = {}
    for entry in load_har(run_har):
        if entry["response"]["status"] != 200 or "json" not in entry["response"]["content"].get(
            "mimeType", ""
        ):
            continue
        doc = json.loads(entry_body(entry))
        if isinstance(doc, dict) and doc.get("kind") == "Listing":
            for child in doc["data"]["children"]:
                posts[child["data"]["name"]] = child["data"]
        elif isinstance(doc, list):
            for status in doc:
                original = status.get("reblog") or status
                public = original.get("visibility") in PUBLIC
                if status.get("reblog"):
                    public = public and status.get("visibility") in PUBLIC
                appearances.setdefault(original["uri"], []).append(public)
    return posts, appearances


def _problems(
    item: ContentItem, posts: dict[str, Any], statuses: dict[str, list[bool]]
) -> list[str]:
    problems = []
    parts = urlsplit(item.url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        problems.append(f"url {item.url!r}")
    for field in ("title", "body", "author"):
        found = literal_references(getattr(item, field))
        if found:
            problems.append(f"{field} holds {found[:3]}")
    if item.author == "[deleted]":
        problems.append("author [deleted]")
    if item.source == "mastodon" and not any(statuses.get(item.source_id, [])):
        problems.append(f"visibility: never public in the payload {statuses.get(item.source_id)}")
    if item.source == "reddit":
        post = posts[item.source_id]
        chain = [post, *(post.get("crosspost_parent_list") or [])[:1]]
        if any(p.get("removed_by_category") or p.get("banned_by") for p in chain):
            problems.append("a removed post")
    return problems


@pytest.mark.parametrize("name", sorted(RECORDINGS))
def test_no_item_leaves_the_collector_with_a_quality_defect(name: str) -> None:
    recording = Recording.open(RECORDINGS[name])
    checked = 0
    failures: list[str] = []
    for run in recording.runs:
        posts, statuses = _payloads(run.har_path)
        result = asyncio.run(replay_run_sequential(recording, run.index))
        for item in result.all_items():
            if item.source in ("reddit", "mastodon"):
                checked += 1
                for problem in _problems(item, posts, statuses):
                    failures.append(f"run {run.index} {item.source_id}: {problem}")
    assert checked >= 30, checked
    assert failures == []


def test_the_checks_catch_each_defect() -> None:
    good = ContentItem.create(
        source="mastodon", source_name="m", source_id="https://m.example/s/1",
        url="https://m.example/@a/1", title="A title", body="Fish & chips; AT&T",
        author="a@m.example", published_at=datetime(2024, 5, 14, tzinfo=UTC),
    )  # fmt: skip
    statuses = {"https://m.example/s/1": [False, True]}
    assert _problems(good, {}, statuses) == []
    assert literal_references("a &amp; b &#x200B; &mdash; &nosuch; &para") == [
        "&amp;", "&#x200B;", "&mdash;"
    ]  # fmt: skip
    assert _problems(good, {}, {"https://m.example/s/1": [False]}) != []
    assert _problems(replace(good, url="/r/x/comments/1/"), {}, statuses) != []
    assert _problems(replace(good, body="a &amp; b"), {}, statuses) != []
    assert _problems(replace(good, author="[deleted]"), {}, statuses) != []
    post = replace(good, source="reddit", source_id="t3_1")
    assert _problems(post, {"t3_1": {"banned_by": "mod"}}, statuses) != []
    assert _problems(post, {"t3_1": {"crosspost_parent_list": [{"removed_by_category": "x"}]}},
                     statuses) != []  # fmt: skip
    assert _problems(post, {"t3_1": {}}, statuses) == []


def test_the_builder_reproduces_the_fixture_recording(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, str(ITEM_QUALITY / "build.py"), str(tmp_path)], check=True, cwd=ROOT
    )
    for name in ("sources.yaml", "manifest.json", "run-000.har"):
        assert (tmp_path / name).read_bytes() == (ITEM_QUALITY / name).read_bytes(), name

"""``workbench record`` against a local server, ``inspect`` of what it wrote, ``synth``, errors."""

from __future__ import annotations

import asyncio
import json
import shutil
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from pipeline.clock import Clock
from pipeline.recording import Recording, replay_run
from workbench.cli import main
from workbench.paths import SHIPPED_RECORDING as SHIPPED


def _t3(id36: str, title: str) -> dict[str, Any]:
    return {"kind": "t3", "data": {"name": f"t3_{id36}", "id": id36, "title": title,
            "selftext": "Body &amp; more", "is_self": True, "score": 5,
            "permalink": f"/r/python/comments/{id36}/x/", "author": "u",
            "created_utc": 1715644800.0, "stickied": id36 == "s", "over_18": False}}  # fmt: skip


def _status(sid: str, text: str) -> dict[str, Any]:
    return {"id": sid, "uri": f"https://m.example/users/a/statuses/{sid}",
            "url": f"https://m.example/@a/{sid}", "content": f"<p>{text}</p>",
            "created_at": "2024-05-14T00:00:00.000Z", "in_reply_to_id": None, "reblog": None,
            "visibility": "public",
            "reblogs_count": 1, "favourites_count": 2, "account": {"acct": "a"}}  # fmt: skip


RSS = (
    '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Local</title>'
    "<item><title>A local feed entry</title><link>http://feed.example/1</link>"
    '<guid isPermaLink="false">local-1</guid><description>&lt;p&gt;Hello&lt;/p&gt;</description></item>'
    "<item><title>Another local entry</title><link>http://feed.example/2</link>"
    '<guid isPermaLink="false">local-2</guid></item></channel></rss>'
)

# What the server serves and the collectors must accept (the stickied post is not).
SERVED = {
    "reddit": ["t3_a", "t3_b", "t3_c"],
    "masto": ["https://m.example/users/a/statuses/12", "https://m.example/users/a/statuses/11",
              "https://m.example/users/a/statuses/10"],
    "feed": ["local-1", "local-2"],
    "busy": ["local-1", "local-2"],
}  # fmt: skip


class _Handler(BaseHTTPRequestHandler):
    hits: dict[str, int] = {}

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    def do_GET(self) -> None:  # noqa: N802
        base = f"http://127.0.0.1:{self.server.server_address[1]}"
        path = self.path
        _Handler.hits[path] = _Handler.hits.get(path, 0) + 1
        headers = {"content-type": "application/json"}
        status = 200
        if path == "/r/python/new.json?limit=2&raw_json=1":
            body = {"kind": "Listing", "data": {"after": "t3_b", "children": [
                _t3("s", "Stickied weekly thread"), _t3("a", "First local post"),
                _t3("b", "Second local post")]}}  # fmt: skip
        elif path == "/r/python/new.json?limit=2&after=t3_b&raw_json=1":
            body = {"kind": "Listing", "data": {"after": None, "children": [
                _t3("c", "Third local post")]}}  # fmt: skip
        elif path == "/api/v1/timelines/tag/python?limit=2":
            nxt = f"{base}/api/v1/timelines/tag/python?limit=2&max_id=11"
            headers["link"] = f'<{nxt}>; rel="next"'
            body = [_status("12", "Local status twelve"), _status("11", "Local status eleven")]
        elif path == "/api/v1/timelines/tag/python?limit=2&max_id=11":
            body = [_status("10", "Local status number ten")]
        elif path == "/feed.xml" or (path == "/busy.xml" and _Handler.hits[path] % 2 == 0):
            headers = {"content-type": "application/rss+xml; charset=utf-8"}
            body = RSS
        elif path == "/busy.xml":  # every first try of a run is refused
            status, headers, body = 429, {"retry-after": "0.3"}, "busy"
        else:
            status, body = 404, {"error": path}
        data = (body if isinstance(body, str) else json.dumps(body)).encode()
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def server() -> Iterator[str]:
    _Handler.hits = {}
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def _sources_yaml(base: str) -> str:
    return f"""\
defaults: {{requests_per_minute: 600, timeout_s: 5}}
sources:
  - {{name: reddit, type: reddit, subreddit: python, limit: 2, pages: 2, base_url: "{base}"}}
  - {{name: masto, type: mastodon, instance: "{base}", timeline: "tag:python", limit: 2, pages: 2}}
  - {{name: feed, type: rss, url: "{base}/feed.xml"}}
  - {{name: busy, type: rss, url: "{base}/busy.xml"}}
"""


def test_record_then_inspect_gives_back_the_served_items(
    server: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sources = tmp_path / "sources.yaml"
    sources.write_text(_sources_yaml(server))
    out = tmp_path / "rec"
    assert main(["record", "--sources", str(sources), "--out", str(out), "--runs", "2"]) == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "manifest.json", "run-000.har", "run-001.har", "sources.yaml"]  # fmt: skip
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["synthetic"] is False and len(manifest["runs"]) == 2

    report = tmp_path / "out.json"
    capsys.readouterr()
    assert main(["inspect", str(out), "--json", str(report)]) == 0
    printed = capsys.readouterr().out
    assert "run 1" in printed and "reddit" in printed
    doc = json.loads(report.read_text())
    for run in doc["runs"]:
        accepted = {name: s["accepted"] for name, s in run["sources"].items()}
        assert accepted == {name: len(ids) for name, ids in SERVED.items()}
        assert run["sources"]["busy"]["status_codes"] == {"200": 1, "429": 1}
        assert run["sources"]["reddit"]["rejections"] == {"stickied": 1}

    recording = Recording.open(out)
    for run in recording.runs:
        replayed = asyncio.run(replay_run(recording, run.index, Clock(50)))
        assert {n: [i.source_id for i in items] for n, items in replayed.items.items()} == SERVED


def test_inspect_of_the_shipped_recording(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = tmp_path / "out.json"
    started = time.monotonic()
    assert main(["inspect", str(SHIPPED), "--json", str(report)]) == 0
    assert time.monotonic() - started < 30
    doc = json.loads(report.read_text())
    assert len(doc["runs"]) == 3
    for run in doc["runs"]:
        assert all(n > 0 for n in run["totals"]["accepted_by_type"].values())
        assert run["sources"]["infoq"]["errors"] == {"parse": 1}
        assert run["sources"]["github-blog"]["retries"] == 1
        assert run["totals"]["errors"] == {"parse": 1}
        assert 0.1 <= run["first_item_limit_seconds"] <= 1.0
    assert 0.10 <= doc["deduplication"]["hit_rate"] <= 0.20
    assert "deduplication" in capsys.readouterr().out


def _one_line_error(capsys: pytest.CaptureFixture[str], argv: list[str], expected: str) -> None:
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if "error:" in line]
    assert len(lines) == 1 and expected in lines[0], err
    assert "Traceback" not in err


def test_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _one_line_error(capsys, ["inspect", str(tmp_path / "nowhere")], "recording folder not found")
    bad = tmp_path / "bad.yaml"
    bad.write_text("sources:\n  - {name: x, type: rss, url: 'https://x', retries: 3}\n")
    _one_line_error(
        capsys,
        ["record", "--sources", str(bad), "--out", str(tmp_path / "r")],
        f"{bad}: source 'x': unknown key 'retries'",
    )
    # A recording whose sources.yaml asks for something the HAR does not have.
    rec = tmp_path / "rec"
    shutil.copytree(SHIPPED, rec)
    text = (rec / "sources.yaml").read_text()
    (rec / "sources.yaml").write_text(
        text + '  - {name: extra, type: rss, url: "https://news.ycombinator.com/newest"}\n'
    )
    _one_line_error(
        capsys,
        ["inspect", str(rec)],
        "no recorded answer for GET https://news.ycombinator.com/newest; closest recorded: "
        "https://news.ycombinator.com/rss",
    )


def test_synth_writes_a_recording_with_readme(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "synthetic-tech"
    assert main(["synth", "--seed", "42", "--out", str(out)]) == 0
    assert "deduplication hit rate" in capsys.readouterr().out
    assert (out / "README.md").read_text() == (SHIPPED / "README.md").read_text()
    assert Recording.open(out).manifest["synthetic"] is True

"""HAR 1.2 replay and recording at the transport seam."""

from __future__ import annotations

import base64
import gzip
import json
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest

from pipeline.clock import Clock, InstantClock
from pipeline.config import parse_sources
from pipeline.errors import ReplayError
from pipeline.har import RecordingTransport, ReplayTransport, load_har, match_key
from pipeline.sources import SourceStats, collect_source

# The parts of HAR 1.2 (http://www.softwareishard.com/blog/har-12-spec/) a replay relies on.
HAR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["log"],
    "properties": {
        "log": {
            "type": "object",
            "required": ["version", "creator", "entries"],
            "properties": {
                "version": {"const": "1.2"},
                "creator": {"type": "object", "required": ["name", "version"]},
                "entries": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["startedDateTime", "time", "request", "response",
                                     "cache", "timings"],
                        "properties": {
                            "startedDateTime": {"type": "string", "pattern": r"^\d{4}-\d\d-\d\dT"},
                            "time": {"type": "number", "minimum": 0},
                            "request": {"type": "object", "required": [
                                "method", "url", "httpVersion", "cookies", "headers",
                                "queryString", "headersSize", "bodySize"]},
                            "response": {"type": "object", "required": [
                                "status", "statusText", "httpVersion", "cookies", "headers",
                                "content", "redirectURL", "headersSize", "bodySize"]},
                            "timings": {"type": "object", "required": ["send", "wait", "receive"]},
                        },
                    },
                },
            },
        }
    },
}  # fmt: skip


def entry(url: str, text: str, *, time_ms: float = 100, started: str = "2024-05-14T00:00:00Z",
          status: int = 200, **content: Any) -> dict[str, Any]:  # fmt: skip
    return {
        "startedDateTime": started,
        "time": time_ms,
        "request": {"method": "GET", "url": url},
        "response": {"status": status, "headers": [], "content": {"text": text, **content}},
    }


@pytest.mark.anyio
async def test_query_order_ignored_and_repeats_in_recorded_order() -> None:
    entries = [
        entry("https://a.example/x?b=2&a=1", "second", started="2024-05-14T00:00:05Z"),
        entry("https://a.example/x?a=1&b=2", "first", started="2024-05-14T00:00:01Z"),
    ]
    clock = InstantClock()
    async with httpx.AsyncClient(transport=ReplayTransport(entries, clock)) as client:
        one = await client.get("https://A.example/x", params={"a": 1, "b": 2})
        two = await client.get("https://a.example/x?b=2&a=1#frag")
        with pytest.raises(ReplayError, match="all 2 recorded answers .* already used"):
            await client.get("https://a.example/x?a=1&b=2")
    assert (one.text, two.text) == ("first", "second")
    assert clock.now() == pytest.approx(0.2)  # each entry's recorded time, on the clock


@pytest.mark.anyio
async def test_recorded_time_is_waited_on_a_scaled_clock() -> None:
    clock = Clock(speed=100)
    transport = ReplayTransport([entry("https://a.example/", "ok", time_ms=3000)], clock)
    async with httpx.AsyncClient(transport=transport) as client:
        await client.get("https://a.example/")
    assert 3.0 <= clock.now() < 6.0  # 30 ms on the wall
    assert clock.task_time() == pytest.approx(3.0)


@pytest.mark.anyio
async def test_base64_bodies() -> None:
    body = "Grüße".encode("iso-8859-1")
    e = entry("https://a.example/", base64.b64encode(body).decode(), encoding="base64")
    async with httpx.AsyncClient(transport=ReplayTransport([e], InstantClock())) as client:
        response = await client.get("https://a.example/")
    assert response.content == body


@pytest.mark.anyio
async def test_unknown_request_names_url_and_closest() -> None:
    entries = [
        entry("https://www.reddit.com/r/python/new.json?limit=25", "{}"),
        entry("https://www.reddit.com/r/rust/new.json?limit=25", "{}"),
        entry("https://fosstodon.org/api/v1/trends/statuses", "[]"),
    ]
    async with httpx.AsyncClient(transport=ReplayTransport(entries, InstantClock())) as client:
        with pytest.raises(ReplayError) as info:
            await client.get("https://www.reddit.com/r/python/new.json?limit=50")
    message = str(info.value)
    assert "no recorded answer for GET https://www.reddit.com/r/python/new.json?limit=50" in message
    assert "closest recorded: https://www.reddit.com/r/python/new.json?limit=25" in message
    assert "\n" not in message


def test_load_har_errors(tmp_path: Path) -> None:
    with pytest.raises(ReplayError, match="not found"):
        load_har(tmp_path / "missing.har")
    (tmp_path / "bad.har").write_text("{not json")
    with pytest.raises(ReplayError, match="not a readable HAR"):
        load_har(tmp_path / "bad.har")
    (tmp_path / "empty.har").write_text('{"log": {}}')
    with pytest.raises(ReplayError, match="no log.entries"):
        load_har(tmp_path / "empty.har")


def test_match_key_normalises() -> None:
    assert match_key("get", "HTTPS://Example.com:443?b=1&a=2#x") == (
        "GET",
        "https://example.com/?a=2&b=1",
    )


@pytest.mark.anyio
async def test_a_devtools_export_replays(tmp_path: Path) -> None:
    """A HAR as Chrome/Firefox devtools export it: decoded text, gzip header, HTTP/2."""
    feed = (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        "<title>Dev</title><id>urn:d</id><updated>2024-05-13T00:00:00Z</updated><entry>"
        "<id>urn:d:1</id><title>Exported from the browser</title>"
        '<link href="https://dev.example/1"/><updated>2024-05-13T00:00:00Z</updated>'
        '<content type="html">&lt;p&gt;Hi &amp;amp; bye&lt;/p&gt;</content></entry></feed>'
    )
    har = {
        "log": {
            "version": "1.2",
            "creator": {"name": "WebInspector", "version": "537.36"},
            "pages": [{"startedDateTime": "2024-05-14T09:12:01.402Z", "id": "page_1",
                       "title": "https://dev.example/feed", "pageTimings": {}}],
            "entries": [
                {
                    "_initiator": {"type": "other"},
                    "_priority": "VeryHigh",
                    "_resourceType": "document",
                    "cache": {},
                    "connection": "412845",
                    "pageref": "page_1",
                    "request": {
                        "method": "GET",
                        "url": "https://dev.example/feed",
                        "httpVersion": "http/2.0",
                        "headers": [{"name": ":authority", "value": "dev.example"},
                                    {"name": ":method", "value": "GET"},
                                    {"name": "accept", "value": "text/html"}],
                        "queryString": [], "cookies": [], "headersSize": -1, "bodySize": 0,
                    },
                    "response": {
                        "status": 200,
                        "statusText": "",
                        "httpVersion": "http/2.0",
                        "headers": [
                            {"name": "content-encoding", "value": "gzip"},
                            {"name": "content-length", "value": "231"},
                            {"name": "content-type", "value": "application/atom+xml; charset=utf-8"},
                            {"name": "date", "value": "Tue, 14 May 2024 09:12:01 GMT"},
                        ],
                        "cookies": [],
                        "content": {"size": len(feed), "mimeType": "application/atom+xml",
                                    "compression": 300, "text": feed},
                        "redirectURL": "", "headersSize": -1, "bodySize": 231,
                        "_transferSize": 431, "_error": None,
                    },
                    "serverIPAddress": "[2606:4700::1]",
                    "startedDateTime": "2024-05-14T09:12:01.401Z",
                    "time": 187.35,
                    "timings": {"blocked": 2.1, "dns": -1, "ssl": -1, "connect": -1,
                                "send": 0.2, "wait": 180.1, "receive": 4.95, "_blocked_queueing": 1.2},
                }
            ],
        }
    }  # fmt: skip
    path = tmp_path / "devtools.har"
    path.write_text(json.dumps(har))
    source = parse_sources(
        {"sources": [{"name": "dev", "type": "rss", "url": "https://dev.example/feed"}]}
    ).sources[0]
    clock = InstantClock()
    stats = SourceStats(name="dev", type="rss")
    async with httpx.AsyncClient(transport=ReplayTransport(path, clock)) as client:
        items = [i async for i in collect_source(client, source, clock, stats)]
    assert [(i.title, i.body) for i in items] == [("Exported from the browser", "Hi & bye")]
    assert clock.now() == pytest.approx(0.18735)


@pytest.mark.anyio
async def test_recording_writes_valid_har_that_replays_the_same(tmp_path: Path) -> None:
    latin1 = "Ärger".encode("iso-8859-1")

    def upstream(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/gz":
            return httpx.Response(
                200,
                headers={"content-encoding": "gzip", "content-type": "text/plain"},
                content=gzip.compress(b"zipped text"),
            )
        if request.url.path == "/latin":
            return httpx.Response(
                200, headers={"content-type": "text/plain; charset=iso-8859-1"}, content=latin1
            )
        return httpx.Response(429, headers={"retry-after": "3"}, text="later")

    recorder = RecordingTransport(httpx.MockTransport(upstream))
    async with httpx.AsyncClient(transport=recorder) as client:
        live = [
            await client.get("http://127.0.0.1:9/gz"),
            await client.get("http://127.0.0.1:9/latin?q=1", headers={"Authorization": "secret"}),
            await client.get("http://127.0.0.1:9/busy"),
        ]
    path = tmp_path / "run-000.har"
    recorder.write(path)
    doc = json.loads(path.read_text())
    jsonschema.validate(doc, HAR_SCHEMA)
    assert "secret" not in path.read_text()
    assert doc["log"]["entries"][0]["response"]["content"]["text"] == "zipped text"
    assert doc["log"]["entries"][1]["response"]["content"]["text"] == "Ärger"  # charset kept
    async with httpx.AsyncClient(transport=ReplayTransport(path, InstantClock())) as client:
        replayed = [
            await client.get("http://127.0.0.1:9/gz"),
            await client.get("http://127.0.0.1:9/latin?q=1"),
            await client.get("http://127.0.0.1:9/busy"),
        ]
    assert [r.content for r in replayed] == [r.content for r in live]
    assert [r.status_code for r in replayed] == [200, 200, 429]
    assert replayed[2].headers["retry-after"] == "3"

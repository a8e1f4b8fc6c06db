"""The HAR writer: ``har_entry`` builds entries that replay to the same bytes, ``write_har``."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import jsonschema
import pytest

from pipeline.clock import InstantClock
from pipeline.har import ReplayTransport, har_entry, load_har, write_har
from tests.pipeline.test_har_replay import HAR_SCHEMA

T0 = datetime(2024, 5, 14, 8, 0, tzinfo=UTC)


def test_text_body_kept_in_its_charset_else_base64() -> None:
    latin1 = "Größe".encode("iso-8859-1")
    as_text = har_entry(started=T0, time_ms=10, url="https://a.example/", status=200,
                        body=latin1, mime="text/xml; charset=ISO-8859-1")  # fmt: skip
    assert as_text["response"]["content"]["text"] == "Größe"
    assert "encoding" not in as_text["response"]["content"]
    # Without a charset the body is read as UTF-8; Latin-1 bytes are not: base64.
    binary = har_entry(started=T0, time_ms=10, url="https://a.example/", status=200,
                       body=latin1, mime="text/xml")  # fmt: skip
    assert binary["response"]["content"]["encoding"] == "base64"
    assert base64.b64decode(binary["response"]["content"]["text"]) == latin1
    forced = har_entry(started=T0, time_ms=10, url="https://a.example/", status=200,
                       body=b"plain", mime="text/plain", base64_body=True)  # fmt: skip
    assert forced["response"]["content"] == {
        "size": 5, "mimeType": "text/plain", "text": "cGxhaW4=", "encoding": "base64"
    }  # fmt: skip


def test_entry_fields_defaults_and_redaction() -> None:
    entry = har_entry(
        started=T0 + timedelta(milliseconds=1234.5),
        time_ms=250.0,
        url="https://a.example/x?limit=5&after=t3_b",
        status=429,
        body=b"later",
        mime="text/plain",
        request_headers=[("Authorization", "Bearer secret"), ("user-agent", "ua")],
        response_headers=[("set-cookie", "s=secret"), ("retry-after", "7")],
        wire_size=3,
    )
    assert entry["startedDateTime"] == "2024-05-14T08:00:01.234Z"
    assert entry["response"]["statusText"] == "Too Many Requests"
    assert entry["request"]["queryString"] == [
        {"name": "limit", "value": "5"}, {"name": "after", "value": "t3_b"}
    ]  # fmt: skip
    assert "secret" not in json.dumps(entry)
    assert entry["request"]["headers"][0] == {"name": "Authorization", "value": "[redacted]"}
    assert entry["response"]["bodySize"] == 3
    assert entry["response"]["content"]["compression"] == 2
    assert entry["timings"] == {"send": 0, "wait": 250.0, "receive": 0}
    assert "serverIPAddress" not in entry and "connection" not in entry


@pytest.mark.anyio
async def test_written_file_is_valid_sorted_and_replays_the_same(tmp_path: Path) -> None:
    latin1 = "Äpfel".encode("iso-8859-1")
    later = har_entry(started=T0 + timedelta(seconds=2), time_ms=300, url="https://a.example/p",
                      status=200, body=b"second", mime="text/plain")  # fmt: skip
    earlier = har_entry(started=T0, time_ms=100, url="https://a.example/p", status=200,
                        body=latin1, mime="text/plain; charset=iso-8859-1", wire_size=4)  # fmt: skip
    path = tmp_path / "run.har"
    write_har(path, [later, earlier], comment="made by a test")
    doc = json.loads(path.read_text(encoding="utf-8"))
    jsonschema.validate(doc, HAR_SCHEMA)
    assert list(doc["log"]) == ["version", "creator", "comment", "pages", "entries"]
    assert [e["time"] for e in load_har(path)] == [100, 300]  # oldest first
    clock = InstantClock()
    async with httpx.AsyncClient(transport=ReplayTransport(path, clock)) as client:
        first = await client.get("https://a.example/p")
        second = await client.get("https://a.example/p")
    assert (first.content, second.content) == (latin1, b"second")
    assert first.headers.get("content-length") == str(len(latin1))
    assert clock.now() == pytest.approx(0.4)

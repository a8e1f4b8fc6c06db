"""The recorder applies the size cap while decoding (issue 12, defect 3): a 1 MB gzip body that
inflates to 1 GB was decoded in full (4.4 GB peak) and written as a 1 GB HAR, although the
collector then refused it as too large."""

from __future__ import annotations

import json
import tracemalloc
import zlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from pipeline.clock import InstantClock
from pipeline.config import parse_sources
from pipeline.har import RecordingTransport, ReplayTransport, entry_body
from pipeline.sources import SourceStats, collect_source

pytestmark = pytest.mark.anyio

CAP = 1024 * 1024  # the source's max_response_bytes
INFLATED = 200 * 1024 * 1024  # what the bomb inflates to
FEED = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>'


def gzip_bomb(size: int) -> bytes:
    """``size`` zero bytes gzip-compressed (about 1,000 times smaller), built in slices."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = bytes(1024 * 1024)
    parts = [packer.compress(zeros) for _ in range(size // len(zeros))]
    return b"".join([*parts, packer.flush()])


def upstream(bomb: bytes) -> httpx.MockTransport:
    async def chunks(data: bytes) -> AsyncIterator[bytes]:
        for start in range(0, len(data), 65536):  # as a socket delivers it
            yield data[start : start + 65536]

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/bomb.xml":
            headers = {"content-encoding": "gzip", "content-type": "application/rss+xml"}
            return httpx.Response(200, headers=headers, content=chunks(bomb))
        headers = {"content-type": "application/rss+xml"}
        return httpx.Response(200, headers=headers, content=chunks(FEED))

    return httpx.MockTransport(answer)


async def collect(transport: httpx.AsyncBaseTransport, path: str) -> SourceStats:
    [source] = parse_sources(
        {
            "sources": [
                {
                    "name": "s",
                    "type": "rss",
                    "url": f"http://127.0.0.1:9{path}",
                    "max_response_bytes": CAP,
                    "max_attempts": 1,
                }
            ]
        }  # fmt: skip
    ).sources
    stats = SourceStats(name="s", type="rss")
    clock = InstantClock()
    async with httpx.AsyncClient(transport=transport) as client:
        async for _ in collect_source(client, source, clock, stats):
            pass
    return stats


async def test_a_gzip_bomb_is_cut_at_the_cap_while_decoding(tmp_path: Path) -> None:
    bomb = gzip_bomb(INFLATED)
    assert len(bomb) < INFLATED // 500
    recorder = RecordingTransport(upstream(bomb), max_body_bytes=CAP)
    tracemalloc.start()
    try:
        stats = await collect(recorder, "/bomb.xml")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert stats.errors == {"too_large": 1}, stats.errors
    assert peak < 16 * CAP, f"peak {peak / 2**20:.0f} MiB while recording"

    path = tmp_path / "run-000.har"
    recorder.write(path)
    assert path.stat().st_size < 8 * CAP  # a NUL byte is six characters of JSON
    [entry] = json.loads(path.read_text())["log"]["entries"]
    assert len(entry_body(entry)) == CAP + 1
    assert "cut" in entry["comment"] and str(CAP) in entry["comment"]
    # The replay gives the collector what the live source gave it: a body over the cap.
    replayed = await collect(ReplayTransport(path, InstantClock()), "/bomb.xml")
    assert replayed.errors == {"too_large": 1}, replayed.errors


async def test_a_body_under_the_cap_is_kept_whole(tmp_path: Path) -> None:
    recorder = RecordingTransport(upstream(b""), max_body_bytes=CAP)
    stats = await collect(recorder, "/feed.xml")
    assert not stats.errors and stats.pages == 1
    [entry] = recorder.entries
    assert entry_body(entry) == FEED and "comment" not in entry

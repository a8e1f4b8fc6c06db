"""A gzip bomb through ``workbench record`` (issue 12, defect 3), then the recording through the
pipeline: the bomb is cut at the cap while it is decoded (the recorder's memory stays small and
so does the HAR), the other source is recorded whole, and a replay of the recording delivers
its items to the processors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pipeline.clock import Clock
from pipeline.har import ReplayTransport
from pipeline.recording import Recording
from pipeline.storage import StorageAccount
from tests.faults._matrix import Row
from tests.faults._measure import run_measured
from tests.faults._pipeline import Consumers, collect, consumed, made
from tests.faults._server import Answer, FaultServer, gzip_bomb, post_url, rss

pytestmark = pytest.mark.anyio

INFLATED = 1024**3
# The command with its libraries takes ~180 MB here and the bomb, cut at the 5 MiB cap,
# ~130 MB more (its NUL bytes are six characters each in the HAR's JSON); decoded in full it
# took 4.4 GB.
PEAK_LIMIT_MB = 400


async def test_gzip_bomb_through_record(
    server: FaultServer, tmp_path: Path, connection_string: str, matrix: Any
) -> None:
    bomb = gzip_bomb(INFLATED)
    server.script("/steady.xml", [Answer(body=rss("steady.example", 4))])
    server.script("/bomb.xml", [Answer(body=bomb, gzipped=True)])
    sources = tmp_path / "sources.yaml"
    sources.write_text(
        "sources:\n"
        f"  - {{name: steady, type: rss, url: '{server.base}/steady.xml'}}\n"
        f"  - {{name: bomb, type: rss, url: '{server.base}/bomb.xml', max_attempts: 1}}\n"
    )
    out = tmp_path / "recording"
    recorded = run_measured(["record", "--sources", str(sources), "--out", str(out)])
    stderr, peak_mb = recorded.stderr, recorded.peak_mb
    assert recorded.code == 0, stderr[-3000:]
    assert peak_mb < PEAK_LIMIT_MB, f"record peaked at {peak_mb:.0f} MB"
    har_mb = (out / "run-000.har").stat().st_size / 2**20
    assert har_mb < 40, f"the HAR is {har_mb:.0f} MiB"
    lines = [x for x in stderr.splitlines() if "source_error source=bomb kind=too_large" in x]

    recording = Recording.open(out)
    async with StorageAccount(connection_string) as account, made(account) as names:
        async with Consumers(account, names) as consumers:
            transport = ReplayTransport(recording.run(0).har_path, Clock(200))
            metrics = await collect(
                account, names, recording.sources.sources, transport=transport, speed=200
            )
            await consumers.drain()
        seen = await consumed(account, names, consumers.records)
    assert metrics.errors.get("bomb") == {"too_large": 1}, metrics.errors
    row = Row.counted(
        "record: gzip bomb (1 MB inflating to 1 GB)",
        [post_url("steady.example", n) for n in range(4)],
        seen.deliveries, seen.work, seen.results,
        clear_line=len(lines) == 1,
        seen=f"{len(bomb) / 2**20:.1f} MiB inflating to {INFLATED // 2**20} MiB: record peaked "
        f"at {peak_mb:.0f} MB (limit {PEAK_LIMIT_MB}), wrote a {har_mb:.0f} MiB HAR, said "
        f"'source_error source=bomb kind=too_large'; the replay refused it again",
    )  # fmt: skip
    matrix.record(row)

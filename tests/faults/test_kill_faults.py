"""Processes killed outright (SIGKILL) at seeded points, then run again, against Azurite.

The collector is killed between a queue send and its blob append, after a blob append before
the history write, and during the batch burst; a rerun (the next scheduled collection) must
queue every item the killed run did not record as sent. The processor is killed after writing a
result and before deleting the message; the redelivered message must not be processed twice.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from pipeline.har import har_entry, write_har
from pipeline.recording import parse_time
from pipeline.storage import StorageAccount
from tests.faults._matrix import Row
from tests.faults._pipeline import START, Consumers, collect, consumed, made
from tests.faults._server import post_url, rss

pytestmark = pytest.mark.anyio

ACTORS = Path(__file__).with_name("_actors.py")
FEEDS = {"alpha.example": 12, "beta.example": 12, "gamma.example": 12}
ITEMS = sum(FEEDS.values())
SOURCES = "sources:\n" + "".join(
    f"  - {{name: {host.split('.')[0]}, type: rss, url: 'https://{host}/feed.xml'}}\n"
    for host in FEEDS
)


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three feeds of 12 items, answering 1, 2 and 3 recorded seconds after the start."""
    folder = tmp_path_factory.mktemp("kill-recording")
    (folder / "sources.yaml").write_text(SOURCES)
    entries = [
        har_entry(started=parse_time("2024-05-14T06:00:00Z"), time_ms=1000.0 * (i + 1),
                  url=f"https://{host}/feed.xml", status=200, body=rss(host, count),
                  mime="application/rss+xml; charset=utf-8")
        for i, (host, count) in enumerate(FEEDS.items())
    ]  # fmt: skip
    write_har(folder / "run-000.har", entries)
    manifest = {"runs": [{"har": "run-000.har", "started_at": "2024-05-14T06:00:00Z"}]}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


def expected_links() -> list[str]:
    return [post_url(host, n) for host, count in FEEDS.items() for n in range(count)]


def actor(role: str, spec: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ACTORS), role, json.dumps(spec)],
                          capture_output=True, text=True, timeout=120)  # fmt: skip


KILLS = [
    # (fault, mode, point, seed): the seed draws which passage of the point is the last.
    ("collector: SIGKILL between a queue send and its blob append", "streaming", "send", 1),
    ("collector: SIGKILL after a blob append, before the history write", "streaming", "append", 2),
    ("collector: SIGKILL during the batch burst", "batch", "send", 3),
]


@pytest.mark.parametrize(("fault", "mode", "point", "seed"), KILLS, ids=["send", "append", "burst"])
async def test_collector_killed_then_rerun(
    fault: str, mode: str, point: str, seed: int, recording: Path, connection_string: str,
    matrix: Any,
) -> None:  # fmt: skip
    # Streaming appends a block every 4 items: ITEMS / 4 of them.
    passages = ITEMS if point == "send" else ITEMS // 4
    at = random.Random(seed).randint(1, passages - 1)
    async with StorageAccount(connection_string) as account, made(account) as names:
        spec = {"conn": connection_string, "recording": str(recording), "mode": mode,
                "queue": names.queue, "collected": names.collected,
                "started_at": START.isoformat()}  # fmt: skip
        killed = actor("collect", {**spec, "kill": [point, at]})
        assert killed.returncode == -9, killed.stderr[-2000:]
        # The next scheduled collection, ten minutes later, over the same history.
        rerun = actor(
            "collect", {**spec, "started_at": (START + timedelta(minutes=10)).isoformat()}
        )
        assert rerun.returncode == 0, rerun.stderr[-2000:]
        async with Consumers(account, names) as consumers:
            await consumers.drain()
        seen = await consumed(account, names, consumers.records)
    end = [x for x in rerun.stderr.splitlines() if "collection_end" in x]
    queued_again = json.loads(rerun.stdout.strip().splitlines()[-1])["queued"]
    row = Row.counted(fault, expected_links(), seen.deliveries, seen.work, seen.results,
                      clear_line=len(end) == 1,
                      seen=f"killed at {point} {at} of {passages} (seed {seed}); the rerun "
                           f"queued {queued_again} and logged collection_end")  # fmt: skip
    matrix.record(row)
    assert seen.poisoned == 0


async def test_processor_killed_between_result_and_delete(
    connection_string: str, matrix: Any, recording: Path
) -> None:
    fault = "processor: SIGKILL after writing a result, before deleting the message"
    from pipeline.har import ReplayTransport
    from pipeline.recording import Recording

    rec = Recording.open(recording)
    async with StorageAccount(connection_string) as account, made(account) as names:
        from pipeline.clock import Clock

        metrics = await collect(
            account, names, rec.sources.sources,
            transport=ReplayTransport(rec.run(0).har_path, Clock(200)), speed=200,
        )  # fmt: skip
        settings = {"queue_name": names.queue, "poison_queue_name": names.poison,
                    "results_container": names.processed, "claims_container": names.collected,
                    "visibility_timeout_s": 2, "concurrency": 1, "batch_size": 1,
                    "idle_exit_s": 5}  # fmt: skip
        doomed = actor("process", {"conn": connection_string, "settings": settings,
                                   "kill": ["delete", 1]})  # fmt: skip
        assert doomed.returncode == -9, doomed.stderr[-2000:]
        worked_on = json.loads(doomed.stdout.strip().splitlines()[-1])["worked_on"]
        async with Consumers(account, names, visibility_timeout_s=2) as consumers:
            await consumers.drain()
        seen = await consumed(account, names, consumers.records)
    link = next(url for url, h in _links_by_hash(seen, consumers.records).items() if h == worked_on)
    absorbed = [r for r in consumers.records if r.content_hash == worked_on]
    row = Row.counted(fault, expected_links(), seen.deliveries, [*seen.work, link], seen.results,
                      clear_line=[r.outcome for r in absorbed] == ["duplicate"],
                      seen=f"the redelivered message (dequeue count {absorbed[0].dequeue_count}) "
                           f"was deleted as '{absorbed[0].reason}'")  # fmt: skip
    matrix.record(row)
    assert metrics.items_queued == ITEMS


def _links_by_hash(seen: Any, records: Any) -> dict[str, str]:
    hashes = {r.queue_message_id: r.content_hash for r in records}
    return {link: hashes[message_id] for link, message_id in seen.deliveries}

"""(c) Pipeline enqueue throughput / raw SDK send throughput: same Azurite, same concurrency.

The pipeline side is a streaming run over a zero-latency synthetic source of 2,000 items (one
RSS page replayed with no latency), so it measures what the collector adds to each send (dedup,
message building, collection blob and history writes). The raw side sends the same 2,000
message bodies with the plain SDK (`QueueClient.send_message`, base64 policy) at the same
concurrency. Rounds alternate; the last line is the ratio of the medians (target >= 0.7).
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from xml.sax.saxutils import escape

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402
from azure.storage.queue import TextBase64EncodePolicy  # noqa: E402
from azure.storage.queue.aio import QueueClient  # noqa: E402

from pipeline.clock import Clock  # noqa: E402
from pipeline.collect import CollectorOptions, RunInputs, collect_run  # noqa: E402
from pipeline.config import parse_sources  # noqa: E402
from pipeline.har import ReplayTransport  # noqa: E402
from pipeline.history import HistoryIndex  # noqa: E402
from pipeline.messages import build_message, encode_message  # noqa: E402
from pipeline.storage import StorageAccount  # noqa: E402
from workbench.azurite import Azurite  # noqa: E402

ITEMS = 2000
CONCURRENCY = CollectorOptions().send_concurrency
ROUNDS = 3
FEED_URL = "https://bench.example/feed.xml"


def synthetic_feed(n: int) -> str:
    entries = "".join(
        f"<item><title>Synthetic story number {i}</title>"
        f"<link>https://bench.example/story/{i}</link><guid>bench-{i}</guid>"
        f"<description>{escape(f'Body of story {i}. ' * 20)}</description>"
        "<pubDate>Tue, 14 May 2024 00:00:00 GMT</pubDate></item>"
        for i in range(n)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>bench</title><link>https://bench.example/</link>{entries}</channel></rss>"
    )


def har_entries(body: str) -> list[dict]:
    return [
        {
            "startedDateTime": "2024-05-14T00:00:00.000Z",
            "time": 0,
            "request": {"method": "GET", "url": FEED_URL, "headers": [], "queryString": []},
            "response": {
                "status": 200,
                "statusText": "OK",
                "headers": [{"name": "Content-Type", "value": "application/rss+xml"}],
                "content": {"size": len(body), "mimeType": "application/rss+xml", "text": body},
            },
            "timings": {"send": 0, "wait": 0, "receive": 0},
        }
    ]


SOURCES = parse_sources(
    {
        "defaults": {"max_response_bytes": 50_000_000},
        "sources": [{"name": "bench", "type": "rss", "url": FEED_URL}],
    }
)


async def pipeline_round(account: StorageAccount, entries: list[dict], k: int) -> float:
    queue = await account.queue(f"bench-pipe-{k}").create_if_missing()
    store = await account.container(f"bench-pipe-{k}").create_if_missing()
    clock = Clock(1.0)
    async with httpx.AsyncClient(transport=ReplayTransport(entries, clock)) as client:
        metrics = await collect_run(
            RunInputs(
                sources=SOURCES.sources,
                client=client,
                queue=queue,
                store=store,
                history=HistoryIndex(store),
                clock=clock,
                started_at=datetime(2024, 5, 14, tzinfo=UTC),
                options=CollectorOptions(mode_override="streaming", send_concurrency=CONCURRENCY),
            )
        )
    times = [m.enqueued_at for m in metrics.messages]
    assert len(times) == ITEMS, f"expected {ITEMS} items queued, got {len(times)}"
    await account.delete_queue(queue.name)
    await account.delete_container(store.name)
    return (len(times) - 1) / (max(times) - min(times))


async def raw_round(conn: str, bodies: list[str], k: int) -> float:
    async with QueueClient.from_connection_string(
        conn, f"bench-raw-{k}", message_encode_policy=TextBase64EncodePolicy()
    ) as client:
        await client.create_queue()
        semaphore = asyncio.Semaphore(CONCURRENCY)

        async def send(body: str) -> None:
            async with semaphore:
                await client.send_message(body)

        start = time.monotonic()
        await asyncio.gather(*(send(b) for b in bodies))
        elapsed = time.monotonic() - start
        await client.delete_queue()
    return len(bodies) / elapsed


async def main(conn: str) -> None:
    entries = har_entries(synthetic_feed(ITEMS))
    async with StorageAccount(conn) as account:
        # The same message bodies the pipeline sends, built from the same items.
        clock = Clock(1.0)
        from pipeline.sources import SourceStats, collect_source

        async with httpx.AsyncClient(transport=ReplayTransport(entries, clock)) as client:
            stats = SourceStats(name="bench", type="rss")
            items = [i async for i in collect_source(client, SOURCES.sources[0], clock, stats)]
        bodies = [
            encode_message(
                build_message(i, collection_id="c", collection_blob="b", mode="streaming")
            )
            for i in items
        ]
        print(f"{len(bodies)} items, concurrency {CONCURRENCY}, {ROUNDS} alternating rounds")
        pipe, raw = [], []
        for k in range(ROUNDS):
            raw.append(await raw_round(conn, bodies, k))
            pipe.append(await pipeline_round(account, entries, k))
            print(f"round {k + 1}: raw SDK {raw[-1]:.0f} msg/s, pipeline {pipe[-1]:.0f} items/s")
    ratio = statistics.median(pipe) / statistics.median(raw)
    print(f"ratio pipeline/raw SDK enqueue throughput = {ratio:.2f}")


if __name__ == "__main__":
    with Azurite() as azurite:
        asyncio.run(main(azurite.connection_string))

"""Pipeline enqueue throughput against the raw SDK's: same Azurite, same concurrency, same clients.

    python benchmarks/bench_enqueue_throughput.py [--items 10000] [--pairs 5]
        [--concurrency 8 32]

The pipeline side is a streaming run over a zero-latency synthetic source of ``items`` items
(one RSS page replayed with no latency): it measures what the collector adds to each send
(dedup, message building, the collection blob and history writes). The raw side sends the
same message bodies with the plain SDK (``QueueClient.send_message``, base64 policy) at the
same concurrency, its client built with the same options as the pipeline's
(``StorageAccount.client_options``), so that the two differ only by the pipeline's own work.

Both sides count the same way: items per second between the first and the last send to
complete, timed on the wall clock. Every round runs on an Azurite of its own, started and
warmed for it: an emulator that has just taken and deleted 10,000 messages is slower for a
while, which would favour whichever side runs first. For each concurrency the sides run in
``pairs`` pairs in alternating order; the figure is the median of the pairs' ratios
pipeline / raw (goal >= 0.95 at concurrency 8 and 32). The last line holds both.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from xml.sax.saxutils import escape

import httpx
from _common import alternating, machine_line, median_spread
from _replay_bench import warm_emulator
from azure.storage.queue import TextBase64EncodePolicy
from azure.storage.queue.aio import QueueClient

from pipeline.clock import Clock
from pipeline.collect import CollectorOptions, RunInputs, collect_run
from pipeline.config import parse_sources
from pipeline.har import ReplayTransport
from pipeline.history import HistoryIndex
from pipeline.messages import build_message, encode_message
from pipeline.sources import SourceStats, collect_source
from pipeline.storage import StorageAccount
from workbench.azurite import Azurite
from workbench.errors import WorkbenchError

FEED_URL = "https://bench.example/feed.xml"
SOURCES = parse_sources(
    {
        "defaults": {"max_response_bytes": 50_000_000},
        "sources": [{"name": "bench", "type": "rss", "url": FEED_URL}],
    }
)


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


def har_entries(body: str) -> list[dict[str, Any]]:
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


def items_per_second(done: list[float]) -> float:
    """Sends per second between the first and the last send to complete."""
    return (len(done) - 1) / (max(done) - min(done))


async def pipeline_round(
    account: StorageAccount,
    entries: list[dict[str, Any]],
    expected: int,
    name: str,
    concurrency: int,
) -> float:
    queue = await account.queue(name).create_if_missing()
    store = await account.container(name).create_if_missing()
    done: list[float] = []
    send = queue.send

    async def timed_send(content: str | dict[str, Any], **kwargs: Any) -> str:
        """The adapter's send, noting when it completes (benchmark only)."""
        message_id = await send(content, **kwargs)
        done.append(time.perf_counter())
        return message_id

    queue.send = timed_send  # type: ignore[method-assign]
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
                options=CollectorOptions(mode_override="streaming", send_concurrency=concurrency),
            )
        )
    if metrics.items_queued != expected or len(done) != expected:
        raise SystemExit(f"expected {expected} items queued, got {metrics.items_queued}")
    return items_per_second(done)


async def raw_round(
    conn: str, options: dict[str, Any], bodies: list[str], name: str, concurrency: int
) -> float:
    async with QueueClient.from_connection_string(
        conn, name, message_encode_policy=TextBase64EncodePolicy(), **options
    ) as client:
        await client.create_queue()
        semaphore = asyncio.Semaphore(concurrency)
        done: list[float] = []

        async def send(body: str) -> None:
            async with semaphore:
                await client.send_message(body)
            done.append(time.perf_counter())

        await asyncio.gather(*(send(b) for b in bodies))
    return items_per_second(done)


async def message_bodies(entries: list[dict[str, Any]]) -> list[str]:
    """The message bodies the pipeline sends, built from the same items."""
    clock = Clock(1.0)
    async with httpx.AsyncClient(transport=ReplayTransport(entries, clock)) as client:
        stats = SourceStats(name="bench", type="rss")
        items = [i async for i in collect_source(client, SOURCES.sources[0], clock, stats)]
    return [
        encode_message(build_message(i, collection_id="c", collection_blob="b", mode="streaming"))
        for i in items
    ]


@contextlib.contextmanager
def started_azurite(attempts: int = 3) -> Iterator[Azurite]:
    """A started Azurite, stopped after. ``Azurite`` picks its three ports one after another and
    may pick the same one twice (the start then fails with EADDRINUSE); twenty starts a run
    make that likely enough to try again."""
    for attempt in range(1, attempts + 1):
        azurite = Azurite()
        try:
            azurite.start()
        except WorkbenchError:
            if attempt == attempts:
                raise
            continue
        try:
            yield azurite
        finally:
            azurite.stop()
        return


def one_round(
    side: str, entries: list[dict[str, Any]], bodies: list[str], concurrency: int
) -> float:
    """One side's round on an Azurite of its own (see the module docstring), warmed first."""
    with started_azurite() as azurite:

        async def go() -> float:
            async with StorageAccount(azurite.connection_string) as account:
                await warm_emulator(account)
                if side == "raw SDK":
                    return await raw_round(
                        azurite.connection_string,
                        account.client_options,
                        bodies,
                        "bench-raw",
                        concurrency,
                    )
                return await pipeline_round(
                    account, entries, len(bodies), "bench-pipe", concurrency
                )

        return asyncio.run(go())


def main(n_items: int, pairs: int, concurrencies: list[int]) -> None:
    entries = har_entries(synthetic_feed(n_items))
    bodies = asyncio.run(message_bodies(entries))
    print(f"{len(bodies)} items a round; both sides' clients built with the same options")
    ratios: dict[int, float] = {}
    for concurrency in concurrencies:
        print(f"concurrency {concurrency}: {pairs} pairs in alternating order", flush=True)
        rates: dict[str, list[float]] = {"raw SDK": [], "pipeline": []}
        for k in range(pairs):
            order = alternating(k, "raw SDK", "pipeline")
            for side in order:
                rates[side].append(one_round(side, entries, bodies, concurrency))
            print(
                f"  pair {k + 1} ({' then '.join(order)}): raw SDK "
                f"{rates['raw SDK'][-1]:.0f} msg/s, pipeline {rates['pipeline'][-1]:.0f} "
                f"items/s, ratio {rates['pipeline'][-1] / rates['raw SDK'][-1]:.3f}",
                flush=True,
            )
        pair_ratios = [p / r for p, r in zip(rates["pipeline"], rates["raw SDK"], strict=True)]
        ratios[concurrency] = statistics.median(pair_ratios)
        for side, values in rates.items():
            print(f"  {side}: {median_spread(values, 'items/s', 0)}")
        print(f"  pipeline / raw SDK per pair: {median_spread(pair_ratios, digits=3)}")
    figures = ", ".join(f"concurrency {c} = {r:.3f}" for c, r in ratios.items())
    print(
        f"ratio pipeline/raw SDK enqueue throughput (median of {pairs} pairs): {figures}; "
        f"worst {min(ratios.values()):.3f} (goal >= 0.95)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[8, 32])
    args = parser.parse_args()
    print(machine_line(), flush=True)
    main(args.items, args.pairs, args.concurrency)

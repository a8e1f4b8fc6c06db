"""Benchmark (d): loading the 24 h dedup history, the design's loader vs the hour-bucket index.

    python benchmarks/bench_history_load.py [--days 7] [--items-per-day 10000] [--repeats 5]

Starts its own Azurite, seeds ``days`` x ``items-per-day`` items (three collections a day at
00:00, 08:00 and 16:00, bodies of 1-3 KB, seeded RNG) both as collection blobs and as history
index entries, then times, alternating (after one untimed warm-up round),
``load_history_from_collections`` (the design: download and parse every collection blob of the
window; ``history_baseline.py`` beside this file) and ``HistoryIndex.load`` (download the
window's hour buckets of digests) for ``now`` = the end of the last day. The last line printed is
``ratio design/ours history load = X.X`` (target >= 10).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from history_baseline import load_history_from_collections  # noqa: E402

from pipeline.history import HistoryIndex  # noqa: E402
from pipeline.items import ContentItem  # noqa: E402
from pipeline.messages import collection_blob_name  # noqa: E402
from pipeline.storage import BlobStore, StorageAccount  # noqa: E402
from workbench.azurite import Azurite  # noqa: E402

FIRST_DAY = datetime(2026, 11, 23, tzinfo=UTC)
COLLECTION_HOURS = (0, 8, 16)
COLLECTION_SPAN_S = 600  # items of one collection arrive over ten minutes
CONTAINER = "collected-content"
_WORDS = (
    "stream batch queue blob azure python release async latency throughput scaling replica "
    "kubernetes keda processor collector feed mastodon reddit article update security patch "
    "performance database index cache memory network request response retry backoff token "
    "the a of and to in is for on with that this it as by from at be are was were we you they "
    "new version support feature bug fix improve change open source project community data"
).split()


def corpus(rng: random.Random, chars: int = 2_000_000) -> str:
    """A long text of random words; bodies are windows of it."""
    words: list[str] = []
    size = 0
    while size < chars:
        chunk = rng.choices(_WORDS, k=10_000)
        words.extend(chunk)
        size += sum(len(w) + 1 for w in chunk)
    return " ".join(words)


def make_items(
    rng: random.Random, text: str, started: datetime, count: int, first_n: int
) -> list[ContentItem]:
    offsets = sorted(rng.uniform(0, COLLECTION_SPAN_S) for _ in range(count))
    items = []
    for k, offset in enumerate(offsets):
        n = first_n + k
        length = rng.randint(1_000, 3_000)
        at = rng.randrange(0, len(text) - length)
        body = text[at : at + length]
        source = ("reddit", "rss", "mastodon")[n % 3]
        if source == "reddit":
            source_id, url = f"t3_{n:x}", f"https://www.reddit.com/r/python/comments/{n:x}/post/"
        elif source == "rss":
            source_id = url = f"https://blog.example.org/{n}/story?utm_source=rss&utm_medium=feed"
        else:
            source_id = f"https://fosstodon.org/users/u{n % 500}/statuses/{10**17 + n}"
            url = source_id.replace("/users/", "/@").replace("/statuses/", "/")
        collected = started + timedelta(seconds=offset)
        items.append(
            ContentItem.create(
                source=source,
                source_name=f"{source}-bench",
                source_id=source_id,
                url=url,
                title=f"{' '.join(rng.choices(_WORDS, k=8))} #{n}",
                body=body,
                author=f"author{n % 977}",
                published_at=collected - timedelta(minutes=rng.randint(1, 600)),
                collected_at=collected,
                metadata={"score": rng.randint(0, 500), "comments": rng.randint(0, 80)},
            )
        )
    return items


async def seed(store: BlobStore, history: HistoryIndex, days: int, per_day: int) -> int:
    rng = random.Random(20261123)
    text = corpus(rng)
    n = 0
    blob_bytes = 0
    for day in range(days):
        started_day = time.perf_counter()
        for index, hour in enumerate(COLLECTION_HOURS):
            count = per_day // len(COLLECTION_HOURS) + (
                1 if index < per_day % len(COLLECTION_HOURS) else 0
            )
            started = FIRST_DAY + timedelta(days=day, hours=hour)
            items = make_items(rng, text, started, count, n)
            n += count
            name = collection_blob_name(f"bench-d{day}-{hour:02d}", started.isoformat())
            records = [i.to_dict() for i in items]
            blob_bytes += sum(len(r["body"]) for r in records)
            await asyncio.gather(
                store.append_jsonl(name, records),
                history.record([(i.dedup_keys(), i.collected_at) for i in items]),
            )
        print(
            f"  seeded day {day + 1}/{days}: {n} items so far, "
            f"~{blob_bytes / 1e6:.0f} MB of bodies ({time.perf_counter() - started_day:.1f} s)",
            flush=True,
        )
    return n


async def main(days: int, per_day: int, repeats: int) -> float:
    with Azurite() as azurite:
        print(f"Azurite on blob port {azurite.blob_port}", flush=True)
        async with StorageAccount(azurite.connection_string) as account:
            store = await account.container(CONTAINER).create_if_missing()
            history = HistoryIndex(store)
            print(f"seeding {days} days x {per_day} items a day ...", flush=True)
            t0 = time.perf_counter()
            total = await seed(store, history, days, per_day)
            print(f"seeded {total} items in {time.perf_counter() - t0:.1f} s", flush=True)

            now = FIRST_DAY + timedelta(days=days) - timedelta(seconds=1)
            print(f"loading the history for now = {now.isoformat()} (lookback 24 h)", flush=True)
            # One untimed round for both: connection pool and Azurite's file handles warm up.
            await load_history_from_collections(store, now, history.lookback)
            await history.load(now)
            design_s: list[float] = []
            ours_s: list[float] = []
            for attempt in range(1, repeats + 1):
                # The order alternates, so neither side always runs while Azurite is still
                # recovering from the other's work.
                order = ("design", "ours") if attempt % 2 else ("ours", "design")
                for side in order:
                    gc.collect()  # neither side pays for the other's garbage
                    t0 = time.perf_counter()
                    if side == "design":
                        design = await load_history_from_collections(store, now, history.lookback)
                        design_s.append(time.perf_counter() - t0)
                    else:
                        ours = await history.load(now)
                        ours_s.append(time.perf_counter() - t0)
                if design.digests() != ours.digests():
                    raise SystemExit("the two loaders disagree on the set of digests")
                stats = history.last_load
                print(
                    f"  run {attempt}: design {design_s[-1]:.3f} s, ours {ours_s[-1]:.3f} s "
                    f"({len(ours)} digests; ours read {stats.buckets_read if stats else '?'} "
                    f"buckets, {stats.bytes_read / 1e6 if stats else 0:.2f} MB)",
                    flush=True,
                )
            collections = await store.list("collections/")
            window_mb = sum(
                b.size for b in collections if b.name.startswith(f"collections/{now:%Y/%m/%d}/")
            )
            design_median = statistics.median(design_s)
            ours_median = statistics.median(ours_s)
            print(
                f"design loader (download {window_mb / 1e6:.1f} MB of collections, parse, hash): "
                f"median {design_median:.3f} s over {repeats}"
            )
            print(f"history index (hour buckets of digests): median {ours_median:.3f} s")
    ratio = design_median / ours_median
    print(f"ratio design/ours history load = {ratio:.1f}")
    return ratio


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--items-per-day", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(main(args.days, args.items_per_day, args.repeats))

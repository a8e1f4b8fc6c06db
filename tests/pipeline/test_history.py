"""History dedup index against the session's real Azurite."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from azure.storage.blob.aio import ContainerClient

import pipeline.history.index as index_module
from benchmarks.history_baseline import load_history_from_collections
from pipeline.errors import StorageError
from pipeline.history import (
    HistoryIndex,
    SeenKeys,
    cleanup_collections,
    collection_started_at,
    key_digest,
)
from pipeline.history.codec import entry_times, split_digests
from pipeline.history.keys import DIGEST_CHARS
from pipeline.items import ContentItem
from pipeline.messages import collection_blob_name
from pipeline.storage import BlobInfo, BlobStore, StorageAccount
from tests.pipeline.storage_faults import (
    Fault,
    FaultyTransport,
    block_count_exceeded,
    fault_server,
    is_append_block,
    server_busy,
)

pytestmark = pytest.mark.anyio

NOW = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)  # a replayed recording's time, not the wall's
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)


class CountingStore(BlobStore):
    """A real BlobStore that remembers which prefixes it listed and which blobs it read."""

    def __init__(self, client: ContainerClient, name: str, endpoint: str) -> None:
        super().__init__(client, name, endpoint)
        self.listed: list[str] = []
        self.read: list[str] = []

    async def iter(self, prefix: str = "") -> AsyncIterator[BlobInfo]:
        self.listed.append(prefix)
        async for info in super().iter(prefix):
            yield info

    async def read_bytes(self, blob: str) -> bytes | None:
        self.read.append(blob)
        return await super().read_bytes(blob)


def keys(n: int) -> list[str]:
    return [f"id:reddit:t3_{n}", f"hash:{n:064x}", f"url:https://example.org/{n}"]


def item(n: int, collected_at: datetime) -> ContentItem:
    return ContentItem.create(
        source="rss",
        source_name="feed",
        source_id=f"entry-{n}",
        url=f"https://Example.org/story/{n}?utm_source=x#top",
        title=f"Story number {n} about streaming",
        body=f"Body of story {n}. " * 20,
        author="someone",
        published_at=collected_at - HOUR,
        collected_at=collected_at,
    )


async def container(account: StorageAccount, name: str) -> BlobStore:
    return await account.container(name).create_if_missing()


def _text(key: str) -> str:
    """A key's digest as a JSON line holds it."""
    return key_digest(key).decode("ascii")


def test_key_digest_is_short_and_stable():
    digest = key_digest("id:reddit:t3_abc")
    assert digest == key_digest("id:reddit:t3_abc")
    assert len(digest) == 16 and b"=" not in digest
    assert digest != key_digest("id:reddit:t3_abd")
    assert key_digest("") == b"47DEQpj8HBSa-_TI"  # SHA-256 of b"" is e3b0c442 98fc1c14...


def test_split_digests_cuts_what_record_concatenates():
    digests = [key_digest(f"key {i}") for i in range(1_000)]
    # The same as slicing every 16 characters of the line's text:
    assert split_digests(b"".join(digests).decode("ascii")) == digests
    assert split_digests("") == []
    with pytest.raises(ValueError):
        split_digests("x" * (DIGEST_CHARS + 1))


async def test_a_loaded_history_sits_in_the_oldest_gc_generation(
    connection_string: str, unique_name: str
):
    """Otherwise the first collections after a load walk its whole set, again and again."""
    async with StorageAccount(connection_string) as account:
        history = HistoryIndex(await container(account, unique_name))
        await history.record([([f"k{i}"], NOW - HOUR) for i in range(1_000)])
        seen = await history.load(NOW)
        assert len(seen) == 1_000
        assert any(o is seen._digests for o in gc.get_objects(generation=2))


def test_seen_keys_any_key_counts():
    seen = SeenKeys(["a", "b"])
    assert seen.seen(["x", "b"]) and not seen.seen(["x", "y"]) and not seen.seen([])
    other = SeenKeys()
    other.add(["y"])
    seen.update(other)
    assert len(seen) == 3 and seen.seen(["y"])
    seen.add_digests([key_digest("z")])
    assert seen.seen(["z"]) and key_digest("z") in seen.digests()


async def test_record_then_load_respects_the_window(connection_string: str, unique_name: str):
    entries = {
        "inside": NOW - HOUR,
        "at_now": NOW,  # (now - lookback, now]: now itself is inside
        "just_inside": NOW - DAY + timedelta(microseconds=1),
        "at_boundary": NOW - DAY,  # ... and now - lookback is outside
        "older": NOW - DAY - HOUR,
        "future": NOW + timedelta(seconds=1),
        "naive_utc": (NOW - 2 * HOUR).replace(tzinfo=None),  # naive means UTC
    }
    async with StorageAccount(connection_string) as account:
        history = HistoryIndex(await container(account, unique_name))
        written = await history.record([([name], when) for name, when in entries.items()])
        assert written == len(entries)
        assert await history.record([([], NOW)]) == 0  # an entry without keys is skipped

        seen = await history.load(NOW)
        for name in ("inside", "at_now", "just_inside", "naive_utc"):
            assert seen.seen([name]), name
        for name in ("at_boundary", "older", "future"):
            assert not seen.seen([name]), name
        assert len(seen) == 4
        assert history.last_load is not None and history.last_load.entries_in_window == 4

        assert len(await history.load(NOW - 30 * DAY)) == 0  # nothing from the future
        later = await history.load(NOW + 2 * DAY)
        assert not later.seen(list(entries))


class InFlightStore(BlobStore):
    """A real BlobStore noting, in order, each download's start and end and each parse."""

    def __init__(self, client: ContainerClient, name: str, endpoint: str) -> None:
        super().__init__(client, name, endpoint)
        self.events: list[tuple[str, str]] = []
        self.in_flight = 0
        self.most_in_flight = 0

    async def read_bytes(self, blob: str, *, max_bytes: int | None = None) -> bytes | None:
        self.events.append(("start", blob))
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            return await super().read_bytes(blob, max_bytes=max_bytes)
        finally:
            self.in_flight -= 1
            self.events.append(("end", blob))


async def _loaded_by_in_flight_store(
    connection_string: str, name: str, monkeypatch: pytest.MonkeyPatch
) -> tuple[InFlightStore, list[BlobInfo]]:
    """Four buckets of about 15 KB in the window, loaded by an ``InFlightStore``."""
    async with StorageAccount(connection_string) as account:
        writer = HistoryIndex(await container(account, name))
        entries = [(keys(i), NOW - (1 + i % 4) * HOUR) for i in range(1_200)]
        await writer.record(entries)
        buckets = await writer.store.list("history/")
    async with ContainerClient.from_connection_string(connection_string, name) as client:
        store = InFlightStore(client, name, "azurite")
        real_parse = index_module.add_window_entries

        def parse(seen: SeenKeys, blob: str, *args: Any) -> int:
            store.events.append(("parse", blob))
            return real_parse(seen, blob, *args)

        monkeypatch.setattr(index_module, "add_window_entries", parse)
        seen = await HistoryIndex(store).load(NOW)
    assert len(seen) == 3 * 1_200
    return store, buckets


async def test_small_buckets_are_downloaded_together(
    connection_string: str, unique_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, buckets = await _loaded_by_in_flight_store(connection_string, unique_name, monkeypatch)
    assert len(buckets) == 4 and all(10_000 < b.size < 30_000 for b in buckets)
    assert store.most_in_flight == 4  # far below the bytes a load has in flight at once


async def test_large_buckets_are_downloaded_one_at_a_time_each_parsed_during_the_next(
    connection_string: str, unique_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Buckets of more bytes than a load keeps in flight (the limit lowered here to 1.5 of
    these buckets) are downloaded one after another, and each one's download starts before
    the previous one is parsed: downloaded together, they would all arrive together."""
    monkeypatch.setattr(index_module, "_BYTES_IN_FLIGHT", 25_000)
    store, _ = await _loaded_by_in_flight_store(connection_string, unique_name, monkeypatch)
    assert store.most_in_flight == 1
    kinds = [kind for kind, _ in store.events]
    assert kinds == ["start", "end", "start", "parse", "end", "start", "parse", "end", "start",
                     "parse", "end", "parse"], store.events  # fmt: skip


async def test_the_download_budget_passes_on_a_slot_its_cancelled_waiter_was_given() -> None:
    budget = index_module._DownloadBudget(2, 100)
    await asyncio.wait_for(budget.acquire(150), 1)  # the first is let in whatever its size
    second = asyncio.ensure_future(budget.acquire(50))
    third = asyncio.ensure_future(budget.acquire(60))  # behind it, in order
    await asyncio.sleep(0)
    assert not second.done() and not third.done()
    budget.release(150)  # lets the second in; the third does not fit beside it
    second.cancel()  # let in, then cancelled before it ran: its slot goes on to the third
    await asyncio.wait_for(asyncio.gather(second, third, return_exceptions=True), 1)
    assert second.cancelled() and third.done() and not third.cancelled()
    fourth = asyncio.ensure_future(budget.acquire(50))  # 60 + 50 > 100: waits
    await asyncio.sleep(0)
    assert not fourth.done()
    fourth.cancel()


async def test_load_reads_only_the_window_buckets(connection_string: str, unique_name: str):
    async with StorageAccount(connection_string) as account:
        writer = HistoryIndex(await container(account, unique_name))
        # One entry every hour for five days around NOW, and a collection blob in the window.
        hours = [NOW - 3 * DAY + h * HOUR for h in range(5 * 24)]
        await writer.record([(keys(i), when) for i, when in enumerate(hours)])
        collection = collection_blob_name("c1", (NOW - HOUR).isoformat())
        await writer.store.append_jsonl(collection, [item(1, NOW - HOUR).to_dict()])

    async with ContainerClient.from_connection_string(connection_string, unique_name) as client:
        store = CountingStore(client, unique_name, "azurite")
        history = HistoryIndex(store)
        seen = await history.load(NOW)

    window = {history.bucket_name(NOW - h * HOUR) for h in range(25)}  # 07:00 back to 08:00
    assert sorted(store.read) == sorted(window)
    assert sorted(store.listed) == ["history/2026/11/28/", "history/2026/11/29/"]  # its days
    assert collection not in store.read
    in_window = [i for i, when in enumerate(hours) if NOW - DAY < when <= NOW]
    assert len(in_window) == 24
    assert len(seen) == 3 * 24 and all(seen.seen(keys(i)) for i in in_window)


async def test_two_collectors_recording_at_once_lose_nothing(
    connection_string: str, unique_name: str
):
    async with (
        StorageAccount(connection_string) as first_account,
        StorageAccount(connection_string) as second_account,
    ):
        first = HistoryIndex(await container(first_account, unique_name))
        second = HistoryIndex(await container(second_account, unique_name))

        async def collector(index: HistoryIndex, writer: int) -> None:
            for batch in range(10):  # streaming flushes, interleaved with the other collector
                base = writer * 10_000 + batch * 100
                await index.record(
                    [(keys(base + i), NOW - timedelta(minutes=i % 90)) for i in range(40)]
                )

        await asyncio.gather(
            collector(first, 0),
            collector(second, 1),
            *(first.record([(keys(50_000 + j), NOW - HOUR)]) for j in range(20)),
            *(second.record([(keys(60_000 + j), NOW - HOUR)]) for j in range(20)),
        )
        seen = await HistoryIndex(first.store).load(NOW)
        expected = [w * 10_000 + b * 100 + i for w in (0, 1) for b in range(10) for i in range(40)]
        expected += [50_000 + j for j in range(20)] + [60_000 + j for j in range(20)]
        assert all(seen.seen(keys(n)) for n in expected)
        assert len(seen) == 3 * len(expected)


async def test_a_large_call_is_split_into_lines(connection_string: str, unique_name: str):
    async with StorageAccount(connection_string) as account:
        history = HistoryIndex(await container(account, unique_name))
        when = [NOW - timedelta(minutes=30, microseconds=i) for i in range(12_000)]
        assert await history.record([([f"k{i}"], t) for i, t in enumerate(when)]) == 12_000
        lines = await history.store.read_jsonl(history.bucket_name(NOW - HOUR))
        assert [len(entry_times(line)) for line in lines] == [5_000, 5_000, 2_000]
        assert len(await history.load(NOW)) == 12_000


async def test_full_bucket_rolls_over_to_a_new_part(connection_string: str, unique_name: str):
    """The storage answers an append to the 07:00 bucket as for a full append blob (HTTP 409
    BlockCountExceedsLimit, through the SDK's own error parsing); other errors are not a
    rollover."""
    async with StorageAccount(connection_string) as account:
        await container(account, unique_name)

    def full(method: str, url: str, headers: dict[str, str]) -> Fault | None:
        return block_count_exceeded() if is_append_block(method, url, "/07.jsonl") else None

    def busy(method: str, url: str, headers: dict[str, str]) -> Fault | None:
        return server_busy() if is_append_block(method, url, "/05.jsonl") else None

    async with fault_server() as server:
        transport = FaultyTransport(full, server)
        async with ContainerClient.from_connection_string(
            connection_string, unique_name, transport=transport, retry_total=0
        ) as client:
            history = HistoryIndex(BlobStore(client, unique_name, "azurite"))
            await history.record([(["a"], NOW - HOUR), (["b"], NOW - 2 * HOUR)])
            await history.record([(["c"], NOW - HOUR)])
            names = [b.name async for b in history.store.iter("history/")]
            assert names == ["history/2026/11/29/06.jsonl", "history/2026/11/29/07.1.jsonl"]
            assert transport.faults == 1  # the second record went to part 1 at once
            seen = await history.load(NOW)
            assert len(seen) == 3 and seen.seen(["a"]) and seen.seen(["c"])
        async with ContainerClient.from_connection_string(
            connection_string, unique_name, transport=FaultyTransport(busy, server), retry_total=0
        ) as client:
            history = HistoryIndex(BlobStore(client, unique_name, "azurite"))
            with pytest.raises(StorageError, match=r"HTTP 503, ServerBusy"):
                await history.record([(["d"], NOW - 3 * HOUR)])
            names = [b.name async for b in history.store.iter("history/")]
            assert "history/2026/11/29/05.1.jsonl" not in names


async def test_bad_lines_are_skipped_not_fatal(
    connection_string: str, unique_name: str, caplog: pytest.LogCaptureFixture
):
    async with StorageAccount(connection_string) as account:
        history = HistoryIndex(await container(account, unique_name))
        await history.record([(["good"], NOW - HOUR)])
        await history.store.append_jsonl(history.bucket_name(NOW - HOUR), [{"x": 1}])
        await history.record([(["also-good"], NOW - HOUR)])
        caplog.set_level(logging.WARNING, logger="pipeline.history")
        seen = await history.load(NOW)
        assert len(seen) == 2 and seen.seen(["also-good"])
        assert "history_bad_line" in caplog.text


async def test_cleanup_deletes_only_buckets_older_than_retention(
    connection_string: str, unique_name: str
):
    async with StorageAccount(connection_string) as account:
        store = await container(account, unique_name)
        history = HistoryIndex(store, retention=timedelta(days=7))
        cutoff = NOW - timedelta(days=7)  # 2026-11-22 08:00
        times = [NOW - timedelta(days=10), cutoff - HOUR, cutoff, NOW - DAY, NOW]
        await history.record([([str(i)], when) for i, when in enumerate(times)])
        await store.write_json("history/README.json", {"not": "a bucket"})
        collection = collection_blob_name("old", (NOW - timedelta(days=10)).isoformat())
        await store.append_jsonl(collection, [{"n": 1}])

        assert await history.cleanup(NOW) == 2
        left = [b.name for b in await store.list("history/")]
        # The bucket 07:00-08:00 ends exactly at the cutoff: all of it is older, so it goes;
        # the 08:00 bucket holds the cutoff itself and stays.
        assert left == [
            "history/2026/11/22/08.jsonl",
            "history/2026/11/28/08.jsonl",
            "history/2026/11/29/08.jsonl",
            "history/README.json",
        ]
        assert await store.exists(collection)  # history cleanup never touches collections
        assert await history.cleanup(NOW) == 0


async def test_collection_cleanup_judges_by_the_name(connection_string: str, unique_name: str):
    async with StorageAccount(connection_string) as account:
        store = await container(account, unique_name)
        cutoff = NOW - timedelta(days=7)
        starts = {
            "ancient": NOW - timedelta(days=30),
            "second-before": cutoff - timedelta(seconds=1),
            "at-cutoff": cutoff,
            "recent": NOW - HOUR,
        }
        names = {k: collection_blob_name(k, v.isoformat()) for k, v in starts.items()}
        for name in names.values():
            await store.append_jsonl(name, [{"n": 1}])
        await store.write_json("collections/notes.json", {})
        await HistoryIndex(store).record([(["k"], NOW - timedelta(days=30))])

        assert collection_started_at(names["at-cutoff"]) == cutoff
        assert await HistoryIndex(store).cleanup_collections(NOW) == 2
        left = sorted(b.name for b in await store.list("collections/"))
        assert left == sorted([names["at-cutoff"], names["recent"], "collections/notes.json"])
        assert len(await store.list("history/")) == 1  # collection cleanup leaves the index
        assert await cleanup_collections(store, NOW, timedelta(hours=2)) == 1


async def test_design_loader_and_index_agree(connection_string: str, unique_name: str):
    collections = {  # start -> items collected over the next minutes
        NOW - timedelta(hours=30): range(0, 20),  # before the window
        NOW - timedelta(hours=16): range(20, 60),
        NOW - timedelta(hours=8, minutes=5): range(50, 90),  # overlaps the previous one
        NOW - timedelta(minutes=30): range(90, 120),
    }
    async with StorageAccount(connection_string) as account:
        store = await container(account, unique_name)
        history = HistoryIndex(store)
        for started, numbers in collections.items():
            items = [item(n, started + timedelta(seconds=20 * k)) for k, n in enumerate(numbers)]
            name = collection_blob_name(f"c{numbers.start}", started.isoformat())
            await store.append_jsonl(name, [i.to_dict() for i in items])
            await history.record([(i.dedup_keys(), i.collected_at) for i in items])

        design = await load_history_from_collections(store, NOW, timedelta(hours=24))
        ours = await history.load(NOW)
        assert design.digests() == ours.digests()
        assert len(ours) == 3 * 100  # items 20..119, three keys each
        assert not ours.seen(item(5, NOW).dedup_keys())
        assert ours.seen(item(55, NOW).dedup_keys())


async def test_validation_names_the_bad_value(connection_string: str, unique_name: str):
    async with StorageAccount(connection_string) as account:
        store = account.container(unique_name)
        bad: list[tuple[dict[str, Any], str]] = [
            ({"lookback": timedelta(0)}, "lookback must be a positive timedelta, got "),
            ({"lookback": -HOUR}, "-1 day, 23:00:00"),
            ({"retention": timedelta(0)}, "retention must be a positive"),
            ({"lookback": 2 * DAY, "retention": DAY}, "retention (1 day, 0:00:00)"),
            ({"lookback": 3600}, "got 3600"),
            ({"prefix": "history"}, "'history'"),
            ({"prefix": "collections/history/"}, "overlaps the collections prefix"),
            ({"max_concurrency": 0}, "max_concurrency must be an integer >= 1, got 0"),
        ]
        for kwargs, message in bad:
            with pytest.raises(ValueError) as info:
                HistoryIndex(store, **kwargs)
            assert message in str(info.value), kwargs
        with pytest.raises(ValueError, match="lookback"):
            await load_history_from_collections(store, NOW, timedelta(0))
        with pytest.raises(ValueError, match="retention"):
            await cleanup_collections(store, NOW, -DAY)
        HistoryIndex(store, lookback=DAY, retention=DAY)  # equal is fine


async def test_version_1_lines_are_still_read(connection_string: str, unique_name: str):
    async with StorageAccount(connection_string) as account:
        history = HistoryIndex(await container(account, unique_name))
        hour = NOW - HOUR
        hour = hour.replace(minute=0, second=0, microsecond=0)
        t0 = int((hour - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds()) * 1_000_000
        old_line = {"v": 1, "t0": t0, "t": [60_000_000, 120_000_000],
                    "k": [[_text("old-a")], [_text("old-b"), _text("old-c")]]}  # fmt: skip
        await history.store.append_jsonl(history.bucket_name(hour), [old_line])
        await history.record([(["new"], hour + timedelta(minutes=5))])
        seen = await history.load(NOW)
        assert all(seen.seen([k]) for k in ("old-a", "old-b", "old-c", "new"))
        assert len(seen) == 4

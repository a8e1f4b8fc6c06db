"""The processor against the session's real Azurite: exactly once, idempotency, visibility
renewal, poison, claim checks, clean stop, storage errors; and the light transformation."""

from __future__ import annotations

import asyncio
import base64
import functools
import json
import logging
import random
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from azure.storage.queue.aio import QueueClient

from pipeline.clock import Clock
from pipeline.errors import StorageAuthError
from pipeline.items import ContentItem
from pipeline.messages import build_message, claim_blob_name, encode_message
from pipeline.processor import (
    POISON_SCHEMA,
    RESULT_SCHEMA,
    ProcessedRecord,
    Processor,
    ProcessorSettings,
    Work,
    result_blob_name,
    transform,
)
from pipeline.storage import BlobStore, QueueAdapter, StorageAccount
from workbench.azurite import DEV_KEY

FAST = 50.0  # clock speed: a recorded second takes 20 ms


def constant(seconds: float) -> Work:
    """Simulated work that always takes ``seconds`` recording seconds."""
    return lambda: seconds


def make_message(number: int, *, body: str | None = None, **kwargs: Any) -> dict[str, Any]:
    item = make_item(number, body=body)
    return build_message(
        item,
        collection_id="run-1",
        collection_blob="collections/2024/01/01/000000-run-1.jsonl",
        mode="streaming",
        **kwargs,
    )


def make_item(number: int, *, body: str | None = None) -> ContentItem:
    return ContentItem.create(
        source="rss",
        source_name="hn",
        source_id=f"https://example.org/story/{number}",
        url=f"https://example.org/story/{number}",
        title=f"Story number {number} about async Python queues",
        body=body
        if body is not None
        else f"Story {number} explains queues. Workers take messages. They delete them.",
        author="someone",
        published_at=datetime(2024, 1, 1, 12, 0, tzinfo=UTC),
    )


async def poll(predicate: Callable[[], bool], what: str, timeout_s: float = 15.0) -> None:
    """Wait until ``predicate()`` holds, failing after ``timeout_s`` wall seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        await asyncio.sleep(0.02)


class Setup:
    def __init__(self, account: StorageAccount, name: str) -> None:
        self.account = account
        self.queue_name = name
        self.poison_name = f"{name}-poison"
        self.results_name = f"{name}-results"
        self.queue: QueueAdapter = account.queue(self.queue_name)
        self.poison: QueueAdapter = account.queue(self.poison_name)
        self.results: BlobStore = account.container(self.results_name)

    async def create(self) -> Setup:
        await self.queue.create_if_missing()
        await self.poison.create_if_missing()
        await self.results.create_if_missing()
        return self

    def processor(
        self,
        *,
        clock: Clock | None = None,
        work: Work | None = None,
        name: str = "processor-1",
        **settings: Any,
    ) -> Processor:
        return Processor(
            self.account,
            ProcessorSettings(
                queue_name=self.queue_name,
                poison_queue_name=self.poison_name,
                results_container=self.results_name,
                **settings,
            ),
            clock=clock or Clock(FAST),
            work=work,
            name=name,
        )

    async def drain(self, queue: QueueAdapter) -> list[Any]:
        """Every message now visible on ``queue``, taken and deleted."""
        out = []
        while batch := await queue.receive(32, visibility_timeout=30):
            for message in batch:
                out.append(message)
                await queue.delete(message)
        return out


async def run_until(
    processor: Processor, predicate: Callable[[], bool], what: str, timeout_s: float = 15.0
) -> list[ProcessedRecord]:
    task = asyncio.create_task(processor.run())
    try:
        await poll(lambda: predicate() or task.done(), what, timeout_s)
    finally:
        processor.request_stop()
        await asyncio.wait_for(task, timeout=timeout_s)
    return processor.records


async def run_beside_a_thief(s: Setup, processor: Processor, messages: int) -> list[Any]:
    """Run ``processor`` until it has handled ``messages``, with a competing consumer receiving
    from its queue all the while; returns what the competitor got (messages that became
    visible while held)."""
    stolen: list[Any] = []

    async def thief() -> None:
        while processor.stats.handled < messages:
            stolen.extend(await s.queue.receive(32, visibility_timeout=30))
            await asyncio.sleep(0.05)

    task = asyncio.create_task(processor.run())
    await poll(lambda: processor.held == messages, f"{messages} message(s) received")
    await asyncio.wait_for(thief(), timeout=15)
    processor.request_stop()
    await asyncio.wait_for(task, timeout=5)
    return stolen


# -- the transformation ------------------------------------------------------------------------


def test_transform_is_light_and_deterministic():
    message = make_message(
        1,
        body=(
            "Queues decouple   producers from consumers. KEDA scales workers on queue length! "
            "A third sentence about queues and workers. See https://example.org/x for more; "
            "queues, queues, queues. \x07The end."
        ),
    )
    article = transform(message)
    assert article == transform(json.loads(json.dumps(message)))
    assert article["title"] == "Story number 1 about async Python queues"
    assert article["summary"] == (
        "Queues decouple producers from consumers. KEDA scales workers on queue length!"
    )
    assert "  " not in article["body"] and "\x07" not in article["body"]
    assert article["keywords"][0] == "queues"
    assert "the" not in article["keywords"] and "and" not in article["keywords"]
    assert article["links"] == ["https://example.org/x"]
    assert article["word_count"] == 26
    assert article["sentence_count"] == 5
    assert article["reading_time_s"] == 7  # 26 words at 230 words a minute


def test_transform_needs_no_language_of_its_own():
    german = transform(
        {"title": "Warteschlangen", "body": "Die Warteschlange wächst. Die Arbeiter holen."}
    )
    assert german["keywords"][:2] == ["arbeiter", "holen"]
    assert "die" not in german["keywords"]
    japanese = transform({"title": "キュー", "body": "処理は速い。次の文。"})
    assert japanese["sentence_count"] == 2
    assert japanese["summary"] == "処理は速い。 次の文。"
    assert japanese["word_count"] == 8  # one per ideograph or kana
    empty = transform({"title": "Only a title", "body": ""})
    assert empty["summary"] == "Only a title" and empty["word_count"] == 0


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="concurrency"):
        ProcessorSettings(concurrency=0)
    with pytest.raises(ValueError, match="visibility_timeout_s"):
        ProcessorSettings(visibility_timeout_s=0.5)  # type: ignore[arg-type]
    # The processor parses no distributions: a spec string is not work (the workbench parses it).
    with pytest.raises(TypeError, match="work must be a callable"):
        Processor(
            StorageAccount("AccountName=a;AccountKey=YQ=="),
            clock=Clock(),
            work="normal(1)",  # type: ignore[arg-type]
        )


# -- against Azurite ---------------------------------------------------------------------------

pytestmark_anyio = pytest.mark.anyio


@pytestmark_anyio
async def test_two_processors_process_every_message_exactly_once(
    connection_string: str, unique_name: str
):
    async with StorageAccount(connection_string) as account:
        s = await Setup(account, unique_name).create()
        messages = [make_message(i) for i in range(50)]
        await asyncio.gather(*(s.queue.send(encode_message(m)) for m in messages))
        stop = asyncio.Event()
        clock = Clock(FAST)
        workers = [
            s.processor(
                clock=clock,
                name=f"processor-{k}",
                concurrency=4,
                batch_size=8,
                work=functools.partial(random.Random(k).uniform, 0, 1),
            )
            for k in (1, 2)
        ]
        tasks = [asyncio.create_task(w.run(stop)) for w in workers]
        await poll(lambda: sum(w.stats.handled for w in workers) >= 50, "50 messages handled")
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=15)

        records = [r for w in workers for r in w.records]
        assert {r.outcome for r in records} == {"processed"}
        assert sorted(r.item_id for r in records) == sorted(m["id"] for m in messages)
        assert all(r.dequeue_count == 1 for r in records)
        assert all(w.stats.processed > 0 for w in workers), "one worker did everything"
        assert all(r.started_at <= r.finished_at for r in records)
        blobs = {b.name for b in await s.results.list()}
        assert blobs == {result_blob_name(m["content_hash"]) for m in messages}
        assert await s.queue.approximate_count() == 0
        assert await s.poison.approximate_count() == 0

        sample = messages[7]
        result, _ = await s.results.read_json(result_blob_name(sample["content_hash"]))
        assert result["schema"] == RESULT_SCHEMA
        assert result["item_id"] == sample["id"]
        assert result["mode"] == "streaming"
        assert result["processed_by"] in {"processor-1", "processor-2"}
        assert result["article"] == transform(sample)


@pytestmark_anyio
async def test_an_item_already_processed_is_deleted_without_the_work(
    connection_string: str, unique_name: str
):
    async with StorageAccount(connection_string) as account:
        s = await Setup(account, unique_name).create()
        message = make_message(1)
        earlier = {"marker": "processed earlier"}
        await s.results.write_json(result_blob_name(message["content_hash"]), earlier)
        await s.queue.send(encode_message(message))
        # The work would take 1000 recorded seconds (20 s of wall time at this speed).
        processor = s.processor(work=constant(1000))
        records = await run_until(processor, lambda: processor.stats.handled >= 1, "a record")

        assert [(r.outcome, r.item_id, r.work_s) for r in records] == [
            ("duplicate", message["id"], 0.0)
        ]
        assert (await s.results.read_json(result_blob_name(message["content_hash"])))[0] == earlier
        assert await s.queue.approximate_count() == 0


def short_post(post_id: str, link: str) -> dict[str, Any]:
    """A Reddit link post whose whole text is "How?": too short to identify a post."""
    item = ContentItem.create(
        source="reddit",
        source_name="r-python",
        source_id=post_id,
        url=link,
        title="How?",
        body="",
        author="someone",
        published_at=datetime(2024, 1, 1, 12, 0, tzinfo=UTC),
    )
    return build_message(item, collection_id="run-1", collection_blob="c.jsonl", mode="batch")


@pytestmark_anyio
async def test_distinct_short_posts_with_one_text_are_each_processed_once(
    connection_string: str, unique_name: str
):
    """Dedup keeps two "How?" posts that link different things (their text is too short to be
    a key); the processor must not take the second for the first (same content hash), and must
    still process one post delivered twice only once."""
    async with StorageAccount(connection_string) as account:
        s = await Setup(account, unique_name).create()
        first = short_post("t3_a1", "https://a.example/one")
        second = short_post("t3_b2", "https://b.example/two")
        assert first["content_hash"] == second["content_hash"]
        for message in (first, second, first):
            await s.queue.send(encode_message(message))
        processor = s.processor(concurrency=1, batch_size=1)
        records = await run_until(processor, lambda: processor.stats.handled >= 3, "3 records")

        outcomes = sorted((r.item_id == first["id"], r.outcome) for r in records)
        assert outcomes == [(False, "processed"), (True, "duplicate"), (True, "processed")]
        assert len(await s.results.list()) == 2


@pytestmark_anyio
async def test_visibility_is_renewed_while_working_and_while_waiting(
    connection_string: str, unique_name: str
):
    async with StorageAccount(connection_string) as account:
        s = await Setup(account, unique_name).create()
        messages = [make_message(i) for i in range(2)]
        for message in messages:
            await s.queue.send(encode_message(message))
        # Visibility lapses after 1 wall second; each message takes 1.5 wall seconds, and the
        # second one waits 1.5 s for the only worker.
        processor = s.processor(
            clock=Clock(2), work=constant(3), visibility_timeout_s=1, concurrency=1
        )
        stolen = await run_beside_a_thief(s, processor, 2)
        records = processor.records

        assert stolen == [], "a message became visible again while held"
        assert [(r.outcome, r.dequeue_count) for r in records] == [("processed", 1)] * 2
        assert processor.stats.visibility_renewals >= 4
        assert len(await s.results.list()) == 2
        assert await s.queue.approximate_count() == 0


@pytestmark_anyio
async def test_the_sixth_delivery_goes_to_the_poison_queue(
    connection_string: str, unique_name: str
):
    """max_deliveries=5: the fifth delivery is still processed, the sixth is poisoned."""
    async with StorageAccount(connection_string) as account:
        s = await Setup(account, unique_name).create()
        fifth, sixth = make_message(1), make_message(2)
        held = []
        for message, failed in ((sixth, 5), (fifth, 4)):  # deliveries that fail, not deleted
            await s.queue.send(encode_message(message))
            for delivery in range(1, failed + 1):
                [received] = await s.queue.receive(1, visibility_timeout=30)
                assert received.dequeue_count == delivery
                if delivery < failed:
                    await s.queue.update_visibility(received, 0)
            held.append(received)  # hidden while the other message is delivered
        for received in held:
            await s.queue.update_visibility(received, 0)
        raw = held[0].raw_content

        processor = s.processor(max_deliveries=5)
        records = await run_until(processor, lambda: processor.stats.handled >= 2, "2 records")

        outcomes = {r.item_id: (r.outcome, r.dequeue_count) for r in records}
        assert outcomes == {fifth["id"]: ("processed", 5), sixth["id"]: ("poisoned", 6)}
        [record] = [r for r in records if r.outcome == "poisoned"]
        assert record.reason == "delivered 6 times, over max_deliveries=5"
        [poisoned] = await s.drain(s.poison)
        envelope = poisoned.json()
        assert envelope["schema"] == POISON_SCHEMA
        assert envelope["raw_content"] == raw
        assert json.loads(base64.b64decode(envelope["raw_content"])) == sixth
        assert envelope["reason"] == record.reason
        assert envelope["source_queue"] == s.queue_name
        assert await s.queue.approximate_count() == 0
        assert [b.name for b in await s.results.list()] == [result_blob_name(fifth["content_hash"])]


@pytestmark_anyio
async def test_messages_that_are_not_v1_go_to_poison_with_a_reason(
    connection_string: str, unique_name: str
):
    async with StorageAccount(connection_string) as account:
        s = await Setup(account, unique_name).create()
        b64 = lambda text: base64.b64encode(text.encode()).decode()  # noqa: E731
        raws = {
            "%%% not base64 %%%": "not base64",
            b64("{not json"): "not valid JSON",
            b64("[1, 2]"): "not a JSON object",
            b64(json.dumps({"schema": "content-item/v1", "id": "x"})): "invalid content-item/v1",
        }
        async with QueueClient.from_connection_string(connection_string, s.queue_name) as plain:
            for raw in raws:
                await plain.send_message(raw)

        processor = s.processor()
        records = await run_until(processor, lambda: processor.stats.handled >= 4, "4 records")

        assert [r.outcome for r in records] == ["invalid"] * 4
        envelopes = [m.json() for m in await s.drain(s.poison)]
        assert sorted(e["raw_content"] for e in envelopes) == sorted(raws)
        for envelope in envelopes:
            assert raws[envelope["raw_content"]] in envelope["reason"]
        assert await s.queue.approximate_count() == 0
        assert await s.results.list() == []


@pytestmark_anyio
async def test_a_claim_check_is_read_before_transforming(connection_string: str, unique_name: str):
    async with StorageAccount(connection_string) as account:
        s = await Setup(account, unique_name).create()
        claims = await account.container(f"{unique_name}-claims").create_if_missing()
        long_body = " ".join(f"Sentence {i} about streaming collection." for i in range(2000))
        item = make_item(1, body=long_body)
        blob = claim_blob_name("run-1", item.content_hash)
        await claims.write_json(blob, item.to_dict())
        message = make_message(1, body=long_body, claim_check=f"{claims.name}/{blob}")
        assert message["body_truncated"] and len(message["body"]) < len(long_body)
        missing = make_message(2, claim_check=f"{claims.name}/claims/nowhere.json")
        await s.queue.send(encode_message(message))
        await s.queue.send(encode_message(missing))

        processor = s.processor(claims_container=claims.name)
        records = await run_until(processor, lambda: processor.stats.handled >= 2, "2 records")

        outcomes = {r.item_id: (r.outcome, r.reason) for r in records}
        assert outcomes[message["id"]] == ("processed", "")
        assert outcomes[missing["id"]][0] == "invalid"
        assert "not found" in outcomes[missing["id"]][1]
        result, _ = await s.results.read_json(result_blob_name(item.content_hash))
        assert result["article"]["word_count"] == transform(item.to_dict())["word_count"] == 10000
        assert len(await s.drain(s.poison)) == 1


@pytestmark_anyio
async def test_stop_finishes_the_message_in_progress_and_releases_the_rest(
    connection_string: str, unique_name: str
):
    async with StorageAccount(connection_string) as account:
        s = await Setup(account, unique_name).create()
        messages = [make_message(i) for i in range(4)]
        for message in messages:
            await s.queue.send(encode_message(message))
        processor = s.processor(clock=Clock(10), work=constant(10), concurrency=1)
        task = asyncio.create_task(processor.run())
        await poll(lambda: bool(processor.in_progress), "a message in progress")
        processor.request_stop()
        await asyncio.wait_for(task, timeout=10)

        outcomes = sorted(r.outcome for r in processor.records)
        assert outcomes == ["processed", "released", "released", "released"]
        released = [r for r in processor.records if r.outcome == "released"]
        assert all(r.reason == "stop requested before start" for r in released)
        # Released ones are visible again at once; nothing is lost.
        back = await s.queue.receive(32, visibility_timeout=30)
        assert sorted(m.id for m in back) == sorted(r.queue_message_id for r in released)
        [done] = [r for r in processor.records if r.outcome == "processed"]
        assert {m.json()["id"] for m in back} | {done.item_id} == {m["id"] for m in messages}
        assert len(await s.results.list()) == 1


@pytestmark_anyio
@pytest.mark.parametrize("how", ["abort", "cancel"])
async def test_abort_releases_the_message_in_progress(
    connection_string: str, unique_name: str, how: str
):
    async with StorageAccount(connection_string) as account:
        s = await Setup(account, unique_name).create()
        message = make_message(1)
        await s.queue.send(encode_message(message))
        processor = s.processor(work=constant(1000))  # 20 s of wall time
        task = asyncio.create_task(processor.run())
        await poll(lambda: bool(processor.in_progress), "a message in progress")
        if how == "abort":
            processor.request_stop(abort=True)
            await asyncio.wait_for(task, timeout=5)
        else:
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await asyncio.wait_for(task, timeout=5)

        [record] = processor.records
        assert (record.outcome, record.item_id) == ("released", message["id"])
        [back] = await s.queue.receive(32, visibility_timeout=30)
        assert back.json() == message
        assert await s.results.list() == []


@pytestmark_anyio
async def test_storage_errors_are_logged_and_retried(
    connection_string: str, unique_name: str, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.INFO, logger="pipeline.processor")
    async with StorageAccount(connection_string) as account:
        s = Setup(account, unique_name)  # the queue does not exist yet
        await s.results.create_if_missing()
        processor = s.processor()
        task = asyncio.create_task(processor.run())
        await poll(lambda: processor.stats.storage_errors >= 2, "two failed receives")
        await s.queue.create_if_missing()
        message = make_message(1)
        await s.queue.send(encode_message(message))
        await poll(lambda: processor.stats.processed >= 1, "recovery", timeout_s=20)
        processor.request_stop()
        await asyncio.wait_for(task, timeout=10)

    failures = [r.getMessage() for r in caplog.records if "event=receive_failed" in r.getMessage()]
    assert failures
    assert f"queue={unique_name}" in failures[0] and "attempt=1" in failures[0]
    assert "not found" in failures[0]
    assert DEV_KEY not in caplog.text and "AccountKey" not in caplog.text


@pytestmark_anyio
async def test_a_refused_key_is_fatal(connection_string: str, unique_name: str):
    wrong_key = base64.b64encode(b"not the key" * 6).decode()
    bad = connection_string.replace(DEV_KEY, wrong_key)
    async with StorageAccount(bad) as account:
        processor = Setup(account, unique_name).processor()
        with pytest.raises(StorageAuthError, match="authentication refused"):
            await asyncio.wait_for(processor.run(), timeout=10)


@pytestmark_anyio
async def test_idle_exit(connection_string: str, unique_name: str):
    async with StorageAccount(connection_string) as account:
        s = await Setup(account, unique_name).create()
        processor = s.processor(idle_exit_s=2.0)
        stats = await asyncio.wait_for(processor.run(), timeout=10)
        assert stats.handled == 0
        assert processor.clock.now() >= 2.0

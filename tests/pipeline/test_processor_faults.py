"""The processor's failure paths against the session's Azurite, with faults injected below the
storage adapters (tests/pipeline/storage_faults.py) or by the work itself: two workers racing on
one item, a poison envelope too large for the queue, a storage error and an unexpected exception
while handling, a lost lease and a failed renewal."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from azure.storage.queue.aio import QueueClient

from pipeline.clock import Clock
from pipeline.messages import encode_message
from pipeline.processor import POISON_SCHEMA, result_blob_name
from pipeline.storage import StorageAccount
from tests.pipeline.storage_faults import (
    REFUSED,
    Fault,
    FaultyAccount,
    fault_server,
    is_visibility_update,
    message_not_found,
)
from tests.pipeline.test_processor import (
    FAST,
    Setup,
    constant,
    make_message,
    poll,
    run_beside_a_thief,
    run_until,
)

pytestmark = pytest.mark.anyio


async def test_two_workers_racing_on_one_item_write_its_result_once(
    connection_string: str, unique_name: str
) -> None:
    """The same item twice on the queue, taken at once by two processors: both find no result
    and work (1 wall second); the result write is create-only, so the second is a duplicate."""
    async with StorageAccount(connection_string) as account:
        s = await Setup(account, unique_name).create()
        message = make_message(1)
        for _ in range(2):
            await s.queue.send(encode_message(message))
        workers = [
            s.processor(name=f"processor-{k}", work=constant(50), batch_size=1) for k in (1, 2)
        ]
        tasks = [asyncio.create_task(w.run()) for w in workers]
        await poll(lambda: sum(w.stats.handled for w in workers) >= 2, "both copies handled")
        for worker in workers:
            worker.request_stop()
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=10)
        records = sorted((r for w in workers for r in w.records), key=lambda r: r.outcome)
        assert [(r.outcome, r.work_s) for r in records] == [("duplicate", 50), ("processed", 50)]
        assert records[0].reason == "another worker wrote the result first"
        assert {r.worker for r in records} == {"processor-1", "processor-2"}
        assert [b.name for b in await s.results.list()] == [
            result_blob_name(message["content_hash"])
        ]
        result, _ = await s.results.read_json(result_blob_name(message["content_hash"]))
        assert result["processed_by"] == records[1].worker
        assert await s.queue.approximate_count() == 0


async def test_a_poison_envelope_too_large_for_the_queue_keeps_the_raw_content_in_a_blob(
    connection_string: str, unique_name: str
) -> None:
    raw = "not base64! " * 5000  # 60,000 characters: the envelope passes 64 KiB once encoded
    async with StorageAccount(connection_string) as account:
        s = await Setup(account, unique_name).create()
        async with QueueClient.from_connection_string(connection_string, s.queue_name) as plain:
            await plain.send_message(raw)
        processor = s.processor()
        [record] = await run_until(processor, lambda: processor.stats.handled >= 1, "a record")
        [poisoned] = await s.drain(s.poison)
        envelope = poisoned.json()
        container, _, blob = envelope["raw_blob"].partition("/")
        kept = await account.container(container).read_bytes(blob)
    assert record.outcome == "invalid" and "not base64" in record.reason
    assert envelope["schema"] == POISON_SCHEMA and envelope["reason"] == record.reason
    assert envelope["raw_content"] is None
    assert container == s.results_name
    assert blob == f"poison/{s.queue_name}/{record.queue_message_id}.txt"
    assert kept == raw.encode()


async def test_a_storage_error_while_handling_releases_the_message_with_a_back_off(
    connection_string: str, unique_name: str
) -> None:
    """No results container: the first delivery fails on storage and is released for 2 s
    (2 ** dequeue count), not at once; the second delivery finds the container and succeeds."""
    async with StorageAccount(connection_string) as account:
        s = Setup(account, unique_name)
        await s.queue.create_if_missing()
        await s.poison.create_if_missing()
        message = make_message(1)
        await s.queue.send(encode_message(message))
        processor = s.processor(clock=Clock(FAST))
        task = asyncio.create_task(processor.run())
        await poll(lambda: processor.stats.released >= 1, "the release")
        released_at = asyncio.get_running_loop().time()
        [released] = processor.records
        assert released.outcome == "released" and released.dequeue_count == 1
        assert released.reason.startswith("storage error: ")
        assert released.reason.endswith(" (retry in 2 s)")
        assert "not found" in released.reason
        assert processor.stats.storage_errors == 1
        await s.results.create_if_missing()
        await poll(lambda: processor.stats.processed >= 1, "the second delivery", timeout_s=10)
        again_at = asyncio.get_running_loop().time()
        processor.request_stop()
        await asyncio.wait_for(task, timeout=10)
    done = processor.records[-1]
    assert (done.outcome, done.dequeue_count) == ("processed", 2)
    assert again_at - released_at >= 1.9  # hidden for the back-off, not released at once


async def test_an_unexpected_exception_is_released_then_poisoned_with_its_cause(
    connection_string: str, unique_name: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="pipeline.processor")

    def broken() -> float:
        raise RuntimeError("the work broke")

    async with StorageAccount(connection_string) as account:
        s = await Setup(account, unique_name).create()
        message = make_message(1)
        await s.queue.send(encode_message(message))
        processor = s.processor(work=broken, max_deliveries=1)
        records = await run_until(
            processor, lambda: processor.stats.poisoned >= 1, "the poisoning", timeout_s=15
        )
        [poisoned] = [m.json() for m in await s.drain(s.poison)]
        assert await s.results.list() == []
    released, final = records
    cause = "RuntimeError while processing: the work broke"
    assert (released.outcome, released.reason) == ("released", f"{cause} (retry in 2 s)")
    assert (final.outcome, final.dequeue_count) == ("poisoned", 2)
    assert final.reason == f"delivered 2 times, over max_deliveries=1; last failure: {cause}"
    assert poisoned["reason"] == final.reason
    failed = [r for r in caplog.records if "event=processing_failed" in r.getMessage()]
    assert len(failed) == 1 and failed[0].exc_info is not None  # the traceback is logged
    assert processor.stats.storage_errors == 0


def _renewals(fault: Fault, count: int) -> Any:
    """A rule failing the first ``count`` lease renewals (visibility set to 1 s) with ``fault``."""
    seen = [0]

    def rule(method: str, url: str, headers: dict[str, str]) -> Fault | None:
        if not is_visibility_update(method, url, 1):
            return None
        seen[0] += 1
        return fault if seen[0] <= count else None

    return rule


async def test_a_failed_renewal_is_retried_before_the_lease_lapses(
    connection_string: str, unique_name: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Visibility 1 s, renewed every 0.5 s; the first two renewals find storage unreachable and
    are retried after 1/8 of the timeout, so the third, at ~0.75 s, keeps the message hidden."""
    caplog.set_level(logging.WARNING, logger="pipeline.processor")
    async with fault_server() as server:
        account = FaultyAccount(connection_string, _renewals(REFUSED, 2), server)
        async with account:
            s = await Setup(account, unique_name).create()
            await s.queue.send(encode_message(make_message(1)))
            processor = s.processor(
                clock=Clock(10), work=constant(15), visibility_timeout_s=1, concurrency=1
            )
            stolen = await run_beside_a_thief(s, processor, 1)
    assert account.transport.faults == 2
    assert stolen == [], "the message became visible while held"
    [record] = processor.records
    assert (record.outcome, record.dequeue_count) == ("processed", 1)
    assert processor.stats.storage_errors == 2 and processor.stats.visibility_renewals >= 2
    assert caplog.text.count("event=renew_failed") == 2


async def test_a_lost_lease_is_not_deleted_and_the_next_delivery_is_a_duplicate(
    connection_string: str, unique_name: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The first renewal is answered "message not found" (another worker holds it now): the
    worker stops renewing and, its receipt no longer its own, does not delete the message when
    done. The message comes back after its visibility timeout and is taken as a duplicate."""
    caplog.set_level(logging.WARNING, logger="pipeline.processor")
    async with fault_server() as server:
        account = FaultyAccount(connection_string, _renewals(message_not_found(), 1), server)
        async with account:
            s = await Setup(account, unique_name).create()
            message = make_message(1)
            await s.queue.send(encode_message(message))
            processor = s.processor(
                clock=Clock(10), work=constant(15), visibility_timeout_s=1, concurrency=1
            )
            records = await run_until(
                processor, lambda: processor.stats.handled >= 2, "two deliveries", timeout_s=15
            )
            assert await s.queue.approximate_count() == 0
            assert len(await s.results.list()) == 1
    assert account.transport.faults == 1
    assert [(r.outcome, r.dequeue_count) for r in records] == [
        ("processed", 1),
        ("duplicate", 2),
    ]
    assert "event=lease_lost" in caplog.text and "event=delete_failed" not in caplog.text
    assert processor.stats.storage_errors == 1

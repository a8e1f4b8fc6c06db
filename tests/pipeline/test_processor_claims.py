"""Permanent content errors are poisoned at once with their exact reason (issue 12, defects 7
and 10): a claim blob that is not JSON used to count as a temporary storage error, retried five
times over a minute and then poisoned as "delivered 6 times"; a claim check could point at any
container and any size; base64 of invalid UTF-8 was poisoned as "not base64 text"."""

from __future__ import annotations

import base64
import json
import logging
from typing import Any

import pytest
from azure.storage.queue.aio import QueueClient

from pipeline.messages import claim_blob_name, encode_message
from pipeline.storage import StorageAccount
from tests.pipeline.test_processor import Setup, make_item, make_message, run_until

pytestmark = pytest.mark.anyio

CAP = 20_000  # bytes: the processor's claim cap in these tests


async def test_bad_claims_are_poisoned_on_first_delivery_with_their_reason(
    connection_string: str, unique_name: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="pipeline.processor")
    async with StorageAccount(connection_string) as account:
        s = await Setup(account, unique_name).create()
        claims = await account.container(f"{unique_name}-collected").create_if_missing()
        elsewhere = await account.container(f"{unique_name}-other").create_if_missing()
        body = "A long body about claim checks. " * 100
        good_item = make_item(0, body=body)
        cases: dict[str, tuple[str, bytes | None, str]] = {}

        async def case(number: int, container: Any, data: bytes | None, reason: str) -> None:
            item = make_item(number, body=body)
            blob = claim_blob_name("run-1", item.content_hash)
            if data is not None:
                await container.write_bytes(blob, data)
            message = make_message(number, body=body, claim_check=f"{container.name}/{blob}")
            await s.queue.send(encode_message(message))
            cases[message["id"]] = (reason, data, blob)

        await case(1, claims, b"{not json", "is not valid JSON")
        await case(2, claims, b'{"body": "caf\xe9"}', "is not UTF-8 text")
        await case(3, claims, b"[1, 2]", "does not hold a JSON object")
        await case(4, claims, b"x" * (CAP + 1), f"over the {CAP}-byte cap")
        await case(5, elsewhere, json.dumps(make_item(5).to_dict()).encode(), "container")
        await case(6, claims, json.dumps(good_item.to_dict()).encode(), "another item")
        # A claim outside claims/ in the right container.
        item = make_item(7, body=body)
        await claims.write_json("history/x.json", item.to_dict())
        outside = make_message(7, body=body, claim_check=f"{claims.name}/history/x.json")
        await s.queue.send(encode_message(outside))
        cases[outside["id"]] = ("not under 'claims/'", None, "history/x.json")

        processor = s.processor(claims_container=claims.name, max_claim_bytes=CAP)
        records = await run_until(
            processor, lambda: processor.stats.handled >= len(cases), f"{len(cases)} records"
        )
        poisoned = [m.json() for m in await s.drain(s.poison)]

    assert {r.item_id for r in records} == set(cases)
    for record in records:
        expected = cases[record.item_id][0]
        assert record.outcome == "invalid", (record.outcome, record.reason)
        assert record.dequeue_count == 1
        assert expected in record.reason, (expected, record.reason)
        assert "\n" not in record.reason
    assert processor.stats.released == 0 and processor.stats.storage_errors == 0
    assert len(poisoned) == len(cases)
    by_reason = {p["reason"] for p in poisoned}
    assert by_reason == {r.reason for r in records}
    lines = [r.getMessage() for r in caplog.records if "event=invalid" in r.getMessage()]
    assert len(lines) == len(cases) and all(r.levelno == logging.WARNING for r in caplog.records
                                            if "event=invalid" in r.getMessage())  # fmt: skip


async def test_a_good_claim_in_the_claims_container_is_processed(
    connection_string: str, unique_name: str
) -> None:
    async with StorageAccount(connection_string) as account:
        s = await Setup(account, unique_name).create()
        claims = await account.container(f"{unique_name}-collected").create_if_missing()
        body = "A long body about claim checks. " * 100
        item = make_item(1, body=body)
        blob = claim_blob_name("run-1", item.content_hash)
        await claims.write_json(blob, item.to_dict())
        message = make_message(1, body=body, claim_check=f"{claims.name}/{blob}")
        await s.queue.send(encode_message(message))
        processor = s.processor(claims_container=claims.name, max_claim_bytes=CAP)
        [record] = await run_until(processor, lambda: processor.stats.handled >= 1, "1 record")
    assert (record.outcome, record.reason) == ("processed", "")


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("%%% not base64 %%%", "message is not base64"),
        (base64.b64encode(b'{"title": "caf\xe9"}').decode(), "not UTF-8 text"),
        (base64.b64encode(b"{not json").decode(), "not valid JSON"),
    ],
)
async def test_poison_reasons_say_what_is_wrong_with_the_message(
    connection_string: str, unique_name: str, raw: str, reason: str
) -> None:
    async with StorageAccount(connection_string) as account:
        s = await Setup(account, unique_name).create()
        async with QueueClient.from_connection_string(connection_string, s.queue_name) as plain:
            await plain.send_message(raw)
        processor = s.processor()
        [record] = await run_until(processor, lambda: processor.stats.handled >= 1, "1 record")
        [poisoned] = [m.json() for m in await s.drain(s.poison)]
    assert record.outcome == "invalid" and reason in record.reason, record.reason
    assert poisoned["reason"] == record.reason and poisoned["raw_content"] == raw
    if reason != "message is not base64":
        assert "not base64" not in record.reason


async def test_a_retried_failure_is_logged_and_named_when_the_message_is_poisoned(
    connection_string: str, unique_name: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="pipeline.processor")
    async with StorageAccount(connection_string) as account:
        s = Setup(account, unique_name)
        await s.queue.create_if_missing()
        await s.poison.create_if_missing()  # no results container: every try fails
        message = make_message(1)
        await s.queue.send(encode_message(message))
        processor = s.processor(max_deliveries=1)
        records = await run_until(
            processor, lambda: processor.stats.poisoned >= 1, "the poisoning", timeout_s=20
        )
        [poisoned] = [m.json() for m in await s.drain(s.poison)]
    released, final = records
    assert released.outcome == "released" and "not found" in released.reason
    assert final.outcome == "poisoned"
    assert final.reason.startswith("delivered 2 times, over max_deliveries=1; last failure: ")
    assert "storage error" in final.reason and "not found" in final.reason
    assert poisoned["reason"] == final.reason
    [line] = [r for r in caplog.records if "event=released" in r.getMessage()]
    assert line.levelno == logging.WARNING and "not found" in line.getMessage()

"""Poison messages of every shape, mixed with good ones, through real processors and Azurite:
each bad message goes to the poison queue with its own reason (permanent errors at their first
delivery), and every good one is processed once."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from datetime import UTC, datetime
from typing import Any

import pytest
from azure.storage.queue.aio import QueueClient

from pipeline.items import ContentItem
from pipeline.messages import build_message, claim_blob_name, encode_message
from pipeline.storage import StorageAccount
from tests.faults._matrix import Row
from tests.faults._pipeline import Consumers, consumed, made
from tests.faults._server import post_url

pytestmark = pytest.mark.anyio

GOOD = 5
CLAIM_CAP = 50_000


def item(host: str, number: int, body: str = "") -> ContentItem:
    return ContentItem.create(
        source="rss", source_name=host, source_id=post_url(host, number),
        url=post_url(host, number), title=f"{host}: story number {number} about poison",
        body=body or f"Story {number}. It is fine.", author="a",
        published_at=datetime(2024, 5, 14, tzinfo=UTC),
    )  # fmt: skip


def message(entry: ContentItem, claim: str | None = None) -> str:
    return encode_message(build_message(entry, collection_id="c", mode="streaming",
                                        collection_blob="collections/c.jsonl",
                                        claim_check=claim))  # fmt: skip


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


async def test_poison_shapes(
    connection_string: str, matrix: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="pipeline.processor")
    long = "A long body about poison messages. " * 200
    async with StorageAccount(connection_string) as account, made(account) as names:
        collected = account.container(names.collected)
        other = await account.container(f"{names.collected}-x").create_if_missing()
        raws: dict[str, str] = {}  # raw queue text -> the reason it must be poisoned with

        async def claimed(number: int, store: Any, data: bytes, reason: str) -> None:
            entry = item("claims.example", number, long)
            blob = claim_blob_name("c", entry.content_hash)
            await store.write_bytes(blob, data)
            raws[b64(message(entry, f"{store.name}/{blob}").encode())] = reason

        raws["%%% not base64 %%%"] = "message is not base64"
        raws[b64(b'{"title": "caf\xe9"}')] = "not UTF-8 text"
        raws[b64(b"{not json")] = "not valid JSON"
        raws[b64(b"[1, 2, 3]")] = "not a JSON object"
        raws[b64(json.dumps({"schema": "content-item/v1", "id": "x"}).encode())] = (
            "invalid content-item/v1"
        )
        missing = item("claims.example", 0, long)
        raws[b64(message(missing, f"{names.collected}/claims/c/nowhere.json").encode())] = (
            "not found"
        )
        await claimed(1, collected, b"{not json", "is not valid JSON")
        await claimed(
            2,
            other,
            json.dumps(item("claims.example", 2, long).to_dict()).encode(),
            "is not in the claims container",
        )
        await claimed(3, collected, b"x" * (CLAIM_CAP + 1), f"over the {CLAIM_CAP}-byte cap")
        await claimed(
            4,
            collected,
            json.dumps(item("claims.example", 99).to_dict()).encode(),
            "holds another item",
        )
        for number in range(GOOD):
            raws[b64(message(item("good.example", number)).encode())] = ""
        async with QueueClient.from_connection_string(connection_string, names.queue) as raw:
            # First, alone: a good-looking message delivered (and not finished) twice already.
            tired = b64(message(item("tired.example", 0)).encode())
            await raw.send_message(tired)
            for _ in range(2):
                await _take_and_drop(raw, tired)
            for text in raws:
                await raw.send_message(text)
        raws[tired] = "delivered 3 times, over max_deliveries=2"

        async with Consumers(account, names, max_deliveries=2,
                             max_claim_bytes=CLAIM_CAP) as consumers:  # fmt: skip
            await consumers.drain()
        seen = await consumed(account, names, consumers.records)
        poisoned = await _drain_poison(account, names.poison)
        await account.delete_container(other.name)

    bad = {raw: reason for raw, reason in raws.items() if reason}
    by_raw = {p["raw_content"]: p for p in poisoned}
    assert set(by_raw) == set(bad)
    for raw, reason in bad.items():
        assert reason in by_raw[raw]["reason"], (reason, by_raw[raw]["reason"])
        expected_count = 3 if raw == tired else 1
        assert by_raw[raw]["dequeue_count"] == expected_count, by_raw[raw]
    warned = [r for r in caplog.records if "event=invalid" in r.getMessage()
              or "event=poisoned" in r.getMessage()]  # fmt: skip
    row = Row.counted(
        "poison: 11 message shapes",
        [post_url("good.example", n) for n in range(GOOD)],
        seen.deliveries,
        seen.work,
        seen.results,
        clear_line=len(warned) == len(bad) and all("reason=" in r.getMessage() for r in warned),
        seen=f"{len(poisoned)} of {len(bad)} in the poison queue with their reasons, each "
        "announced by one WARNING line (permanent errors at their first delivery)",
    )
    matrix.record(row)


async def _take_and_drop(raw: QueueClient, text: str) -> None:
    """Receive the message and let its visibility lapse (a worker that died on it)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 15
    while loop.time() < deadline:
        async for received in raw.receive_messages(max_messages=1, visibility_timeout=1):
            if received.content == text:
                await asyncio.sleep(1.2)
                return
        await asyncio.sleep(0.1)
    raise AssertionError("the message did not come back")


async def _drain_poison(account: StorageAccount, name: str) -> list[dict[str, Any]]:
    queue = account.queue(name)
    out: list[dict[str, Any]] = []
    while batch := await queue.receive(32, visibility_timeout=60):
        for received in batch:
            out.append(received.json())
            await queue.delete(received)
    return out

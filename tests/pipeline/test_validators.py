"""Conditional requests across collection runs, with the validators in the session's Azurite:
read when a run starts, written only once the run delivered everything."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from pipeline.clock import Clock
from pipeline.collect import RunInputs, collect_run
from pipeline.config import parse_sources
from pipeline.errors import StorageError
from pipeline.history import HistoryIndex
from pipeline.metrics import RunMetrics
from pipeline.storage import BlobStore, QueueAdapter, StorageAccount
from pipeline.validators import VALIDATORS_BLOB

pytestmark = pytest.mark.anyio

START = datetime(2024, 5, 14, 6, 0, tzinfo=UTC)
SOURCES = parse_sources(
    {
        "sources": [
            {"name": "etag-feed", "type": "rss", "url": "https://etag.example/feed"},
            {"name": "plain-feed", "type": "rss", "url": "https://plain.example/feed"},
        ]
    }
).sources


def rss(host: str, count: int) -> bytes:
    items = "".join(
        f"<item><title>Story number {i} from {host}</title><link>https://{host}/{i}</link></item>"
        for i in range(count)
    )
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>{host}</title>{items}</channel></rss>'.encode()


class Server:
    """etag.example honours If-None-Match; plain.example sends no validators."""

    def __init__(self) -> None:
        self.conditional: list[str | None] = []
        self.on_request = None

    async def handler(self, request: httpx.Request) -> httpx.Response:
        if self.on_request is not None:
            await self.on_request()
        if request.url.host == "plain.example":
            return httpx.Response(200, content=rss("plain.example", 2))
        self.conditional.append(request.headers.get("if-none-match"))
        if request.headers.get("if-none-match") == '"rev-7"':
            return httpx.Response(304, headers={"etag": '"rev-7"'})
        return httpx.Response(200, content=rss("etag.example", 3), headers={"etag": '"rev-7"'})


async def run_once(
    server: Server, queue: QueueAdapter, store: BlobStore, started: datetime
) -> RunMetrics:
    clock = Clock(100)
    async with httpx.AsyncClient(transport=httpx.MockTransport(server.handler)) as client:
        return await collect_run(
            RunInputs(
                sources=SOURCES,
                client=client,
                queue=queue,
                store=store,
                history=HistoryIndex(store),
                clock=clock,
                started_at=started,
            )
        )


async def test_the_second_run_sends_the_validators_and_a_304_is_an_empty_success(
    connection_string: str, unique_name: str
) -> None:
    server = Server()
    async with StorageAccount(connection_string) as account:
        queue = await account.queue(unique_name).create_if_missing()
        store = await account.container(unique_name).create_if_missing()
        try:
            first = await run_once(server, queue, store, START)
            saved, _ = await store.read_json(VALIDATORS_BLOB)
            second = await run_once(server, queue, store, START + timedelta(hours=8))
        finally:
            await account.delete_queue(unique_name)
            await account.delete_container(unique_name)
    assert first.items_queued == 5
    assert saved["sources"] == {
        "etag-feed": {"url": "https://etag.example/feed", "etag": '"rev-7"', "last_modified": None}
    }
    assert server.conditional == [None, '"rev-7"']
    assert second.errors == {}
    etag_feed = second.per_source["etag-feed"]
    assert etag_feed["items_collected"] == 0
    assert etag_feed["collector"]["status_codes"] == {"304": 1}
    assert second.per_source["plain-feed"]["items_collected"] == 2  # fetched in full


async def test_a_run_that_fails_leaves_the_previous_validators(
    connection_string: str, unique_name: str
) -> None:
    """The queue disappears while the sources are read: the run fails, nothing of it was
    delivered, so the next run must fetch in full (no validators were written)."""
    server = Server()
    async with StorageAccount(connection_string) as account:
        queue = await account.queue(unique_name).create_if_missing()
        store = await account.container(unique_name).create_if_missing()

        async def delete_the_queue() -> None:
            await account.delete_queue(unique_name)

        server.on_request = delete_the_queue
        try:
            with pytest.raises(StorageError):
                await run_once(server, queue, store, START)
            saved = await store.read_bytes(VALIDATORS_BLOB)
        finally:
            await account.delete_queue(unique_name)
            await account.delete_container(unique_name)
    assert server.conditional == [None]
    assert saved is None, json.loads(saved or b"null")

"""The real pipeline for one fault: collectors (live against the fault server, or a replay) ->
Azurite queue and blobs -> real processors; then the consumer-side counts of a matrix row."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any

import httpx

from pipeline.clock import Clock
from pipeline.collect import CollectorOptions, RunInputs, collect_run
from pipeline.config import SourceConfig, parse_sources
from pipeline.history import HistoryIndex
from pipeline.metrics import RunMetrics
from pipeline.processor import ProcessedRecord, Processor, ProcessorSettings
from pipeline.storage import StorageAccount

START = datetime(2024, 5, 14, 6, 0, tzinfo=UTC)


@dataclasses.dataclass(frozen=True)
class Names:
    """One fault's queues and containers."""

    queue: str
    poison: str
    collected: str
    processed: str

    @classmethod
    def fresh(cls) -> Names:
        base = "f" + uuid.uuid4().hex[:16]
        return cls(base, f"{base}-poison", f"{base}-collected", f"{base}-processed")

    def processor_settings(self, **overrides: Any) -> ProcessorSettings:
        values: dict[str, Any] = {
            "queue_name": self.queue,
            "poison_queue_name": self.poison,
            "results_container": self.processed,
            "claims_container": self.collected,
            "concurrency": 4,
            "batch_size": 16,
            "visibility_timeout_s": 30,
            "empty_pause_s": 0.2,
        }
        return ProcessorSettings(**{**values, **overrides})


@contextlib.asynccontextmanager
async def made(account: StorageAccount, names: Names | None = None) -> AsyncIterator[Names]:
    """The fault's queues and containers, created, then deleted."""
    names = names or Names.fresh()
    for queue in (names.queue, names.poison):
        await account.queue(queue).create_if_missing()
    for container in (names.collected, names.processed):
        await account.container(container).create_if_missing()
    try:
        yield names
    finally:
        for queue in (names.queue, names.poison):
            await account.delete_queue(queue)
        for container in (names.collected, names.processed):
            await account.delete_container(container)


def sources(*entries: dict[str, Any], **defaults: Any) -> tuple[SourceConfig, ...]:
    return parse_sources({"defaults": defaults, "sources": list(entries)}).sources


async def collect(
    account: StorageAccount,
    names: Names,
    srcs: Sequence[SourceConfig],
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    speed: float = 50.0,
    mode: str = "streaming",
    started_at: datetime = START,
) -> RunMetrics:
    """One collection run into ``names`` (live HTTP unless ``transport`` is given)."""
    clock = Clock(speed)
    store = account.container(names.collected)
    async with httpx.AsyncClient(transport=transport) as client:
        return await collect_run(
            RunInputs(
                sources=srcs,
                client=client,
                queue=account.queue(names.queue),
                store=store,
                history=HistoryIndex(store),
                clock=clock,
                started_at=started_at,
                options=CollectorOptions(mode_override=mode),
            )
        )


class Consumers:
    """Processors draining the fault's queue while and after it is filled."""

    def __init__(
        self, account: StorageAccount, names: Names, count: int = 2, **settings: Any
    ) -> None:
        self.account = account
        self.names = names
        settings_ = names.processor_settings(**settings)
        self.processors = [
            Processor(account, settings_, clock=Clock(50), name=f"processor-{i + 1}")
            for i in range(count)
        ]
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[Any]] = []

    async def __aenter__(self) -> Consumers:
        self._tasks = [asyncio.create_task(p.run(self._stop)) for p in self.processors]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._stop.set()
        await asyncio.gather(*self._tasks)

    async def drain(self, timeout_s: float = 60.0) -> None:
        """Wait until the queue holds nothing, visible or in flight."""
        queue = self.account.queue(self.names.queue)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while await queue.approximate_count():
            for task in self._tasks:
                if task.done():
                    task.result()  # a processor that failed fails the fault
            if loop.time() > deadline:
                raise AssertionError(f"queue {queue.name} not drained within {timeout_s} s")
            await asyncio.sleep(0.05)

    @property
    def records(self) -> list[ProcessedRecord]:
        return [r for p in self.processors for r in p.records]


@dataclasses.dataclass
class Consumed:
    """What the consumer side saw, by item link."""

    deliveries: list[tuple[str, str]]  # (link, queue message id) per delivery
    work: list[str]  # link per item processed (work done)
    results: list[str]  # link per result blob
    poisoned: int


async def consumed(
    account: StorageAccount, names: Names, records: Sequence[ProcessedRecord]
) -> Consumed:
    """Read the results container and the processors' records back."""
    results = account.container(names.processed)
    link_of_hash: dict[str, str] = {}
    result_links: list[str] = []
    for blob in await results.list():
        if blob.name.startswith("poison/"):
            continue
        doc, _ = await results.read_json(blob.name)
        link_of_hash[doc["content_hash"]] = doc["url"]
        result_links.append(doc["url"])
    deliveries = [
        (
            link_of_hash.get(r.content_hash, f"hash:{r.content_hash}")
            if r.content_hash
            else f"message:{r.queue_message_id}",  # not decodable: a message of its own
            r.queue_message_id,
        )
        for r in records
    ]
    work = [
        link_of_hash.get(r.content_hash or "", "?") for r in records if r.outcome == "processed"
    ]
    poisoned = await account.queue(names.poison).approximate_count()
    return Consumed(deliveries, work, result_links, poisoned)

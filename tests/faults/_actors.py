"""Collector and processor processes for the kill faults; each may SIGKILL itself at a point.

``python tests/faults/_actors.py collect SPEC_JSON`` runs one collection run of a recording
into given storage; ``... process SPEC_JSON`` runs one processor until idle. With
``"kill": [POINT, N]`` the process kills itself (SIGKILL: no clean-up, no last words) the N-th
time it passes POINT:

- ``send``: a message is on the queue (streaming: its item is not yet in the collection blob;
  batch: the burst is under way, the blob already written);
- ``append``: a block of the collection blob is written, its items' keys not yet in the history;
- ``delete``: (processor) the result is written, the message not yet deleted.

The points are wrapped around the real adapters' methods here, in the test's process only:
the pipeline has no hooks for them. Before dying at ``delete``, the processor prints the
content hash it was working on (the work it did, which nobody else will report).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import httpx  # noqa: E402

from pipeline.clock import Clock  # noqa: E402
from pipeline.collect import CollectorOptions, RunInputs, collect_run  # noqa: E402
from pipeline.har import ReplayTransport  # noqa: E402
from pipeline.history import HistoryIndex  # noqa: E402
from pipeline.processor import Processor, ProcessorSettings  # noqa: E402
from pipeline.recording import Recording  # noqa: E402
from pipeline.storage import StorageAccount  # noqa: E402

passed: Counter[str] = Counter()


def passing(point: str, kill: list[Any] | None, last_words: str = "") -> None:
    passed[point] += 1
    if kill and kill[0] == point and passed[point] == kill[1]:
        if last_words:
            print(last_words, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)


async def collect(spec: dict[str, Any]) -> None:
    kill = spec.get("kill")
    recording = Recording.open(spec["recording"])
    run = recording.run(0)
    clock = Clock(spec.get("speed", 50.0))
    async with StorageAccount(spec["conn"]) as account:
        queue = account.queue(spec["queue"])
        store = account.container(spec["collected"])
        send, append = queue.send, store.append_jsonl

        async def sending(*args: Any, **kwargs: Any) -> str:
            sent = await send(*args, **kwargs)
            passing("send", kill)
            return sent

        async def appending(blob: str, records: Any) -> int:
            lines = await append(blob, records)
            if blob.startswith("collections/"):
                passing("append", kill)
            return lines

        queue.send = sending  # type: ignore[method-assign]
        store.append_jsonl = appending  # type: ignore[method-assign]
        transport = ReplayTransport(run.har_path, clock)
        async with httpx.AsyncClient(transport=transport) as client:
            metrics = await collect_run(
                RunInputs(
                    sources=recording.sources.sources,
                    client=client,
                    queue=queue,
                    store=store,
                    history=HistoryIndex(store),
                    clock=clock,
                    started_at=datetime.fromisoformat(spec["started_at"]),
                    options=CollectorOptions(
                        mode_override=spec["mode"], blob_flush_items=4, send_concurrency=2
                    ),
                )
            )
    print(json.dumps({"queued": metrics.items_queued, "passed": dict(passed)}), flush=True)


async def process(spec: dict[str, Any]) -> None:
    kill = spec.get("kill")
    async with StorageAccount(spec["conn"]) as account:
        settings = ProcessorSettings(**spec["settings"])
        queue_type = type(account.queue(settings.queue_name))
        delete = queue_type.delete

        async def deleting(self: Any, message: Any) -> None:
            worked_on = json.loads(message.content or "{}").get("content_hash")
            passing("delete", kill, last_words=json.dumps({"worked_on": worked_on}))
            await delete(self, message)

        queue_type.delete = deleting  # type: ignore[method-assign]
        await Processor(account, settings, clock=Clock(50), name="doomed").run()


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(name)s %(message)s")
    for noisy in ("azure", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    role, spec_json = sys.argv[1], sys.argv[2]
    asyncio.run({"collect": collect, "process": process}[role](json.loads(spec_json)))

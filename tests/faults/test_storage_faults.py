"""Azurite stopped and restarted in the middle of a streaming run, with processors running.

The run stops with one clear line (storage not reachable) and records nothing it did not send;
the processors wait with bounded back-off and carry on when storage is back; the next run
queues what the stopped one had not, and nothing is lost or processed twice.
"""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from pipeline.clock import Clock
from pipeline.errors import StorageUnavailableError
from pipeline.har import ReplayTransport
from pipeline.recording import Recording
from pipeline.storage import StorageAccount
from tests.faults._matrix import Row
from tests.faults._pipeline import START, Consumers, collect, consumed, made
from tests.faults.test_kill_faults import expected_links, recording  # noqa: F401
from workbench.azurite import Azurite

pytestmark = pytest.mark.anyio


async def test_azurite_stopped_and_restarted_mid_run(
    recording: Path,  # noqa: F811
    tmp_path: Path,
    matrix: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    rec = Recording.open(recording)
    server = Azurite(location=tmp_path / "azurite")
    server.start()
    try:
        async with StorageAccount(server.connection_string) as account, made(account) as names:
            # A message whose delete failed in the outage comes back after 3 s, not 30.
            async with Consumers(account, names, visibility_timeout_s=3) as consumers:
                queue = account.queue(names.queue)

                async def stop_once_items_flow() -> None:
                    while not consumers.records and not await queue.approximate_count():
                        await asyncio.sleep(0.02)
                    await asyncio.to_thread(server.stop)

                stopper = asyncio.create_task(stop_once_items_flow())
                # The three feeds answer 1, 2 and 3 recorded seconds in: 0.5 s apart at speed 2.
                transport = ReplayTransport(rec.run(0).har_path, Clock(2))
                with pytest.raises(StorageUnavailableError) as stopped:
                    await collect(account, names, rec.sources.sources, transport=transport, speed=2)
                await stopper
                await asyncio.to_thread(server.start)  # the same ports and data
                rerun = await collect(
                    account, names, rec.sources.sources, started_at=START + timedelta(minutes=10),
                    transport=ReplayTransport(rec.run(0).har_path, Clock(200)), speed=200,
                )  # fmt: skip
                await consumers.drain()
            seen = await consumed(account, names, consumers.records)
            storage_errors = sum(p.stats.storage_errors for p in consumers.processors)
    finally:
        server.stop()
    line = str(stopped.value)
    said = re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:<port>", line.split(": ", 1)[-1])
    row = Row.counted(
        "storage: Azurite stopped and restarted mid-run",
        expected_links(), seen.deliveries, seen.work, seen.results,
        clear_line="\n" not in line and "not reachable" in line,
        seen=f"the run stopped: '{said}'; the processors carried on ({storage_errors} storage "
        f"errors after the SDK's own retries); the next run queued {rerun.items_queued}",
    )  # fmt: skip
    matrix.record(row)

"""Shared by the first-item benchmarks: replay the shipped recording against a warmed Azurite."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from _common import ROOT  # noqa: F401  (puts the project on sys.path)

from pipeline.storage import StorageAccount
from workbench.azurite import Azurite
from workbench.paths import SHIPPED_RECORDING
from workbench.replay import ReplayOptions, replay_recording


async def warm_emulator(account: StorageAccount) -> None:
    """One round trip of each kind a run makes, on scratch resources deleted after.

    A fresh Azurite runs each request handler cold the first time (its JIT: the first queue
    send takes 10-15 ms, later ones 3-5 ms); that is the emulator's start, not the pipeline's.
    """
    name = f"warm-{uuid.uuid4().hex[:12]}"
    queue = await account.queue(name).create_if_missing()
    store = await account.container(name).create_if_missing()
    try:
        await queue.approximate_count()
        await queue.send('{"warm": true}')
        for message in await queue.receive(1):
            await queue.delete(message)
        await store.ensure_append_blob("warm.jsonl")
        await store.append_jsonl("warm.jsonl", [{"warm": True}])
        await store.read_bytes("warm.jsonl")
        await store.list("warm")
    finally:
        await account.delete_queue(name)
        await account.delete_container(name)


async def replay_on(
    account: StorageAccount, modes: tuple[str, ...], speed: float, *, quiet: bool = False
) -> dict[str, Any]:
    return await replay_recording(
        SHIPPED_RECORDING,
        account=account,
        modes=modes,
        options=ReplayOptions(speed=speed),
        progress=None if quiet else (lambda text: print(text, flush=True)),
    )


def replay(modes: tuple[str, ...], speed: float = 20.0) -> dict[str, Any]:
    """One replay of the shipped recording in ``modes`` on a fresh, warmed Azurite."""

    async def go(conn: str) -> dict[str, Any]:
        async with StorageAccount(conn) as account:
            await warm_emulator(account)
            return await replay_on(account, modes, speed)

    with Azurite() as azurite:
        return asyncio.run(go(azurite.connection_string))

"""Shared by the first-item benchmarks: replay the shipped recording against a fresh Azurite."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline.storage import StorageAccount  # noqa: E402
from workbench.azurite import Azurite  # noqa: E402
from workbench.paths import SHIPPED_RECORDING  # noqa: E402
from workbench.replay import ReplayOptions, replay_recording  # noqa: E402


def replay(modes: tuple[str, ...], speed: float = 20.0) -> dict[str, Any]:
    async def go(conn: str) -> dict[str, Any]:
        async with StorageAccount(conn) as account:
            return await replay_recording(
                SHIPPED_RECORDING,
                account=account,
                modes=modes,
                options=ReplayOptions(speed=speed),
                progress=lambda text: print(text, flush=True),
            )

    with Azurite() as azurite:
        return asyncio.run(go(azurite.connection_string))

"""``workbench record``: live collection runs written as a recording folder."""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from pipeline.clock import Clock
from pipeline.config import load_sources
from pipeline.har import HAR_CREATOR, RecordingTransport
from pipeline.recording import MANIFEST_FORMAT, collect_sources
from workbench.errors import WorkbenchError

log = logging.getLogger(__name__)


def record(
    sources_path: str | Path,
    out: str | Path,
    runs: int = 1,
    every_s: float = 0.0,
    force: bool = False,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run ``runs`` live collections ``every_s`` seconds apart into the folder ``out``."""
    if runs < 1:
        raise WorkbenchError(f"--runs must be >= 1, got {runs}")
    if every_s < 0:
        raise WorkbenchError(f"--every must be >= 0, got {every_s}")
    config = load_sources(sources_path)
    out = Path(out)
    if (out / "manifest.json").exists() and not force:
        raise WorkbenchError(f"{out} already holds a recording (use --force to overwrite)")
    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(sources_path, out / "sources.yaml")
    documented: list[dict[str, Any]] = []
    manifest = {
        "format": MANIFEST_FORMAT,
        "name": out.name,
        "synthetic": False,
        "description": "Recorded live by `workbench record`.",
        "created_with": HAR_CREATOR,
        "sources_file": str(sources_path),
        "every_s": every_s,
        "runs": documented,
    }
    first_start = time.monotonic()
    for index in range(runs):
        delay = first_start + index * every_s - time.monotonic()
        if delay > 0:
            if progress:
                progress(f"waiting {delay:.0f} s for run {index}")
            time.sleep(delay)
        started = datetime.now(UTC)
        # Nothing of a response over every source's cap is kept (a gzip bomb stays small).
        cap = max(source.max_response_bytes for source in config.sources)
        transport = RecordingTransport(httpx.AsyncHTTPTransport(), max_body_bytes=cap)
        result = asyncio.run(_collect(config.sources, transport))
        har_name = f"run-{index:03d}.har"
        transport.write(out / har_name, comment=f"collection run {index}")
        documented.append(
            {
                "index": index,
                "har": har_name,
                "started_at": started.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                "entries": len(transport.entries),
                "accepted": {name: s.accepted for name, s in result.stats.items()},
                "errors": {name: dict(s.errors) for name, s in result.stats.items() if s.errors},
            }
        )
        # After every run, so that a recording stopped later (Ctrl-C, SIGTERM) keeps its runs.
        (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        if progress:
            total = sum(s.accepted for s in result.stats.values())
            progress(
                f"run {index}: {len(transport.entries)} requests, {total} items accepted, "
                f"{result.duration_s:.1f} s -> {out / har_name}"
            )
    return manifest


async def _collect(sources: Any, transport: RecordingTransport) -> Any:
    async with httpx.AsyncClient(transport=transport) as client:
        return await collect_sources(client, sources, Clock())

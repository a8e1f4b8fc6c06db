"""Hundreds of sources: `record` then `inspect` N local feed sources, N = 100, 400, 1,600.

A local aiohttp server (its own process, 127.0.0.1, an accept queue of 4,096) serves one small
RSS feed per source. For each N the benchmark records one run of N sources into a temporary
recording folder (the real `workbench record` path: the shared client, the sources layer,
the recording transport) and inspects it (the real `workbench inspect` path: replays,
the first-item limit, the dedup summary), and prints the time per source.
Acceptance (issue 16): time per source at 1,600 within 2x of that at 100.
Last line: the ratio time-per-source(1600) / time-per-source(100).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from _common import ROOT  # noqa: F401  (puts the project on sys.path)

COUNTS = (100, 400, 1_600)
WARM_UP = 50  # sources of an untimed first round
ITEMS_PER_FEED = 5


def serve() -> None:
    """The server process: prints its port, then serves until killed."""
    from aiohttp import web

    async def feed(request: web.Request) -> web.Response:
        n = request.match_info["n"]
        items = "".join(
            f"<item><title>Story {i} of feed number {n}</title>"
            f"<link>http://127.0.0.1/{n}/{i}</link><description>Body {i} of {n}</description>"
            "</item>"
            for i in range(ITEMS_PER_FEED)
        )
        body = f'<?xml version="1.0"?><rss version="2.0"><channel><title>Feed {n}</title>{items}'
        return web.Response(
            text=body + "</channel></rss>", content_type="application/rss+xml", charset="utf-8"
        )

    async def main() -> None:
        app = web.Application()
        app.router.add_get("/feed/{n}", feed)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=4096)
        await site.start()
        port = runner.addresses[0][1]
        print(port, flush=True)
        await asyncio.Event().wait()

    import asyncio

    asyncio.run(main())


def write_sources(folder: Path, port: int, count: int) -> Path:
    lines = ["sources:"]
    lines += [
        f'  - {{name: feed-{n:04d}, type: rss, url: "http://127.0.0.1:{port}/feed/{n}"}}'
        for n in range(count)
    ]
    path = folder / f"sources-{count}.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def measure(port: int, count: int, folder: Path) -> tuple[float, float]:
    from workbench.inspection import inspect_recording
    from workbench.recorder import record

    sources = write_sources(folder, port, count)
    out = folder / f"recording-{count}"
    started = time.perf_counter()
    manifest = record(sources, out)
    recorded = time.perf_counter() - started
    accepted = sum(manifest["runs"][0]["accepted"].values())
    errors = Counter(kind for kinds in manifest["runs"][0]["errors"].values() for kind in kinds)
    if accepted != count * ITEMS_PER_FEED or errors:
        raise SystemExit(f"record of {count} sources: {accepted} items, errors {dict(errors)}")
    started = time.perf_counter()
    doc = inspect_recording(out)
    inspected = time.perf_counter() - started
    if doc["runs"][0]["totals"]["accepted"] != count * ITEMS_PER_FEED:
        raise SystemExit(f"inspect of {count} sources: {doc['runs'][0]['totals']}")
    return recorded, inspected


def main() -> None:
    import logging

    logging.disable(logging.WARNING)  # one line per source would drown the numbers
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        per_source: dict[int, float] = {}
        with tempfile.TemporaryDirectory() as tmp:
            measure(port, WARM_UP, Path(tmp))  # imports and first uses, not counted
            for count in COUNTS:
                recorded, inspected = measure(port, count, Path(tmp))
                per_source[count] = (recorded + inspected) / count
                print(
                    f"N={count:>5}: record {recorded:6.2f} s, inspect {inspected:6.2f} s, "
                    f"time per source {per_source[count] * 1000:6.2f} ms "
                    f"(record {recorded / count * 1000:.2f} + inspect {inspected / count * 1000:.2f})",
                    flush=True,
                )
    finally:
        server.terminate()
        server.wait(timeout=10)
    ratio = per_source[COUNTS[-1]] / per_source[COUNTS[0]]
    print(
        f"ratio time-per-source({COUNTS[-1]})/time-per-source({COUNTS[0]}) = {ratio:.2f} "
        f"(goal <= 2)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    if parser.parse_args().serve:
        serve()
    else:
        os.environ.setdefault("PYTHONHASHSEED", "0")
        main()

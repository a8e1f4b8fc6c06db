"""``workbench replay``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from pipeline.collect import CollectorOptions
from pipeline.recording import Recording
from pipeline.storage import StorageAccount
from workbench import interrupt
from workbench.errors import WorkbenchError
from workbench.options import (
    add_service_time_option,
    add_speed_option,
    number,
    output_file,
    whole_number,
)
from workbench.paths import SHIPPED_RECORDING
from workbench.replay import (
    MODES,
    REPLAY_MODES,
    ReplayIncomplete,
    ReplayOptions,
    replay_recording,
)
from workbench.target import storage_connection


def register(subparsers: Any) -> None:
    replay = subparsers.add_parser(
        "replay", help="replay a recording through the batch and/or streaming collectors"
    )
    replay.add_argument(
        "--recording", type=Path, default=SHIPPED_RECORDING, help="recording folder"
    )
    _add_replay_options(replay)
    replay.add_argument(
        "--mode",
        choices=(*REPLAY_MODES, "both"),
        default="both",
        help="batch or streaming for every source, both (one after the other), or configured "
        "(each source in its sources.yaml mode, one mixed run; default both)",
    )
    replay.add_argument(
        "--json", type=output_file, metavar="FILE", help="write the metrics as JSON here"
    )
    replay.set_defaults(func=_replay)


def _add_replay_options(parser: argparse.ArgumentParser, processors: int = 0) -> None:
    add_speed_option(parser)
    parser.add_argument(
        "--processors",
        type=whole_number(0),
        default=processors,
        help=f"processor workers (default {processors})",
    )
    parser.add_argument(
        "--processor-concurrency",
        type=whole_number(1),
        default=4,
        help="messages per worker at once (default 4)",
    )
    add_service_time_option(parser)
    parser.add_argument(
        "--send-concurrency", type=whole_number(1), default=8, help="messages in flight"
    )
    parser.add_argument(
        "--rate-limit", type=number(above=0), default=None, help="streaming send limit, items/s"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed for service times")
    parser.add_argument(
        "--keep", action="store_true", help="keep the queues and containers after the replay"
    )


def _options(args: argparse.Namespace) -> ReplayOptions:
    try:
        collector = CollectorOptions(
            send_concurrency=args.send_concurrency, rate_limit_items_per_s=args.rate_limit
        )
    except ValueError as exc:
        raise WorkbenchError(str(exc)) from None
    return ReplayOptions(
        speed=args.speed,
        processors=args.processors,
        processor_concurrency=args.processor_concurrency,
        service_time=args.service_time,
        collector=collector,
        keep=args.keep,
        seed=args.seed,
    )


def _progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def run_replay(recording: Path, modes: tuple[str, ...], options: ReplayOptions) -> dict[str, Any]:
    Recording.open(recording)  # a bad folder is reported before any storage is touched
    with storage_connection() as (conn, where):
        _progress(f"storage: {where}")

        async def go() -> dict[str, Any]:
            async with StorageAccount(conn) as account:
                return await replay_recording(
                    recording, account=account, modes=modes, options=options, progress=_progress
                )

        return interrupt.run(go())  # a notebook's replay, in a worker thread, stops too


def _replay(args: argparse.Namespace) -> int:
    from workbench.report import replay_table

    modes = MODES if args.mode == "both" else (args.mode,)
    try:
        result = run_replay(args.recording, modes, _options(args))
    except ReplayIncomplete as stopped:
        # Keep what was measured: the table and the JSON of the runs that completed.
        if stopped.runs_completed:
            print(replay_table(stopped.result))
            kept = "shown above"
            if args.json:
                _write_json(args.json, stopped.result)
                kept = f"written to {args.json}"
            raise WorkbenchError(
                f"{stopped}; the numbers of the {stopped.runs_completed} run(s) that completed "
                f"are {kept}"
            ) from None
        raise
    print(replay_table(result))
    if args.json:
        _write_json(args.json, result)
        print(f"metrics written to {args.json}")
    return 0


def _write_json(path: Path, document: dict[str, Any]) -> None:
    try:
        path.write_text(json.dumps(document, indent=1, default=str))
    except OSError as exc:
        raise WorkbenchError(f"cannot write {path}: {exc.strerror}") from None

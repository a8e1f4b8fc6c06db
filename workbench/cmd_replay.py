"""``workbench replay``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from workbench.errors import WorkbenchError
from workbench.options import (
    add_replay_options,
    output_file,
    progress,
    replay_options,
    write_json,
)
from workbench.paths import SHIPPED_RECORDING
from workbench.replay import MODES, REPLAY_MODES, ReplayIncomplete, run_replay


def register(subparsers: Any) -> None:
    replay = subparsers.add_parser(
        "replay", help="replay a recording through the batch and/or streaming collectors"
    )
    replay.add_argument(
        "--recording", type=Path, default=SHIPPED_RECORDING, help="recording folder"
    )
    add_replay_options(replay)
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


def _replay(args: argparse.Namespace) -> int:
    from workbench.report import replay_table

    modes = MODES if args.mode == "both" else (args.mode,)
    try:
        result = run_replay(args.recording, modes, replay_options(args), progress)
    except ReplayIncomplete as stopped:
        # Keep what was measured: the table and the JSON of the runs that completed.
        if stopped.runs_completed:
            print(replay_table(stopped.result))
            kept = "shown above"
            if args.json:
                write_json(args.json, stopped.result)
                kept = f"written to {args.json}"
            raise WorkbenchError(
                f"{stopped}; the numbers of the {stopped.runs_completed} run(s) that completed "
                f"are {kept}"
            ) from None
        raise
    print(replay_table(result))
    if args.json:
        write_json(args.json, result)
        print(f"metrics written to {args.json}")
    return 0

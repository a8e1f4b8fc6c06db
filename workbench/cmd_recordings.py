"""Sources and recordings: ``workbench record``, ``workbench inspect``, ``workbench synth``."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

from workbench.errors import WorkbenchError
from workbench.options import (
    INSPECT_SPEED,
    add_speed_option,
    number,
    output_file,
    output_folder,
    whole_number,
)


def register(subparsers: Any) -> None:
    rec = subparsers.add_parser(
        "record",
        help="record live collection runs into a recording folder (HAR per run)",
        description="Collect every source of FILE live, once per run, and write a recording "
        "folder: sources.yaml, run-NNN.har, manifest.json.",
    )
    rec.add_argument("--sources", required=True, metavar="FILE", help="sources.yaml to collect")
    rec.add_argument(
        "--out", type=output_folder, required=True, metavar="DIR", help="recording folder to write"
    )
    rec.add_argument(
        "--runs", type=whole_number(1), default=1, metavar="N", help="collection runs (1)"
    )
    rec.add_argument(
        "--every",
        type=number(minimum=0),
        default=0.0,
        metavar="SECONDS",
        help="between run starts (0)",
    )
    rec.add_argument("--force", action="store_true", help="overwrite an existing recording")
    rec.set_defaults(func=cmd_record)

    ins = subparsers.add_parser(
        "inspect",
        help="replay a recording through the collectors and report per run and source",
        description="Replay each run of a recording through the real collectors (no queue, "
        "no blob) and print requests, status codes, items accepted, rejections, errors and "
        "the time of the first accepted item, per run and per source.",
    )
    ins.add_argument("recording", metavar="DIR", help="recording folder")
    ins.add_argument(
        "--json", type=output_file, metavar="FILE", help="also write the numbers as JSON"
    )
    add_speed_option(ins, default=INSPECT_SPEED)
    ins.set_defaults(func=cmd_inspect)

    from workbench.synth import DEFAULT_PROFILE, PROFILES

    syn = subparsers.add_parser(
        "synth",
        help="generate a synthetic recording (seeded, no network)",
        description="Write a synthetic recording folder in the platforms' real formats. "
        "Profiles: "
        + "; ".join(
            f"{p.name}: {p.summary} (data/recordings/{p.folder})" for p in PROFILES.values()
        )
        + ". See docs/recordings.md.",
    )
    syn.add_argument(
        "--profile",
        choices=tuple(PROFILES),
        default=DEFAULT_PROFILE,
        help=f"which sources and timings ({DEFAULT_PROFILE})",
    )
    syn.add_argument("--seed", type=int, default=42, help="random seed (42)")
    syn.add_argument(
        "--out", type=output_folder, required=True, metavar="DIR", help="recording folder to write"
    )
    syn.set_defaults(func=cmd_synth)


def _progress(message: str) -> None:
    print(message, file=sys.stderr)


def _quiet_requests() -> None:
    """A replay makes hundreds of requests; keep httpx's per-request lines for --verbose."""
    if logging.getLogger().getEffectiveLevel() > logging.DEBUG:
        logging.getLogger("httpx").setLevel(logging.WARNING)
        logging.getLogger("pipeline.sources._collect").setLevel(logging.WARNING)


def cmd_record(args: argparse.Namespace) -> int:
    from workbench.recorder import record

    record(args.sources, args.out, args.runs, args.every, args.force, progress=_progress)
    print(f"recorded {args.runs} run(s) into {args.out}")
    return 0


def cmd_inspect(args: argparse.Namespace) -> int:
    from workbench.inspection import format_report, inspect_recording

    _quiet_requests()
    doc = inspect_recording(args.recording, args.speed)
    print(format_report(doc))
    if args.json:
        try:
            Path(args.json).write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
        except OSError as exc:
            raise WorkbenchError(f"cannot write {args.json}: {exc}") from None
    return 0


def cmd_synth(args: argparse.Namespace) -> int:
    from workbench.synth import generate, write_readme

    _quiet_requests()
    out = Path(args.out)
    generate(out, args.seed, profile=args.profile)
    dedup = write_readme(out, args.seed, profile=args.profile)
    print(
        f"wrote synthetic recording {out} (profile {args.profile}, seed {args.seed}); "
        f"deduplication hit rate {dedup['hit_rate']:.1%} "
        f"({dedup['duplicates']} of {dedup['items_collected']})"
    )
    return 0

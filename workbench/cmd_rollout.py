"""``workbench rollout``: a rollout option (big bang, phased by source, A/B) run step by step."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from pipeline.recording import Recording
from pipeline.storage import StorageAccount
from workbench import interrupt
from workbench.connection import storage_connection
from workbench.options import (
    add_replay_options,
    number,
    output_file,
    progress,
    replay_options,
    write_json,
)
from workbench.paths import SHIPPED_RECORDING
from workbench.rollout import OPTIONS, Guardrails, run_rollout, step_table


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "rollout",
        help="run a rollout option (big-bang, phased, ab) step by step against storage",
        description="Each step replays every run of the recording on fresh storage, each source "
        "in the step's mode; ab switches a source back to batch when a guardrail trips.",
    )
    parser.add_argument(
        "--recording", type=Path, default=SHIPPED_RECORDING, help="recording folder"
    )
    parser.add_argument("--option", choices=OPTIONS, required=True, help="the rollout option")
    add_replay_options(parser)
    parser.add_argument(
        "--first-item-limit",
        type=number(above=0),
        default=Guardrails.first_item_queued_s,
        metavar="S",
        help="guardrail: a streaming source's first item queued later than S seconds "
        f"(default {Guardrails.first_item_queued_s:g})",
    )
    parser.add_argument(
        "--error-rate-limit",
        type=number(minimum=0),
        default=Guardrails.error_rate,
        metavar="R",
        help="guardrail: share of a source's requests that failed in a run "
        f"(default {Guardrails.error_rate:g})",
    )
    parser.add_argument(
        "--json", type=output_file, metavar="FILE", help="write the rollout document as JSON here"
    )
    parser.set_defaults(func=_rollout)


def _rollout(args: argparse.Namespace) -> int:
    from workbench.errors import WorkbenchError

    Recording.open(args.recording)  # a bad folder is reported before any storage is touched
    try:
        guardrails = Guardrails(args.first_item_limit, args.error_rate_limit)
    except ValueError as exc:
        raise WorkbenchError(str(exc)) from None
    options = replay_options(args)
    with storage_connection() as (conn, where):
        progress(f"storage: {where}")

        async def go() -> dict[str, Any]:
            async with StorageAccount(conn) as account:
                return await run_rollout(
                    args.recording,
                    args.option,
                    account=account,
                    options=options,
                    guardrails=guardrails,
                    progress=progress,
                )

        doc = interrupt.run(go())
    print(step_table(doc))
    if args.json:
        write_json(args.json, doc)
        print(f"rollout written to {args.json}")
    return 0

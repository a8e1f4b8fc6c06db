"""``workbench storage list|clean``: the queues and containers workbench runs left behind.

Runs name their resources ``wb-<UTC time>-<label>-<token>[-role]`` (``workbench.resources``)
and delete them when they end, also on Ctrl-C and SIGTERM; a run killed outright leaves them.
``clean`` is a dry run unless ``--yes`` is given: it prints what it would remove, then what it
removed. Storage is the one ``AZURE_STORAGE_CONNECTION_STRING`` names, else the background
Azurite of ``workbench azurite start``.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from pipeline.storage import CONNECTION_STRING_ENV, StorageAccount
from workbench.connection import configured_connection
from workbench.errors import WorkbenchError
from workbench.resources import (
    RunResource,
    describe_age,
    list_run_resources,
    older_than,
    parse_duration,
    remove,
)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "storage",
        help="list or remove the queues and containers workbench runs left behind",
        description="Workbench runs name their queues and containers wb-<UTC time>-<label>-... "
        "and remove them when they end; a run killed outright leaves them. Storage: "
        f"${CONNECTION_STRING_ENV}, else the background Azurite (`workbench azurite start`).",
    )
    actions = parser.add_subparsers(dest="storage_action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="list them, oldest first, with their age")
    listing.set_defaults(func=_list)
    clean = actions.add_parser(
        "clean",
        help="remove them (a dry run unless --yes)",
        description="Show the workbench's queues and containers that would be removed; with "
        "--yes, remove them. A run still going has its resources listed too: use --older-than.",
    )
    clean.add_argument(
        "--older-than",
        type=_duration,
        default=timedelta(0),
        metavar="D",
        help="only those made at least D ago: 90s, 30m, 2h, 7d (default: all)",
    )
    clean.add_argument("--yes", action="store_true", help="remove them (default: only show)")
    clean.set_defaults(func=_clean)


def _duration(text: str) -> timedelta:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _connection() -> tuple[str, str]:
    configured = configured_connection()
    if configured is None:
        raise WorkbenchError(
            f"no storage to look at: set {CONNECTION_STRING_ENV}, or start the background "
            "Azurite (`workbench azurite start`); an Azurite a command starts for itself goes "
            "away with it, and its queues and containers with it"
        )
    return configured


def _line(resource: RunResource, now: datetime) -> str:
    return (
        f"{resource.kind:<9} {resource.name:<63} made {resource.created_at:%Y-%m-%d %H:%M:%S} "
        f"UTC, {describe_age(resource.age(now))} ago"
    )


def _runs(resources: Sequence[RunResource]) -> int:
    return len({r.run for r in resources})


def _list(args: argparse.Namespace) -> int:
    conn, where = _connection()
    now = datetime.now(UTC)

    async def go() -> list[RunResource]:
        async with StorageAccount(conn) as account:
            return await list_run_resources(account)

    resources = asyncio.run(go())
    print(f"storage: {where}")
    for resource in resources:
        print(_line(resource, now))
    print(f"{len(resources)} queue(s) and container(s) of {_runs(resources)} workbench run(s)")
    return 0


def _clean(args: argparse.Namespace) -> int:
    conn, where = _connection()
    now = datetime.now(UTC)
    age = f" made at least {describe_age(args.older_than)} ago" if args.older_than else ""

    async def go() -> list[RunResource]:
        async with StorageAccount(conn) as account:
            chosen = older_than(await list_run_resources(account), args.older_than, now)
            print(f"storage: {where}")
            for resource in chosen:
                if args.yes:
                    await remove(account, resource)
                    print(f"removed {_line(resource, now)}")
                else:
                    print(f"would remove {_line(resource, now)}")
            return chosen

    chosen = asyncio.run(go())
    count = f"{len(chosen)} queue(s) and container(s) of {_runs(chosen)} workbench run(s){age}"
    if args.yes:
        print(f"removed {count}")
    else:
        print(f"would remove {count}; nothing removed (dry run): add --yes to remove them")
    return 0

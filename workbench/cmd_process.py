"""``workbench process``: run one processor against the queue until SIGTERM, Ctrl-C or idle.

Storage comes from ``AZURE_STORAGE_CONNECTION_STRING`` (or ``--connection-string-env VAR``),
else from the background Azurite of ``workbench azurite start``.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from pipeline.clock import Clock
from pipeline.processor import (
    DEFAULT_COLLECTED_CONTAINER,
    DEFAULT_QUEUE,
    DEFAULT_RESULTS_CONTAINER,
    Processor,
    ProcessorSettings,
    ProcessorStats,
)
from pipeline.storage import CONNECTION_STRING_ENV, StorageAccount
from workbench.connection import configured_connection
from workbench.errors import WorkbenchError
from workbench.options import PROCESSOR_SPEED, add_service_time_option, add_speed_option, number
from workbench.work import simulated_work


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "process",
        help="run a processor on the queue until SIGTERM, Ctrl-C or idle",
        description=(
            "Receive content messages, turn each into an article in the results container, "
            "delete them; poison after --max-deliveries. SIGTERM or Ctrl-C stops cleanly "
            "(work in hand finishes, messages not started are released)."
        ),
    )
    parser.add_argument("--concurrency", type=int, default=1, metavar="N", help="default 1")
    add_service_time_option(parser, default=None)
    parser.add_argument(
        "--queue", default=DEFAULT_QUEUE, metavar="NAME", help=f"default {DEFAULT_QUEUE}"
    )
    parser.add_argument(
        "--poison-queue", default=None, metavar="NAME", help="default: <queue>-poison"
    )
    parser.add_argument(
        "--results-container",
        default=DEFAULT_RESULTS_CONTAINER,
        metavar="NAME",
        help=f"default {DEFAULT_RESULTS_CONTAINER}",
    )
    parser.add_argument(
        "--claims-container",
        default=DEFAULT_COLLECTED_CONTAINER,
        metavar="NAME",
        help="the collector's container: claim checks may point there only "
        f"(default {DEFAULT_COLLECTED_CONTAINER})",
    )
    parser.add_argument(
        "--connection-string-env",
        default=CONNECTION_STRING_ENV,
        metavar="VAR",
        help=f"environment variable holding the connection string (default {CONNECTION_STRING_ENV})",
    )
    parser.add_argument(
        "--idle-exit",
        type=number(minimum=0),
        default=None,
        metavar="SECONDS",
        help="exit after this many recording seconds with nothing to do (default: never)",
    )
    add_speed_option(parser, default=PROCESSOR_SPEED, what="processor")
    parser.add_argument("--batch-size", type=int, default=32, metavar="N", help="1-32 (32)")
    parser.add_argument(
        "--visibility-timeout", type=int, default=60, metavar="SECONDS", help="wall seconds (60)"
    )
    parser.add_argument("--max-deliveries", type=int, default=5, metavar="N", help="default 5")
    parser.add_argument("--name", default="processor-1", help="worker name in logs and results")
    parser.add_argument("--seed", type=int, default=0, help="service-time seed (default 0)")
    parser.set_defaults(func=_process)


def connection_string_for(env_var: str = CONNECTION_STRING_ENV) -> str:
    """The connection string from ``env_var``, else the background Azurite's."""
    configured = configured_connection(env_var)
    if configured is not None:
        return configured[0]
    raise WorkbenchError(
        f"no storage to connect to: set {env_var} to a connection string, "
        "or run `workbench azurite start` first"
    )


def _settings(args: argparse.Namespace) -> ProcessorSettings:
    if args.concurrency < 1:
        raise WorkbenchError(f"--concurrency must be >= 1, got {args.concurrency}")
    if not 1 <= args.batch_size <= 32:
        raise WorkbenchError(f"--batch-size must be 1-32, got {args.batch_size}")
    if args.visibility_timeout < 1:
        raise WorkbenchError(f"--visibility-timeout must be >= 1, got {args.visibility_timeout}")
    if args.max_deliveries < 1:
        raise WorkbenchError(f"--max-deliveries must be >= 1, got {args.max_deliveries}")
    if args.idle_exit is not None and args.idle_exit < 0:
        raise WorkbenchError(f"--idle-exit must be >= 0, got {args.idle_exit}")
    return ProcessorSettings(
        queue_name=args.queue,
        poison_queue_name=args.poison_queue or f"{args.queue}-poison",
        results_container=args.results_container,
        claims_container=args.claims_container,
        concurrency=args.concurrency,
        batch_size=args.batch_size,
        visibility_timeout_s=args.visibility_timeout,
        max_deliveries=args.max_deliveries,
        idle_exit_s=args.idle_exit,
    )


def _process(args: argparse.Namespace) -> int:
    settings = _settings(args)
    conn = connection_string_for(args.connection_string_env)
    clock = Clock(args.speed)
    stats = asyncio.run(_run(args, conn, clock, settings))
    print(
        f"processed {stats.processed}, duplicate {stats.duplicate}, poisoned {stats.poisoned}, "
        f"invalid {stats.invalid}, released {stats.released}, storage errors "
        f"{stats.storage_errors} in {clock.now():.1f} s (recording, speed {clock.speed:g})"
    )
    return 0


async def _run(
    args: argparse.Namespace, conn: str, clock: Clock, settings: ProcessorSettings
) -> ProcessorStats:
    async with StorageAccount(conn) as account:
        await account.queue(settings.queue_name).create_if_missing()
        await account.queue(settings.poison_queue_name).create_if_missing()
        await account.container(settings.results_container).create_if_missing()
        processor = Processor(
            account,
            settings,
            clock=clock,
            work=simulated_work(args.service_time, seed=args.seed, name=args.name),
            name=args.name,
        )
        uninstall = processor.install_signal_handlers()
        try:
            return await processor.run()
        finally:
            uninstall()

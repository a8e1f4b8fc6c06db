"""The ``workbench`` command: one sub-command module per area.

Each module in ``COMMAND_MODULES`` exposes ``register(subparsers)``, which adds its
sub-commands; a sub-command's handler is stored as ``func`` and returns an exit code.
Errors the user can fix are raised as ``WorkbenchError`` and printed as one line.

SIGTERM is handled as Ctrl-C (SIGINT): the running work is cancelled, queues and containers
the command made are removed, an Azurite it started is stopped, and the command exits with
128 + the signal number (130 for SIGINT, 143 for SIGTERM) after one line saying so. A second
signal stops at once. ``workbench process`` handles both signals itself (a clean stop, exit 0).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from pipeline.errors import PipelineError
from workbench.errors import WorkbenchError

COMMAND_MODULES = (
    "workbench.cmd_azurite",
    "workbench.cmd_recordings",
    "workbench.cmd_replay",
    "workbench.cmd_rollout",
    "workbench.cmd_report",
    "workbench.cmd_sim",
    "workbench.cmd_process",
    "workbench.cmd_storage",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="workbench",
        description="Streaming-collection workbench: replay, simulate, report.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG level")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def _terminate_like_ctrl_c(signum: int, frame: FrameType | None) -> None:
    """SIGTERM does what SIGINT does wherever the command is: asyncio's handler (cancel the
    main task, then raise ``KeyboardInterrupt``) or Python's default one (raise it now)."""
    _signals_received.append(signum)
    handler = signal.getsignal(signal.SIGINT)
    if callable(handler) and handler is not _terminate_like_ctrl_c:
        handler(signal.SIGINT, frame)
    else:
        raise KeyboardInterrupt


_signals_received: list[int] = []


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        stream=sys.stderr,
    )
    # The SDK logs every request and response at INFO; keep our own lines readable.
    for noisy in ("azure", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    _signals_received.clear()
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate_like_ctrl_c) if in_main_thread else None
    try:
        return int(args.func(args) or 0)
    except (WorkbenchError, PipelineError) as exc:
        print(f"workbench {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        signum = _signals_received[0] if _signals_received else signal.SIGINT
        name = signal.Signals(signum).name
        print(f"workbench {args.command}: interrupted by {name}", file=sys.stderr)
        return 128 + signum
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

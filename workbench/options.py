"""Command-line options that several commands share, each defined once: its flag, its
validation and its default.

- ``--speed``: the replay clock's speed (recording seconds per wall second).
- ``--service-time``: the processor's simulated work per item, a distribution in the simulation's
  grammar (``sim.parse_distribution``). The workbench parses it once and hands the same object
  to the replay's processors and to the simulation's pods, so the two cannot read one spec
  differently.

And the argument types every command uses for its other options, so that each is checked when
the command line is parsed, before any work starts: ``distribution``, ``number`` (finite: NaN
and infinities are refused), ``whole_number``, ``output_file`` and ``output_folder``.

Output paths: a command writes a file only into a folder that exists (it creates no folders
for it: ``--json /nonexistent/x.json`` is an error at once, not after the work), and creates an
output folder (``report --out``, ``record --out``, ``synth --out``) only inside a folder that
exists. Anything that is in the way (a file where a folder must be, a folder where the file
must be) is an error at once.

A bad value is an ``argparse`` error (one line, exit 2) before any storage is touched.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.collect import CollectorOptions
from sim import Distribution, parse_distribution
from workbench.errors import WorkbenchError

if TYPE_CHECKING:
    from workbench.replay import ReplayOptions

# Replay speeds by purpose, written once: a replay against storage (replay, report, rollout);
# a quick look at a recording without storage (inspect); a processor in production (real time).
DEFAULT_REPLAY_SPEED = 20.0
INSPECT_SPEED = 100.0
PROCESSOR_SPEED = 1.0
DEFAULT_SERVICE_TIME = "lognormal(mean=6,sd=2)"

_SERVICE_FORMS = "constant(6), exponential(mean=6), lognormal(mean=6,sd=2), uniform(2,10)"


def distribution(text: str) -> Distribution:
    """A distribution spec (``--service-time``, ``--startup``), parsed once."""
    try:
        return parse_distribution(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


service_time = distribution


def whole_number(minimum: int) -> Callable[[str], int]:
    """An argparse type: a whole number of at least ``minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {text!r}")
        return value

    return parse


def replay_speed(text: str) -> float:
    """``--speed``: a finite number > 0."""
    return number(above=0)(text)


def add_speed_option(
    parser: argparse.ArgumentParser,
    *,
    default: float = DEFAULT_REPLAY_SPEED,
    what: str = "replay",
    flag: str = "--speed",
) -> None:
    parser.add_argument(
        flag,
        type=replay_speed,
        default=default,
        metavar="S",
        help=f"{what} clock speed, recording seconds per wall second (default {default:g})",
    )


def add_service_time_option(
    parser: argparse.ArgumentParser, *, default: str | None = DEFAULT_SERVICE_TIME
) -> None:
    """``--service-time D``; with ``default=None`` the processor does no simulated work unless
    asked (production)."""
    shown = default if default is not None else "none: no simulated work"
    parser.add_argument(
        "--service-time",
        type=service_time,
        default=None if default is None else service_time(default),
        metavar="D",
        help=f"simulated work per item in recording seconds: {_SERVICE_FORMS} (default {shown})",
    )


def number(*, minimum: float | None = None, above: float | None = None) -> Callable[[str], float]:
    """An argument type: a finite number, ``>= minimum`` or ``> above``."""
    bound = (
        f" >= {minimum:g}" if minimum is not None else f" > {above:g}" if above is not None else ""
    )

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
        if not (
            math.isfinite(value)
            and (minimum is None or value >= minimum)
            and (above is None or value > above)
        ):
            raise argparse.ArgumentTypeError(f"must be a finite number{bound}, got {text!r}")
        return value

    return parse


def output_file(text: str) -> Path:
    """An argument type: a file to write, in a folder that exists (none is created for it)."""
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a folder, not a file")
    parent = path.parent
    if not parent.is_dir():
        what = "is not a folder" if parent.exists() else "does not exist"
        raise argparse.ArgumentTypeError(f"cannot write {text}: {parent} {what}")
    return path


def output_folder(text: str) -> Path:
    """An argument type: a folder to write into; created later only if its parent exists."""
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a file, not a folder")
    if not path.exists() and not path.parent.is_dir():
        what = "is not a folder" if path.parent.exists() else "does not exist"
        raise argparse.ArgumentTypeError(f"cannot create {text}: {path.parent} {what}")
    return path


def add_replay_options(parser: argparse.ArgumentParser, processors: int = 0) -> None:
    """The options of a replay against storage (replay, rollout): speed, processors, service
    time, the collector's send concurrency and rate limit, the seed, ``--keep``."""
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


def replay_options(args: argparse.Namespace) -> ReplayOptions:
    """The ``ReplayOptions`` of the arguments ``add_replay_options`` defined."""
    from workbench.replay import ReplayOptions  # replay.py reads this module's defaults

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


def write_json(path: Path, document: Any) -> None:
    """Write a command's JSON output (``--json``), or say in one line why it cannot."""
    try:
        path.write_text(json.dumps(document, indent=1, default=str))
    except OSError as exc:
        raise WorkbenchError(f"cannot write {path}: {exc.strerror}") from None


def progress(text: str) -> None:
    """A command's progress line, on stderr (stdout holds its result)."""
    print(text, file=sys.stderr, flush=True)

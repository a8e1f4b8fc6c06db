"""``workbench report``: execute the study's four notebooks headless and write the rollout report.

01 explores the recordings, 02 replays them in both modes against storage (or reuses a cached
replay newer than the recording), 03 simulates KEDA scaling for each mode's arrivals, 04 writes
``rollout-report.html``, ``rollout-report.md`` and ``metrics.json``; the executed notebooks go
to ``{out}/notebooks``.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Any

from workbench.options import (
    add_service_time_option,
    add_speed_option,
    distribution,
    output_folder,
    whole_number,
)
from workbench.paths import (
    DESIGN_SCALE_RECORDING,
    FAULT_RECORDING,
    REPORTS,
    SCALEDOBJECT,
    SHIPPED_RECORDING,
)
from workbench.study.simulate import DEFAULT_STARTUP

# The recordings the report covers unless --recording is given.
DEFAULT_RECORDINGS = (SHIPPED_RECORDING, DESIGN_SCALE_RECORDING)
DEFAULT_SEEDS = 20  # KEDA's loop phases are drawn per seed


def register(subparsers: Any) -> None:
    report = subparsers.add_parser(
        "report",
        help="execute the study notebooks headless and write the rollout report",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
    )
    report.add_argument(
        "--recording",
        action="append",
        type=Path,
        metavar="DIR",
        help="a recording folder (repeat for several; default: "
        + ", ".join(p.name for p in DEFAULT_RECORDINGS)
        + ")",
    )
    report.add_argument(
        "--out", type=output_folder, default=REPORTS, help="output folder (default reports/)"
    )
    add_speed_option(report)
    report.add_argument(
        "--processors",
        type=whole_number(0),
        default=2,
        help="processor workers in the replay (default 2)",
    )
    report.add_argument(
        "--processor-concurrency",
        type=whole_number(1),
        default=4,
        help="messages per worker (replay) and per pod (simulation) at once (default 4)",
    )
    add_service_time_option(report)
    report.add_argument(
        "--seed",
        type=whole_number(0),
        default=0,
        help="seed of the replay's service times (default 0)",
    )
    report.add_argument(
        "--startup",
        type=distribution,
        default=distribution(DEFAULT_STARTUP),
        help=f"simulated pod start-up time (default {DEFAULT_STARTUP})",
    )
    report.add_argument(
        "--seeds",
        type=whole_number(1),
        default=DEFAULT_SEEDS,
        help=f"simulation seeds per scenario, each with its own loop phases (default {DEFAULT_SEEDS})",
    )
    add_speed_option(
        report,
        default=50.0,
        what="rollout steps' and send-limit sweep's replay",
        flag="--rollout-speed",
    )
    report.add_argument(
        "--fault-recording",
        type=Path,
        default=FAULT_RECORDING,
        metavar="DIR",
        help=f"the A/B guardrail's fault case (default {FAULT_RECORDING.name})",
    )
    report.add_argument(
        "--scaledobject", type=Path, default=SCALEDOBJECT, help="KEDA ScaledObject to simulate"
    )
    report.add_argument(
        "--no-cache",
        action="store_true",
        help="replay again even when a cached replay is newer than the recording",
    )
    report.set_defaults(func=_report)


def _progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def report_parameters(args: argparse.Namespace, recordings: list[Path]) -> dict[str, Any]:
    """The notebooks' parameters (each notebook receives the ones its parameters cell names)."""
    return {
        "recordings": [str(p) for p in recordings],
        "out": str(Path(args.out).resolve()),
        "explore_speed": 100.0,
        "speed": float(args.speed),
        "processors": args.processors,
        "processor_concurrency": args.processor_concurrency,
        "service_time": str(args.service_time),
        "seed": args.seed,
        "use_cached_replay": not args.no_cache,
        "seeds": args.seeds,
        "tune_seeds": args.seeds,
        "rollout_speed": float(args.rollout_speed),
        "fault_recording": str(Path(args.fault_recording).resolve()),
        "startup": str(args.startup),
        "scaledobject": str(Path(args.scaledobject).resolve()),
    }


def _check_scaledobject(path: Path) -> None:
    """The ScaledObject notebook 03 will simulate, read now rather than after the replay."""
    from sim import ScalerSpec, UnsupportedField
    from workbench.errors import WorkbenchError

    try:
        ScalerSpec.from_file(path)
    except UnsupportedField as exc:
        raise WorkbenchError(str(exc)) from None
    except (OSError, ValueError) as exc:
        raise WorkbenchError(f"--scaledobject: {exc}") from None


def _report(args: argparse.Namespace) -> int:
    from pipeline.recording import Recording
    from workbench.study import execute_notebooks, recording_paths
    from workbench.study.execute import NotebookFailed

    recordings = recording_paths(args.recording or list(DEFAULT_RECORDINGS))
    for recording in recordings:
        Recording.open(recording)  # a bad folder is reported before any notebook runs
    Recording.open(args.fault_recording)
    _check_scaledobject(args.scaledobject)
    start = time.monotonic()
    interrupted: list[int] = []

    def on_interrupt(signum: int, frame: FrameType | None) -> None:
        interrupted.append(signum)
        signal.default_int_handler(signum, frame)

    # An interrupt can reach the kernel first (it dies) and come back as a failed cell: say
    # "interrupted", not "kernel died". Only the main thread may set a handler.
    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, on_interrupt) if in_main else None
    try:
        executed = execute_notebooks(
            args.out, report_parameters(args, recordings), progress=_progress, stream=sys.stderr
        )
    except Exception as exc:
        if interrupted:
            raise KeyboardInterrupt from None
        if not isinstance(exc, NotebookFailed):
            raise
        print(f"workbench report: error: {exc}", file=sys.stderr)
        return 1
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
    out = Path(args.out)
    for name in ("rollout-report.html", "rollout-report.md", "metrics.json"):
        print(f"wrote {out / name}")
    print(f"wrote {out / 'notebooks'} (the executed notebooks)")
    times = ", ".join(f"{e.notebook[:2]} {e.seconds:.0f} s" for e in executed)
    print(f"time: {time.monotonic() - start:.0f} s ({times})")
    return 0

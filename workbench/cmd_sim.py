"""``workbench simulate``, ``sweep`` and ``tune``: the SimPy model of KEDA scaling from the CLI."""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from sim import (
    FixedReplicas,
    PodSpec,
    ScalerSpec,
    Scenario,
    UnsupportedField,
    parse_arrivals,
    parse_distribution,
    simulate,
    sweep,
)
from workbench.cluster import sweep_executor
from workbench.errors import WorkbenchError
from workbench.options import add_service_time_option, output_file
from workbench.paths import SCALEDOBJECT
from workbench.tune import DEFAULT_GRID, DEFAULT_LATENCY_SLACK, TUNED, tune

T = TypeVar("T")


def register(subparsers: argparse._SubParsersAction) -> None:
    sim_parser = subparsers.add_parser(
        "simulate",
        help="simulate KEDA scaling of the processor for an arrival pattern",
        description="Simulate the queue, processor pods and KEDA/HPA scaling; print the summary.",
    )
    _scenario_arguments(sim_parser)
    sim_parser.add_argument("--seeds", type=int, default=1, help="replications (seeds 0..N-1)")
    sim_parser.add_argument(
        "--json",
        type=output_file,
        help="write summary, timeline and scale_events (first seed) here",
    )
    sim_parser.set_defaults(func=handle_simulate)

    sweep_parser = subparsers.add_parser(
        "sweep",
        help="sweep scaler settings; write a table of settings x metrics",
        description="Run every combination of --set values over several seeds on all cores.",
    )
    _scenario_arguments(sweep_parser)
    sweep_parser.add_argument(
        "--set",
        dest="settings",
        action="append",
        default=[],
        metavar="KEY=V1,V2",
        help="a setting and its values, e.g. queue_length=4,8,16 (repeatable)",
    )
    sweep_parser.add_argument("--seeds", type=int, default=5, help="replications per setting")
    sweep_parser.add_argument(
        "--out", type=Path, required=True, help="table to write (.csv or .json)"
    )
    _runner_arguments(sweep_parser)
    sweep_parser.set_defaults(func=handle_sweep)

    tune_parser = subparsers.add_parser(
        "tune",
        help="tune the scaler: Pareto front of p95 latency against replica-seconds",
        description="Sweep queueLength, activationQueueLength, pollingInterval, cooldownPeriod and "
        "maxReplicaCount around the ScaledObject on the given arrivals, with KEDA/HPA loop phases "
        "drawn per seed; mark the Pareto front, the shipped and the recommended setting.",
    )
    _scenario_arguments(tune_parser, tuning=True)
    for name in TUNED:
        flag = "--" + re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower()
        default = ",".join(str(v) for v in DEFAULT_GRID[name])
        tune_parser.add_argument(
            flag,
            dest=f"grid_{name}",
            type=_number_list,
            default=DEFAULT_GRID[name],
            metavar="V1,V2",
            help=f"{name} values (default {default})",
        )
    tune_parser.add_argument("--seeds", type=int, default=10, help="replications per setting")
    tune_parser.add_argument(
        "--latency-slack",
        type=float,
        default=DEFAULT_LATENCY_SLACK,
        help="recommend the cheapest front setting whose p95 is within this share of the best "
        f"(default {DEFAULT_LATENCY_SLACK:g})",
    )
    tune_parser.add_argument("--json", type=Path, help="write the table and the verdicts here")
    tune_parser.add_argument("--csv", type=Path, help="write the table here")
    _runner_arguments(tune_parser)
    tune_parser.set_defaults(func=handle_tune)


def _runner_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--jobs", type=int, default=None, help="worker processes (all cores)")
    parser.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="run on this Dask distributed scheduler (tcp://host:8786) instead of local processes",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def _number_list(text: str) -> list[float | int]:
    values: list[float | int] = []
    for part in text.split(","):
        value = _value(part)
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise argparse.ArgumentTypeError(
                f"expected numbers separated by commas (finite ones), got {text!r}"
            )
        values.append(value)
    return values


def _scenario_arguments(parser: argparse.ArgumentParser, *, tuning: bool = False) -> None:
    parser.add_argument(
        "--scaledobject",
        type=Path,
        default=None,
        help="KEDA ScaledObject YAML (default: the project's data/keda/processor-scaledobject.yaml)",
    )
    parser.add_argument(
        "--arrivals",
        required=True,
        metavar="SPEC",
        help="burst:N@T[/RATE], poisson:RATE:DURATION, repeat:PERIOD:COUNT:SPEC, or a file "
        "(CSV with enqueued_at, replay.json#MODE, one time per line)",
    )
    add_service_time_option(parser)
    parser.add_argument("--startup", default="constant(30)", help="pod startup distribution")
    parser.add_argument(
        "--platform", choices=["kubernetes", "container-apps"], default="kubernetes"
    )
    parser.add_argument("--until", type=float, help="stop at this time (s) instead of when done")
    if tuning:  # tuning always draws the loop phases per seed, and needs a scaler
        parser.set_defaults(replicas=None, phase="random")
    else:
        parser.add_argument("--replicas", type=int, help="scaling off: this many pods throughout")
        parser.add_argument(
            "--phase",
            choices=["fixed", "random"],
            default="fixed",
            help="KEDA poll / HPA sync phase: at t=0 or random per seed",
        )
    parser.add_argument("--batch-size", type=int, default=10, help="messages per receive")
    parser.add_argument("--visibility-timeout", type=float, default=60.0, help="seconds")
    parser.add_argument("--concurrency", type=int, default=1, help="receive loops per pod")
    parser.add_argument(
        "--pause-when-empty", type=float, default=10.0, help="seconds; 0 long-polls"
    )
    parser.add_argument("--pause-between-batches", type=float, default=2.0, help="seconds")
    parser.add_argument("--exit-after-idle", type=float, default=None, help="seconds")
    parser.add_argument("--price-per-replica-hour", type=float, default=0.054)
    parser.add_argument(
        "--ignore-unsupported",
        action="store_true",
        help="run even if the ScaledObject sets fields the model does not implement (fallback, "
        "idleReplicaCount, scalingModifiers, ...); they are listed in the output",
    )


def _build_scenario(args: argparse.Namespace) -> Scenario:
    try:
        arrivals = parse_arrivals(args.arrivals)
        pods = PodSpec(
            startup=parse_distribution(args.startup),
            service=args.service_time,
            concurrency=args.concurrency,
            receive_batch_size=args.batch_size,
            visibility_timeout_s=args.visibility_timeout,
            pause_between_batches_s=args.pause_between_batches,
            pause_when_empty_s=args.pause_when_empty,
            exit_after_idle_s=args.exit_after_idle,
        )
        scaler: ScalerSpec | FixedReplicas
        if args.replicas is not None:
            if args.scaledobject is not None:
                raise ValueError("give either --replicas (scaling off) or --scaledobject")
            scaler = FixedReplicas(args.replicas)
        else:
            phase: dict[str, Any] = {}
            if args.phase == "random":
                phase = {"keda_poll_phase_s": None, "hpa_sync_phase_s": None}
            scaler = ScalerSpec.from_file(
                args.scaledobject or SCALEDOBJECT,
                platform=args.platform,
                ignore_unsupported=args.ignore_unsupported,
                **phase,
            )
            if scaler.ignored_fields:
                print(
                    "ignoring ScaledObject fields the model does not implement: "
                    + ", ".join(scaler.ignored_fields),
                    file=sys.stderr,
                )
        return Scenario(
            arrivals=arrivals,
            pods=pods,
            scaler=scaler,
            until_s=args.until,
            price_per_replica_hour=args.price_per_replica_hour,
        )
    except UnsupportedField as exc:
        raise WorkbenchError(f"{exc}; --ignore-unsupported runs without it") from None
    except ValueError as exc:
        raise WorkbenchError(str(exc)) from None


def ignored_fields(scenario: Scenario) -> list[str]:
    """The ScaledObject fields the run goes without (``--ignore-unsupported``)."""
    return list(getattr(scenario.scaler, "ignored_fields", ()))


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if hasattr(value, "item"):  # numpy scalar
        return _clean(value.item())
    return value


def _fmt(value: float) -> str:
    if not math.isfinite(value):
        return "-"
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.2f}"


def handle_simulate(args: argparse.Namespace) -> int:
    if args.seeds < 1:
        raise WorkbenchError("--seeds must be >= 1")
    scenario = _build_scenario(args)
    result = simulate(scenario, seeds=args.seeds)
    summary = result.summary
    first = result.runs[0]
    print(
        f"simulated {args.seeds} seed(s): {scenario.arrivals}, service {scenario.pods.service}, "
        f"startup {scenario.pods.startup}"
    )
    for name, row in summary.iterrows():
        line = f"  {name:<32} {_fmt(row['mean'])}"
        if args.seeds > 1 and math.isfinite(row["ci_low"]):
            line += f"  [95% CI {_fmt(row['ci_low'])}, {_fmt(row['ci_high'])}]"
        print(line)
    events = first.records.scale_events
    if events:
        shown = ", ".join(f"{e.t:g}s {e.from_replicas}->{e.to_replicas} {e.by}" for e in events)
        print(f"scale events (seed {first.seed}): {shown}")
    if args.json is not None:
        payload: dict[str, Any] = {
            "summary": {str(k): v for k, v in summary["mean"].items()},
            "timeline": first.timeline().to_dict(orient="records"),
            "scale_events": first.scale_events().to_dict(orient="records"),
            "seeds": [r.seed for r in result.runs],
            "ignored_fields": ignored_fields(scenario),
        }
        if args.seeds > 1:
            payload["confidence_intervals"] = {
                str(k): [row["ci_low"], row["ci_high"]] for k, row in summary.iterrows()
            }
        try:
            args.json.write_text(json.dumps(_clean(payload), indent=2) + "\n")
        except OSError as exc:
            raise WorkbenchError(f"cannot write {args.json}: {exc.strerror}") from None
        print(f"wrote {args.json}")
    return 0


_SPLIT = re.compile(r",(?![^()]*\))")


def _value(text: str) -> Any:
    text = text.strip()
    if text.lower() in ("random", "none", "null"):
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def parse_settings(items: list[str]) -> dict[str, list[Any]]:
    """``["queue_length=4,8", "service=constant(5),uniform(1,2)"]`` -> a sweep grid."""
    grid: dict[str, list[Any]] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip() or not raw.strip():
            raise WorkbenchError(f"--set {item!r}: use KEY=V1,V2,...")
        grid[key.strip()] = [_value(v) for v in _SPLIT.split(raw) if v.strip()]
        if any(isinstance(v, float) and not math.isfinite(v) for v in grid[key.strip()]):
            raise WorkbenchError(f"--set {item!r}: values must be finite numbers")
    if not grid:
        raise WorkbenchError("give at least one --set KEY=V1,V2,...")
    return grid


def _check_runner(args: argparse.Namespace, *outputs: Path | None) -> None:
    """Options checked before any run starts: seeds, jobs, and that each output can be written."""
    if args.seeds < 1:
        raise WorkbenchError("--seeds must be >= 1")
    if args.jobs is not None and args.jobs < 1:
        raise WorkbenchError("--jobs must be >= 1")
    for path in outputs:
        if path is not None and not path.parent.is_dir():
            raise WorkbenchError(f"cannot write {path}: {path.parent} is not a directory")
        if path is not None and path.is_dir():
            raise WorkbenchError(f"cannot write {path}: it is a directory")


def _write(path: Path, text: str) -> None:
    try:
        path.write_text(text)
    except OSError as exc:
        raise WorkbenchError(f"cannot write {path}: {exc.strerror}") from None


def _run(args: argparse.Namespace, work: Callable[..., T], *given: Any, **options: Any) -> T:
    """``work`` (``sweep`` or ``tune``) with the runner options, on local processes or the
    ``--scheduler`` cluster; a bad setting is a one-line error."""
    with sweep_executor(args.scheduler) as (executor, workers):
        try:
            return work(
                *given,
                seeds=args.seeds,
                jobs=workers or args.jobs,
                executor=executor,
                progress=not args.no_progress,
                **options,
            )
        except (ValueError, TypeError) as exc:
            raise WorkbenchError(str(exc)) from None


def handle_sweep(args: argparse.Namespace) -> int:
    suffix = args.out.suffix.lower()
    if suffix not in (".csv", ".json"):
        raise WorkbenchError(f"--out must end in .csv or .json, got {args.out}")
    _check_runner(args, args.out)
    scenario = _build_scenario(args)
    grid = parse_settings(args.settings)
    table = _run(args, sweep, scenario, grid)
    if suffix == ".csv":
        _write(args.out, table.to_csv(index=False))
    else:
        _write(args.out, json.dumps(_clean(table.to_dict(orient="records")), indent=2) + "\n")
    print(f"wrote {len(table)} settings x {args.seeds} seeds to {args.out}", file=sys.stdout)
    return 0


def handle_tune(args: argparse.Namespace) -> int:
    _check_runner(args, args.json, args.csv)
    scenario = _build_scenario(args)
    grid = {name: getattr(args, f"grid_{name}") for name in TUNED}
    result = _run(args, tune, scenario, grid, latency_slack=args.latency_slack)
    table = result.table
    print(
        f"tuned {len(table)} settings x {args.seeds} seeds on {scenario.arrivals}: "
        f"{int(table['pareto'].sum())} on the Pareto front of p95 latency against replica-seconds"
    )
    print(result.describe())
    if args.csv is not None:
        _write(args.csv, table.to_csv(index=False))
        print(f"wrote {args.csv}")
    if args.json is not None:
        doc = {
            "arrivals": str(scenario.arrivals),
            "service": str(scenario.pods.service),
            "startup": str(scenario.pods.startup),
            "seeds": args.seeds,
            "grid": grid,
            "ignored_fields": ignored_fields(scenario),
            **result.to_json(),
        }
        _write(args.json, json.dumps(_clean(doc), indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0

"""First-item overhead: streaming time to first item queued minus the recording's limit.

    python benchmarks/bench_first_item_vs_limit.py [--rounds 2]

The shipped recording is replayed in streaming mode at speeds 1 and 20, in alternating order
(round 1: 1 then 20, round 2: 20 then 1, ...), on one Azurite warmed once (``_replay_bench``).
For every run, the overhead is ``time_to_first_item_queued_seconds`` minus
``first_item_limit_seconds`` (computed from the recording alone) in wall milliseconds: the
recorded waits are the limit's, so what is left is the pipeline's own work for its first item.
Each run's overhead is split by a benchmark-only tracer (``_first_item_trace``).
Goal: <= 20 ms in the worst run at both speeds. The last line is the worst run's overhead.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics

from _common import alternating, machine_line, median_spread
from _first_item_trace import FirstItemTracer, breakdown
from _replay_bench import replay_on, warm_emulator

from pipeline.storage import StorageAccount
from workbench.azurite import Azurite

SPEEDS = (1.0, 20.0)


def describe(speed: float, run: dict, trace: dict) -> str:
    parts = " + ".join(f"{name} {value:.1f}" for name, value in trace["parts"].items())
    first, limit = run["time_to_first_item_queued_seconds"], run["first_item_limit_seconds"]
    return (
        f"  speed {speed:g} run {run['run']}: first item {first:.4f} s, "
        f"limit {limit:.4f} s, overhead {trace['overhead']:.1f} ms "
        f"= {parts} (ms; {trace['source']}; other sources parsing meanwhile "
        f"{trace['parsing meanwhile']:.1f} ms)"
    )


async def main(conn: str, rounds: int) -> None:
    overheads: dict[float, list[float]] = {speed: [] for speed in SPEEDS}
    async with StorageAccount(conn) as account:
        await warm_emulator(account)
        for k in range(rounds):
            for speed in alternating(k, *(str(s) for s in SPEEDS)):
                with FirstItemTracer() as tracer:
                    result = await replay_on(account, ("streaming",), float(speed), quiet=True)
                runs = result["modes"]["streaming"]["runs"]
                if len(tracer.runs) != len(runs):
                    raise SystemExit(f"traced {len(tracer.runs)} runs, replayed {len(runs)}")
                print(f"round {k + 1}, speed {speed}:", flush=True)
                for run, traced in zip(runs, tracer.runs, strict=True):
                    trace = breakdown(traced, run["first_item_limit_seconds"])
                    overheads[float(speed)].append(trace["overhead"])
                    print(describe(float(speed), run, trace), flush=True)
    for speed, values in overheads.items():
        summary = median_spread(values, "ms", 1)
        print(f"speed {speed:g}: overhead {summary}, worst {max(values):.1f} ms")
    every = [v for values in overheads.values() for v in values]
    print(
        f"first-item overhead, worst of {len(every)} runs at speeds 1 and 20 = "
        f"{max(every):.1f} ms (median {statistics.median(every):.1f} ms; goal <= 20 ms)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    print(machine_line(), flush=True)
    with Azurite() as azurite:
        asyncio.run(main(azurite.connection_string, args.rounds))

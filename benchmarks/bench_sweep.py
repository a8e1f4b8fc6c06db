"""Benchmark of a tuning-sized sweep (``python benchmarks/bench_sweep.py``).

100 settings around the shipped ScaledObject x 10 seeds, each one day of three collections of
100 items (5 items/s from 0, 8 and 16 h), KEDA poll and HPA sync phases drawn per seed:

1. on two local processes (``sim.sweep(jobs=2)``), in runs per second;
2. the same sweep on a 2-worker Dask ``LocalCluster`` (one thread each, started before timing,
   as a user's running cluster would be), against the local time.

Rounds alternate local and cluster on the shared machine; both tables must be equal. The last
line prints runs per second and the cluster / local time ratio (target <= 1.3).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from distributed import Client, LocalCluster  # noqa: E402

from sim import Burst, PodSpec, Repeat, ScalerSpec, Scenario, sweep  # noqa: E402
from workbench.paths import SCALEDOBJECT  # noqa: E402

SEEDS = 10
ROUNDS = 2
GRID = {
    "queue_length": [4, 6, 8, 10, 12],
    "polling_interval_s": [15, 30],
    "cooldown_period_s": [60, 150, 300, 600, 900],
    "scaler.max_replicas": [4, 6],
}


def scenario() -> Scenario:
    return Scenario(
        arrivals=Repeat(Burst(100, 0.0, rate_per_s=5.0), count=3, period_s=8 * 3600.0),
        pods=PodSpec(startup="lognormal(mean=30,sd=10)", service="lognormal(mean=6,sd=2)"),
        scaler=ScalerSpec.from_file(SCALEDOBJECT, keda_poll_phase_s=None, hpa_sync_phase_s=None),
        until_s=24 * 3600.0,
    )


def timed(**where: object) -> tuple[float, object]:
    start = time.perf_counter()
    table = sweep(scenario(), GRID, SEEDS, progress=False, **where)  # type: ignore[arg-type]
    return time.perf_counter() - start, table


def main() -> None:
    runs = SEEDS
    for values in GRID.values():
        runs *= len(values)
    local_s: list[float] = []
    cluster_s: list[float] = []
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        executor = client.get_executor()
        for _ in range(ROUNDS):
            seconds, local_table = timed(jobs=2)
            local_s.append(seconds)
            seconds, cluster_table = timed(jobs=2, executor=executor)
            cluster_s.append(seconds)
            if not cluster_table.equals(local_table):  # type: ignore[attr-defined]
                raise SystemExit("the cluster's table differs from the local one")
    for i in range(ROUNDS):
        print(f"round {i + 1}: local {local_s[i]:6.2f} s   cluster {cluster_s[i]:6.2f} s")
    local, remote = min(local_s), min(cluster_s)
    print(f"{runs} runs ({runs // SEEDS} settings x {SEEDS} seeds, one day each), best of {ROUNDS}")
    print(
        f"local {runs / local:.1f} runs/s ({local:.1f} s); "
        f"cluster/local time ratio = {remote / local:.2f}"
    )


if __name__ == "__main__":
    main()

"""Benchmark of the SimPy model (``python benchmarks/bench_sim.py``).

1. Scaling off, M/M/4 at rho 0.8, 200,000 arrivals: items per second of our model against Ciw on
   the same scenario in the same run (Ciw is a benchmark-only dependency).
2. Scaling on (the shipped ScaledObject), a day of three collections of 100 items: simulated
   items per second against the scaling-off figure, i.e. what the scaler costs per item.

The last line prints the ratios.
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import ciw  # noqa: E402

from sim import (  # noqa: E402
    Burst,
    FixedReplicas,
    PodSpec,
    Poisson,
    Repeat,
    ScalerSpec,
    Scenario,
    run,
)
from workbench.paths import SCALEDOBJECT  # noqa: E402

SERVERS = 4
RHO = 0.8
SERVICE_RATE = 1.0
ARRIVALS = 200_000
ARRIVAL_RATE = RHO * SERVERS * SERVICE_RATE
DAY_SEEDS = 40


def model_mm4(seed: int) -> tuple[float, float]:
    scenario = Scenario(
        arrivals=Poisson(ARRIVAL_RATE, count=ARRIVALS),
        pods=PodSpec(
            startup="constant(0)",
            service=f"exponential(mean={1 / SERVICE_RATE})",
            receive_batch_size=1,
            visibility_timeout_s=math.inf,
            pause_between_batches_s=0.0,
            pause_when_empty_s=0.0,
            max_deliveries=None,
        ),
        scaler=FixedReplicas(SERVERS),
        timeline_interval_s=60.0,
    )
    start = time.perf_counter()
    result = run(scenario, seed)
    elapsed = time.perf_counter() - start
    return elapsed, result.summary()["wait_mean_s"]


def ciw_mm4(seed: int) -> tuple[float, float]:
    network = ciw.create_network(
        arrival_distributions=[ciw.dists.Exponential(rate=ARRIVAL_RATE)],
        service_distributions=[ciw.dists.Exponential(rate=SERVICE_RATE)],
        number_of_servers=[SERVERS],
    )
    ciw.seed(seed)
    start = time.perf_counter()
    simulation = ciw.Simulation(network)
    simulation.simulate_until_max_customers(ARRIVALS, method="Arrive")
    elapsed = time.perf_counter() - start
    waits = [r.waiting_time for r in simulation.get_all_records()]
    return elapsed, sum(waits) / len(waits)


def scaling_day() -> tuple[float, int]:
    """Seconds for DAY_SEEDS days, and the items simulated."""
    scenario = Scenario(
        arrivals=Repeat(Burst(100, 0.0, rate_per_s=5.0), count=3, period_s=8 * 3600.0),
        pods=PodSpec(startup="lognormal(mean=30,sd=10)", service="lognormal(mean=6,sd=2)"),
        scaler=ScalerSpec.from_file(
            SCALEDOBJECT,
            keda_poll_phase_s=None,
            hpa_sync_phase_s=None,
        ),
        until_s=24 * 3600.0,
    )
    start = time.perf_counter()
    items = sum(len(run(scenario, seed).records.messages) for seed in range(DAY_SEEDS))
    return time.perf_counter() - start, items


def main() -> None:
    model_s, model_wait = model_mm4(seed=1)
    ciw_s, ciw_wait = ciw_mm4(seed=1)
    day_s, day_items = scaling_day()
    model_items = ARRIVALS / model_s
    ciw_items = ARRIVALS / ciw_s
    on_items = day_items / day_s
    print(f"M/M/{SERVERS} rho {RHO}, {ARRIVALS:,} arrivals (scaling off)")
    print(f"  model: {model_s:6.2f} s  {model_items:10,.0f} items/s  mean wait {model_wait:.3f} s")
    print(f"  ciw:   {ciw_s:6.2f} s  {ciw_items:10,.0f} items/s  mean wait {ciw_wait:.3f} s")
    print(f"scaling on: {DAY_SEEDS} days of 3 collections x 100 items, shipped ScaledObject")
    print(f"  {day_s:6.2f} s  {day_items:,} items  {on_items:,.0f} items/s")
    print(
        f"ratio model/ciw items_per_s = {model_items / ciw_items:.2f}; "
        f"scaler cost ratio (items/s on / off) = {on_items / model_items:.2f}"
    )


if __name__ == "__main__":
    main()

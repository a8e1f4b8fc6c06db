"""The KEDA simulation part of the report: the replay's arrivals of each mode through ``sim``."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from sim import (
    Distribution,
    PodSpec,
    ScalerSpec,
    Scenario,
    load_arrivals,
    parse_distribution,
    simulate,
)
from workbench.errors import WorkbenchError
from workbench.options import DEFAULT_SERVICE_TIME
from workbench.paths import SCALEDOBJECT


@dataclasses.dataclass(frozen=True)
class SimulationSettings:
    """The processor deployment the report simulates (our processor's defaults).

    ``service`` is the parsed distribution the replay's processors were given (``--service-time``),
    so the replay and the simulation cannot read one spec differently; a spec string is parsed
    here (a bad one is a ``ValueError`` naming it).
    """

    scaledobject: Path = SCALEDOBJECT
    service: Distribution = dataclasses.field(
        default_factory=lambda: parse_distribution(DEFAULT_SERVICE_TIME)
    )
    startup: Distribution = dataclasses.field(
        default_factory=lambda: parse_distribution("lognormal(mean=30,sd=10)")
    )
    concurrency: int = 4
    receive_batch_size: int = 4
    platform: str = "kubernetes"
    seeds: int = 5
    # Run even if the ScaledObject sets fields the model does not implement (listed in the output).
    ignore_unsupported: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "service", parse_distribution(self.service))
        object.__setattr__(self, "startup", parse_distribution(self.startup))


# (label, metric, unit, better) in the order the report shows them
SIM_ROWS: tuple[tuple[str, str, str, str], ...] = (
    ("Time to first replica ready", "time_to_first_replica_ready_s", "s", "lower"),
    ("Time to first item processed", "time_to_first_item_processed_s", "s", "lower"),
    ("End-to-end latency p50", "latency_p50_s", "s", "lower"),
    ("End-to-end latency p95", "latency_p95_s", "s", "lower"),
    ("End-to-end latency max", "latency_max_s", "s", "lower"),
    ("Makespan (last item processed)", "makespan_s", "s", "lower"),
    ("Peak queue depth", "peak_queue_depth", "", "lower"),
    ("Max replicas", "max_replicas", "", "lower"),
    ("Scale events", "scale_events", "", "lower"),
    ("Replica-seconds (cost)", "replica_seconds", "s", "lower"),
    ("Items per replica, coefficient of variation", "items_per_replica_cv", "", "lower"),
    ("Redeliveries", "redeliveries", "", "lower"),
)


def scaler_of(settings: SimulationSettings) -> ScalerSpec:
    """The ScaledObject the settings name, read for the model."""
    return ScalerSpec.from_file(
        settings.scaledobject,
        platform=settings.platform,  # type: ignore[arg-type]
        ignore_unsupported=settings.ignore_unsupported,
    )


def scenario(replay_json: Path, mode: str, settings: SimulationSettings) -> Scenario:
    """The scenario simulated for ``mode``: its replayed arrivals, the pods, the scaler."""
    pods = PodSpec(
        startup=settings.startup,
        service=settings.service,
        concurrency=settings.concurrency,
        receive_batch_size=settings.receive_batch_size,
        renew_visibility=True,
    )
    return Scenario(
        arrivals=load_arrivals(replay_json, mode), pods=pods, scaler=scaler_of(settings)
    )


def simulate_modes(
    replay_json: Path, modes: list[str], settings: SimulationSettings
) -> dict[str, Any]:
    """For each mode: mean and 95 % CI of every metric over ``settings.seeds`` seeds."""
    try:
        out: dict[str, Any] = {
            "settings": _settings_doc(settings),
            "ignored_fields": list(scaler_of(settings).ignored_fields),
            "modes": {},
        }
        for mode in modes:
            result = simulate(scenario(replay_json, mode, settings), settings.seeds)
            summary = result.summary
            out["modes"][mode] = {
                name: {
                    "mean": _num(row["mean"]),
                    "ci_low": _num(row["ci_low"]),
                    "ci_high": _num(row["ci_high"]),
                }
                for name, row in summary.iterrows()
            }
        return out
    except ValueError as exc:
        raise WorkbenchError(f"simulation: {exc}") from None


def _settings_doc(settings: SimulationSettings) -> dict[str, Any]:
    doc = dataclasses.asdict(settings)
    doc["scaledobject"] = str(settings.scaledobject)
    doc["service"] = str(settings.service)
    doc["startup"] = str(settings.startup)
    return doc


def _num(value: Any) -> float | None:
    value = float(value)
    return None if value != value else value  # NaN -> None for JSON

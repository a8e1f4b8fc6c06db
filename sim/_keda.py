"""KEDA's polling loop (0 <-> 1, activation, cooldown) and the HPA's sync loop (1 <-> N) as one
:class:`Controller` of a run; the replica arithmetic of a sync is :class:`sim._hpa.Hpa`."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import simpy

from sim._clock import HPA_PRIORITY, KEDA_PRIORITY, ProcessGenerator, Wake
from sim._control import Controller
from sim._hpa import Hpa

if TYPE_CHECKING:
    from sim._pods import Deployment
    from sim._queue import StorageQueue
    from sim._scaler import ScalerSpec


class KedaHpaScaler(Controller):
    """KEDA's polling loop (0 <-> 1, activation, cooldown) and the HPA sync loop (1 <-> N)."""

    def __init__(
        self,
        env: simpy.Environment,
        spec: ScalerSpec,
        queue: StorageQueue,
        deployment: Deployment,
        rng: np.random.Generator,
    ) -> None:
        super().__init__()
        self.env = env
        self.spec = spec
        self.queue = queue
        self.deployment = deployment
        self.hpa = Hpa(spec)
        self.last_active_at: float | None = None
        self.hpa_raw_desired = 0
        keda_phase = spec.keda_poll_phase_s
        hpa_phase = spec.hpa_sync_phase_s
        self.keda_phase = (
            float(rng.uniform(0, spec.polling_interval_s)) if keda_phase is None else keda_phase
        )
        self.hpa_phase = (
            float(rng.uniform(0, spec.hpa_sync_period_s)) if hpa_phase is None else hpa_phase
        )
        self.keda_phase_s, self.hpa_phase_s = self.keda_phase, self.hpa_phase
        env.process(self.keda_loop())
        env.process(self.hpa_loop())

    def metric(self) -> int:
        return self.queue.metric(self.spec.queue_length_strategy)

    def desired(self) -> int:
        return self.hpa_raw_desired

    def keda_loop(self) -> ProcessGenerator:
        env, queue, deployment = self.env, self.queue, self.deployment
        phase, interval = self.keda_phase, self.spec.polling_interval_s
        yield Wake(env, phase, KEDA_PRIORITY)
        k = 0
        while True:
            self.poll()
            k += 1
            if deployment.replicas == 0 and queue.undeleted == 0:
                # Idle: every poll would see count 0 and change nothing until a message arrives.
                # Skip to the first tick at or after the arrival (arrivals precede the poll).
                yield queue.wait_for_message()
                k = max(k, _ticks_before(env.now, phase, interval))
            yield Wake(env, phase + k * interval - env.now, KEDA_PRIORITY)

    def poll(self) -> None:
        spec, now = self.spec, self.env.now
        count = self.queue.metric(spec.queue_length_strategy)
        active = count > spec.activation_queue_length
        current = self.deployment.replicas
        if active:
            self.last_active_at = now
            if current == 0:
                self.deployment.scale_to(max(spec.min_replicas, 1), "keda")
        elif current > 0 and spec.min_replicas == 0 and self.last_active_at is not None:
            # KEDA keeps lastActiveTime in whole seconds and its poll runs a moment after the tick,
            # so `lastActive + cooldown < now` already holds at the poll at last-active + cooldown.
            # initialCooldownPeriod only holds off a step to zero before the first activity, and
            # before it the model's deployment is at zero (it starts at minReplicaCount).
            if math.floor(self.last_active_at) + spec.cooldown_period_s <= now:
                self.deployment.scale_to(0, "keda")
        elif current < spec.min_replicas:
            self.deployment.scale_to(spec.min_replicas, "keda")
        if not active and self.deployment.replicas == 0 and self.queue.next_expiry() is None:
            self.on_stuck()

    def hpa_loop(self) -> ProcessGenerator:
        env, spec, deployment = self.env, self.spec, self.deployment
        phase, period = self.hpa_phase, spec.hpa_sync_period_s
        yield Wake(env, phase, HPA_PRIORITY)
        k = 0
        while True:
            current = deployment.replicas
            if current > 0:
                total = self.queue.metric(spec.queue_length_strategy)
                self.hpa_raw_desired = math.ceil(total / spec.queue_length)
                desired = self.hpa.sync(env.now, current, total)
                if desired != current:
                    deployment.scale_to(desired, "hpa")
            k += 1
            if deployment.replicas == 0:
                # At zero the HPA does nothing (and records nothing) until KEDA scales 0 -> 1,
                # which it does after the HPA's sync of that instant: resume at the next tick.
                yield deployment.wait_for_replicas()
                k = max(k, _ticks_before(env.now, phase, period, inclusive=True))
            yield Wake(env, phase + k * period - env.now, HPA_PRIORITY)


def _ticks_before(now: float, phase: float, period: float, *, inclusive: bool = False) -> int:
    """The index of the first tick ``phase + k * period`` at or after ``now`` (after ``now`` when
    ``inclusive``, i.e. the tick at ``now`` already happened)."""
    k = max(0, math.ceil((now - phase) / period))
    while k > 0 and phase + (k - 1) * period >= now:
        k -= 1
    while phase + k * period < now or (inclusive and phase + k * period <= now):
        k += 1
    return k

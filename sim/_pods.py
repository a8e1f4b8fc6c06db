"""Processor pods and the deployment that holds them (the scale target)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import simpy
from simpy.events import Event

from sim._clock import ProcessGenerator
from sim._queue import StorageQueue
from sim._records import Delivery, PodRecord, RunRecords, ScaleEvent

if TYPE_CHECKING:
    from sim._scenario import Scenario

RESTART_BACKOFF_S = 10.0
RESTART_BACKOFF_MAX_S = 300.0
RESTART_BACKOFF_RESET_S = 600.0


class Pod:
    """A processor pod: startup, then ``concurrency`` receive/handle loops; restarts after idle exit."""

    def __init__(self, deployment: Deployment, record: PodRecord) -> None:
        self.deployment = deployment
        self.env = deployment.env
        self.spec = deployment.pod_spec
        self.queue = deployment.queue
        self.record = record
        self.ready = False
        self.ready_at: float | None = None
        self.removed = False
        self.busy = 0
        self.last_active = self.env.now
        self.held: list[Delivery] = []
        self.workers: list[simpy.Process] = []
        self.exited: Event | None = None
        self.uid = float(deployment.rng_pods.random())
        self.process = self.env.process(self.run())

    def run(self) -> ProcessGenerator:
        env = self.env
        dep = self.deployment
        backoff = 0.0
        try:
            while True:
                started = env.now
                yield env.timeout(dep.draw_startup() + backoff)
                self.ready = True
                self.ready_at = env.now
                self.last_active = env.now
                dep.on_ready(self)
                self.exited = env.event()
                self.workers = [env.process(self.worker()) for _ in range(self.spec.concurrency)]
                yield self.exited
                # The container exited when idle; the kubelet restarts it with a backoff.
                self.ready = False
                self.ready_at = None
                dep.on_not_ready(self)
                for proc in self.workers:
                    if proc.is_alive:
                        proc.interrupt("exit")
                self.record.restarts += 1
                ran = env.now - started
                if ran >= RESTART_BACKOFF_RESET_S or backoff == 0:
                    backoff = RESTART_BACKOFF_S
                else:
                    backoff = min(2 * backoff, RESTART_BACKOFF_MAX_S)
        except simpy.Interrupt:
            return

    def remove(self) -> None:
        now = self.env.now
        self.removed = True
        self.record.removed_at = now
        if self.process.is_alive:
            self.process.interrupt("removed")
        for proc in self.workers:
            if proc.is_alive:
                proc.interrupt("removed")
        for delivery in self.held:
            delivery.pod_removed_at = now
        if self.queue.renew:
            self.queue.release(self.held, now)
        self.held = []

    def worker(self) -> ProcessGenerator:
        env = self.env
        queue = self.queue
        spec = self.spec
        draw_service = self.deployment.draw_service
        batch = spec.receive_batch_size
        pause_empty = spec.pause_when_empty_s
        pause_batch = spec.pause_between_batches_s
        idle_exit = spec.exit_after_idle_s
        held = self.held
        record = self.record
        waiter: Event | None = None
        try:
            while True:
                deliveries = queue.receive(batch, self)
                if not deliveries:
                    if pause_empty > 0:
                        if (
                            idle_exit is not None
                            and self.busy == 0
                            and env.now - self.last_active >= idle_exit
                            and self.exited is not None
                            and not self.exited.triggered
                        ):
                            self.exited.succeed()
                            return
                        yield env.timeout(pause_empty)
                    else:
                        waiter = env.event()
                        queue.waiters.append(waiter)
                        expiry = queue.next_expiry()
                        if expiry is None:
                            yield waiter
                        else:
                            yield waiter | env.timeout(max(expiry - env.now, 0.0))
                            if not waiter.triggered:
                                queue.waiters.remove(waiter)
                        waiter = None
                    continue
                self.busy += 1
                held = self.held
                held.extend(deliveries)
                for delivery in deliveries:
                    delivery.started_at = env.now
                    yield env.timeout(draw_service())
                    now = env.now
                    delivery.finished_at = now
                    msg = delivery.message
                    if msg.finished_at is None:
                        msg.finished_at = now
                        msg.processed_by = record.pod_id
                    record.items += 1
                    delivery.deleted = queue.delete(delivery, now)
                    held.remove(delivery)
                self.busy -= 1
                self.last_active = env.now
                if pause_batch > 0:
                    yield env.timeout(pause_batch)
        except simpy.Interrupt:
            if waiter is not None and not waiter.triggered and waiter in queue.waiters:
                queue.waiters.remove(waiter)
            if waiter is not None and waiter.triggered:
                # This pod was woken for a message it will not take: pass the wake-up on.
                if queue.waiters and queue.visible:
                    queue.waiters.popleft().succeed()


class Deployment:
    """The scale target: non-terminating pods (ready or not), scale events and replica-seconds."""

    def __init__(
        self,
        env: simpy.Environment,
        scenario: Scenario,
        queue: StorageQueue,
        records: RunRecords,
        rngs: list[np.random.Generator],
    ) -> None:
        self.env = env
        self.pod_spec = scenario.pods
        self.queue = queue
        self.records = records
        self.pods: list[Pod] = []
        self.ready_count = 0
        self.draw_service = scenario.pods.service.sampler(rngs[0])
        self.draw_startup = scenario.pods.startup.sampler(rngs[1])
        self.rng_pods = rngs[2]
        self.replica_seconds = 0.0
        self._since = 0.0
        self.max_replicas = 0
        self.on_change: Callable[[], None] = lambda: None
        self._on_replicas: Event | None = None

    @property
    def replicas(self) -> int:
        return len(self.pods)

    def _accrue(self) -> None:
        now = self.env.now
        self.replica_seconds += len(self.pods) * (now - self._since)
        self._since = now

    def start_with(self, n: int) -> None:
        """The replicas that exist before the run starts (no scale event)."""
        self.scale_to(n, "initial", logged=False)

    def scale_to(self, n: int, by: str, *, logged: bool = True) -> None:
        current = len(self.pods)
        if n == current:
            return
        self._accrue()
        now = self.env.now
        if logged:
            self.records.scale_events.append(ScaleEvent(now, current, n, by))
        if n > current:
            for _ in range(n - current):
                record = PodRecord(len(self.records.pods) + 1, now)
                self.records.pods.append(record)
                self.pods.append(Pod(self, record))
        else:
            for pod in self._victims(current - n):
                self.pods.remove(pod)
                if pod.ready:
                    self.ready_count -= 1
                pod.remove()
        self.max_replicas = max(self.max_replicas, len(self.pods))
        if current == 0 and self._on_replicas is not None:
            self._on_replicas.succeed()
            self._on_replicas = None
        self.on_change()

    def wait_for_replicas(self) -> Event:
        """An event that succeeds when the deployment next scales up from zero."""
        if self._on_replicas is None:
            self._on_replicas = self.env.event()
        return self._on_replicas

    def _victims(self, k: int) -> list[Pod]:
        """Kubernetes ReplicaSet order: not ready first; then the most recently ready (log2 buckets
        of the ready age in ns, ties by random UID); restarts and creation time for the not-ready."""
        now = self.env.now

        def bucket(t: float) -> int:
            age_ns = (now - t) * 1e9
            return int(math.log2(age_ns)) if age_ns > 0 else -1

        def rank(pod: Pod) -> tuple[int, int, int, float]:
            if pod.ready and pod.ready_at is not None:
                return (1, bucket(pod.ready_at), 0, pod.uid)
            return (0, -pod.record.restarts, bucket(pod.record.created_at), pod.uid)

        return sorted(self.pods, key=rank)[:k]

    def on_ready(self, pod: Pod) -> None:
        self.ready_count += 1
        if pod.record.ready_at is None:
            pod.record.ready_at = self.env.now
        if self.records.first_ready_at is None:
            self.records.first_ready_at = self.env.now

    def on_not_ready(self, pod: Pod) -> None:
        self.ready_count -= 1

    def finish(self) -> None:
        self._accrue()

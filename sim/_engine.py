"""The SimPy model: a storage queue, processor pods, a deployment, and the KEDA + HPA loops.

Same-instant order (SimPy event priority): arrivals, then pods (ready, finish, receive), then the
HPA sync, then the KEDA poll, then the timeline sample. Controllers see the state after everything
else that happens at that instant.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Generator
from heapq import heappop, heappush
from typing import Any

import numpy as np
import simpy
from simpy.core import EventPriority
from simpy.events import Event

from sim._records import Delivery, Message, PodRecord, RunRecords, ScaleEvent, TimelineRow
from sim._scaler import Hpa, ScalerSpec
from sim._scenario import FixedReplicas, PodSpec, Scenario

ARRIVAL_PRIORITY = EventPriority(0)
HPA_PRIORITY = EventPriority(2)
KEDA_PRIORITY = EventPriority(3)
SAMPLE_PRIORITY = EventPriority(4)
VISIBLEONLY_PEEK = 32
RESTART_BACKOFF_S = 10.0
RESTART_BACKOFF_MAX_S = 300.0
RESTART_BACKOFF_RESET_S = 600.0

ProcessGenerator = Generator[Event, Any, None]


class _Wake(Event):
    """A timeout with an explicit priority among same-time events."""

    def __init__(self, env: simpy.Environment, delay: float, priority: EventPriority) -> None:
        super().__init__(env)
        self._ok = True
        self._value = None
        env.schedule(self, priority, delay)


class StorageQueue:
    """An Azure Storage Queue: visible FIFO, invisible (in-flight) messages with expiry, pop receipts."""

    def __init__(self, env: simpy.Environment, spec: PodSpec) -> None:
        self.env = env
        self.visibility_timeout_s = spec.visibility_timeout_s
        self.renew = spec.renew_visibility
        self.max_deliveries = spec.max_deliveries
        self.visible: deque[Message] = deque()
        self.expiry: list[tuple[float, int, Message, int]] = []
        self.undeleted = 0
        self.peak_depth = 0
        self.peak_visible = 0
        self.waiters: deque[Event] = deque()
        self.on_empty: Callable[[], None] = lambda: None
        self.poisoned = 0

    def expire(self, now: float) -> None:
        heap = self.expiry
        while heap and heap[0][0] <= now:
            t, _, msg, receipt = heappop(heap)
            if msg.deleted or msg.dequeue_count != receipt or msg.visible:
                continue
            msg.visible = True
            self.visible.append(msg)
            if self.waiters:
                self.waiters.popleft().succeed()
        if len(self.visible) > self.peak_visible:
            self.peak_visible = len(self.visible)

    def put(self, msg: Message) -> None:
        if self.expiry:
            self.expire(self.env.now)
        msg.visible = True
        self.visible.append(msg)
        self.undeleted += 1
        if self.undeleted > self.peak_depth:
            self.peak_depth = self.undeleted
        if len(self.visible) > self.peak_visible:
            self.peak_visible = len(self.visible)
        if self.waiters:
            self.waiters.popleft().succeed()

    def receive(self, n: int, pod: Pod) -> list[Delivery]:
        now = self.env.now
        if self.expiry:
            self.expire(now)
        out: list[Delivery] = []
        visible = self.visible
        while visible and len(out) < n:
            msg = visible.popleft()
            msg.visible = False
            if self.max_deliveries is not None and msg.dequeue_count >= self.max_deliveries:
                self._remove(msg, now)
                msg.poisoned = True
                self.poisoned += 1
                continue
            msg.dequeue_count += 1
            delivery = Delivery(msg, msg.dequeue_count, now, pod.record.pod_id)
            msg.deliveries.append(delivery)
            if not self.renew:
                until = now + self.visibility_timeout_s
                msg.invisible_until = until
                heappush(self.expiry, (until, msg.message_id, msg, msg.dequeue_count))
            out.append(delivery)
        return out

    def release(self, held: list[Delivery], now: float) -> None:
        """A removed pod stops renewing: its messages reappear one visibility timeout later."""
        for delivery in held:
            msg = delivery.message
            if not msg.deleted and msg.dequeue_count == delivery.n:
                until = now + self.visibility_timeout_s
                msg.invisible_until = until
                heappush(self.expiry, (until, msg.message_id, msg, delivery.n))

    def delete(self, delivery: Delivery, now: float) -> bool:
        """Delete with the delivery's pop receipt; fails once the message was received again."""
        msg = delivery.message
        if msg.deleted or msg.dequeue_count != delivery.n:
            return False
        if msg.visible:  # expired, not yet received again: the old receipt still works
            self.visible.remove(msg)
            msg.visible = False
        self._remove(msg, now)
        return True

    def _remove(self, msg: Message, now: float) -> None:
        msg.deleted = True
        msg.deleted_at = now
        self.undeleted -= 1
        if self.undeleted == 0:
            self.on_empty()

    def approximate_count(self) -> int:
        return self.undeleted

    def metric(self, strategy: str) -> int:
        """What the azure-queue scaler reports."""
        if strategy == "all":
            return self.undeleted
        if self.expiry:
            self.expire(self.env.now)
        n = len(self.visible)
        return self.undeleted if n >= VISIBLEONLY_PEEK else n

    def next_expiry(self) -> float | None:
        heap = self.expiry
        while heap:
            t, _, msg, receipt = heap[0]
            if msg.deleted or msg.dequeue_count != receipt or msg.visible:
                heappop(heap)
                continue
            return t
        return None


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
        self.scenario = scenario
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

    @property
    def replicas(self) -> int:
        return len(self.pods)

    def _accrue(self) -> None:
        now = self.env.now
        self.replica_seconds += len(self.pods) * (now - self._since)
        self._since = now

    def scale_to(self, n: int, by: str) -> None:
        current = len(self.pods)
        if n == current:
            return
        self._accrue()
        now = self.env.now
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
        self.on_change()

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


class KedaHpaScaler:
    """KEDA's polling loop (0 <-> 1, activation, cooldown) and the HPA sync loop (1 <-> N)."""

    def __init__(
        self,
        env: simpy.Environment,
        spec: ScalerSpec,
        queue: StorageQueue,
        deployment: Deployment,
        rng: np.random.Generator,
    ) -> None:
        self.env = env
        self.spec = spec
        self.queue = queue
        self.deployment = deployment
        self.hpa = Hpa(spec)
        self.last_active_at: float | None = None
        self.hpa_raw_desired = 0
        # Called when the deployment is at zero and nothing can wake it (arrivals over).
        self.on_stuck: Callable[[], None] = lambda: None
        keda_phase = spec.keda_poll_phase_s
        hpa_phase = spec.hpa_sync_phase_s
        self.keda_phase = (
            float(rng.uniform(0, spec.polling_interval_s)) if keda_phase is None else keda_phase
        )
        self.hpa_phase = (
            float(rng.uniform(0, spec.hpa_sync_period_s)) if hpa_phase is None else hpa_phase
        )
        env.process(self.keda_loop())
        env.process(self.hpa_loop())

    def keda_loop(self) -> ProcessGenerator:
        env, spec = self.env, self.spec
        yield _Wake(env, self.keda_phase, KEDA_PRIORITY)
        k = 0
        while True:
            self.poll()
            k += 1
            yield _Wake(env, self.keda_phase + k * spec.polling_interval_s - env.now, KEDA_PRIORITY)

    def poll(self) -> None:
        spec, now = self.spec, self.env.now
        count = self.queue.metric(spec.queue_length_strategy)
        active = count > spec.activation_queue_length
        current = self.deployment.replicas
        if active:
            self.last_active_at = now
            if current == 0:
                self.deployment.scale_to(max(spec.min_replicas, 1), "keda")
        elif current > 0 and spec.min_replicas == 0:
            cooled = (
                self.last_active_at is None or self.last_active_at + spec.cooldown_period_s < now
            )
            if cooled and spec.initial_cooldown_period_s < now:
                self.deployment.scale_to(0, "keda")
        elif current < spec.min_replicas:
            self.deployment.scale_to(spec.min_replicas, "keda")
        if not active and self.deployment.replicas == 0 and self.queue.next_expiry() is None:
            self.on_stuck()

    def hpa_loop(self) -> ProcessGenerator:
        env, spec = self.env, self.spec
        yield _Wake(env, self.hpa_phase, HPA_PRIORITY)
        k = 0
        while True:
            current = self.deployment.replicas
            total = self.queue.metric(spec.queue_length_strategy)
            if current > 0:
                self.hpa_raw_desired = math.ceil(total / spec.queue_length)
            desired = self.hpa.sync(env.now, current, total)
            if desired != current:
                self.deployment.scale_to(desired, "hpa")
            k += 1
            yield _Wake(env, self.hpa_phase + k * spec.hpa_sync_period_s - env.now, HPA_PRIORITY)


def run_once(scenario: Scenario, seed: int) -> RunRecords:
    """One replication of ``scenario`` with ``seed``; raw records (see ``sim.run`` for results)."""
    streams = np.random.SeedSequence(seed).spawn(5)
    rngs = [np.random.default_rng(s) for s in streams]
    env = simpy.Environment()
    records = RunRecords(seed=seed)
    queue = StorageQueue(env, scenario.pods)
    deployment = Deployment(env, scenario, queue, records, rngs[1:4])
    times = scenario.arrivals.times(rngs[0])
    messages = [Message(i, float(t)) for i, t in enumerate(times)]
    records.messages = messages
    done = env.event()
    state = {"arrivals_done": len(messages) == 0}
    min_replicas = scenario.min_replicas
    until = scenario.until_s

    def check_done() -> None:
        if (
            until is None
            and state["arrivals_done"]
            and queue.undeleted == 0
            and deployment.replicas == min_replicas
            and not done.triggered
        ):
            done.succeed()

    queue.on_empty = check_done
    deployment.on_change = check_done

    scaler: KedaHpaScaler | None = None
    if isinstance(scenario.scaler, FixedReplicas):
        deployment.scale_to(scenario.scaler.replicas, "fixed")
        records.scale_events.clear()
    else:
        scaler = KedaHpaScaler(env, scenario.scaler, queue, deployment, rngs[4])

        def stuck() -> None:
            # Below the activation threshold at zero replicas, with nothing left to arrive:
            # nothing will ever change, so the run ends here, incomplete.
            if until is None and state["arrivals_done"] and queue.undeleted and not done.triggered:
                records.complete = False
                done.succeed()

        scaler.on_stuck = stuck
        if scenario.scaler.min_replicas > 0:
            deployment.scale_to(scenario.scaler.min_replicas, "initial")
            records.scale_events.clear()

    def arrivals() -> ProcessGenerator:
        i, n = 0, len(messages)
        while i < n:
            t = messages[i].enqueued_at
            if t > env.now:
                yield _Wake(env, t - env.now, ARRIVAL_PRIORITY)
            while i < n and messages[i].enqueued_at <= env.now:
                queue.put(messages[i])
                i += 1
        state["arrivals_done"] = True
        check_done()

    def sampler() -> ProcessGenerator:
        k = 0
        interval = scenario.timeline_interval_s
        while True:
            if queue.expiry:
                queue.expire(env.now)
            visible = len(queue.visible)
            metric = queue.undeleted
            if scaler is not None:
                metric = queue.metric(scaler.spec.queue_length_strategy)
            records.timeline.append(
                TimelineRow(
                    env.now,
                    visible,
                    queue.undeleted - visible,
                    metric,
                    deployment.replicas,
                    deployment.ready_count,
                    scaler.hpa_raw_desired if scaler is not None else deployment.replicas,
                )
            )
            k += 1
            yield _Wake(env, k * interval - env.now, SAMPLE_PRIORITY)

    def stopper() -> ProcessGenerator:
        yield env.timeout(until if until is not None else scenario.max_time_s)
        if not done.triggered:
            records.complete = until is not None
            done.succeed()

    env.process(arrivals())
    env.process(sampler())
    env.process(stopper())
    records.complete = True
    check_done()
    env.run(until=done)
    # Events scheduled by the run (SimPy's event id counter), for throughput benchmarks.
    eid = getattr(env, "_eid", None)
    records.sim_events = next(eid) if eid is not None else 0
    deployment.finish()
    records.end_s = env.now
    records.replica_seconds = deployment.replica_seconds
    records.max_replicas = deployment.max_replicas
    records.peak_queue_depth = queue.peak_depth
    records.peak_visible = queue.peak_visible
    records.poisoned = queue.poisoned
    if scaler is not None:
        records.keda_phase_s = scaler.keda_phase
        records.hpa_phase_s = scaler.hpa_phase
    return records


__all__ = ["run_once"]

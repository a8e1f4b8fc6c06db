"""One replication: the queue, the deployment and the scaler's controller in one SimPy run.

The parts live in their own modules: ``_queue.py`` (the storage queue), ``_pods.py`` (pods and the
deployment), ``_control.py`` (the scaler interface), ``_keda.py`` / ``_hpa.py`` (KEDA and the HPA),
``_clock.py`` (the same-instant order).
"""

from __future__ import annotations

import numpy as np

from sim._clock import ARRIVAL_PRIORITY, SAMPLE_PRIORITY, Environment, ProcessGenerator, Wake
from sim._pods import Deployment
from sim._queue import StorageQueue
from sim._records import Message, RunRecords, TimelineRow
from sim._scenario import Scenario


def run_once(scenario: Scenario, seed: int) -> RunRecords:
    """One replication of ``scenario`` with ``seed``; raw records (see ``sim.run`` for results)."""
    streams = np.random.SeedSequence(seed).spawn(5)
    rngs = [np.random.default_rng(s) for s in streams]
    env = Environment()
    records = RunRecords(seed=seed)
    queue = StorageQueue(env, scenario.pods)
    deployment = Deployment(env, scenario, queue, records, rngs[1:4])
    times = scenario.arrivals.times(rngs[0])
    messages = [Message(i, float(t)) for i, t in enumerate(times)]
    records.messages = messages
    done = env.event()
    arrivals_done = len(messages) == 0
    min_replicas = scenario.scaler.min_replicas
    until = scenario.until_s

    def check_done() -> None:
        if (
            until is None
            and arrivals_done
            and queue.undeleted == 0
            and deployment.replicas == min_replicas
            and not done.triggered
        ):
            done.succeed()

    def stuck() -> None:
        # Below the activation threshold at zero replicas, with nothing left to arrive:
        # nothing will ever change, so the run ends here, incomplete.
        if until is None and arrivals_done and queue.undeleted and not done.triggered:
            records.complete = False
            done.succeed()

    queue.on_empty = check_done
    deployment.on_change = check_done
    controller = scenario.scaler.start(env, queue, deployment, rngs[4])
    controller.on_stuck = stuck

    def arrivals() -> ProcessGenerator:
        nonlocal arrivals_done
        i, n = 0, len(messages)
        while i < n:
            t = messages[i].enqueued_at
            if t > env.now:
                yield Wake(env, t - env.now, ARRIVAL_PRIORITY)
            while i < n and messages[i].enqueued_at <= env.now:
                queue.put(messages[i])
                i += 1
        arrivals_done = True
        check_done()

    def sampler(interval: float) -> ProcessGenerator:
        # Each row, t = 0 included, is taken after the controllers acted at that instant.
        yield Wake(env, 0.0, SAMPLE_PRIORITY)
        k = 0
        while True:
            if queue.expiry:
                queue.expire(env.now)
            visible = len(queue.visible)
            records.timeline.append(
                TimelineRow(
                    env.now,
                    visible,
                    queue.undeleted - visible,
                    controller.metric(),
                    deployment.replicas,
                    deployment.ready_count,
                    controller.desired(),
                )
            )
            k += 1
            yield Wake(env, k * interval - env.now, SAMPLE_PRIORITY)

    def stopper() -> ProcessGenerator:
        yield env.timeout(until if until is not None else scenario.max_time_s)
        if not done.triggered:
            records.complete = until is not None
            done.succeed()

    env.process(arrivals())
    if scenario.timeline_interval_s is not None:
        env.process(sampler(scenario.timeline_interval_s))
    env.process(stopper())
    records.complete = True
    check_done()
    env.run(until=done)
    deployment.finish()
    records.end_s = env.now
    records.replica_seconds = deployment.replica_seconds
    records.max_replicas = deployment.max_replicas
    records.peak_queue_depth = queue.peak_depth
    records.peak_visible = queue.peak_visible
    records.poisoned = queue.poisoned
    records.keda_phase_s = controller.keda_phase_s
    records.hpa_phase_s = controller.hpa_phase_s
    return records

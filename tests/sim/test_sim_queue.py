"""The model's storage queue call by call (sim/_queue.py): visibility, expiry, pop receipts,
release, poison and the peaks, against a bare SimPy environment."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import simpy

from sim import PodSpec
from sim._queue import StorageQueue
from sim._records import Message

POD: Any = SimpleNamespace(record=SimpleNamespace(pod_id=7))


def queue(**spec: Any) -> tuple[simpy.Environment, StorageQueue]:
    env = simpy.Environment()
    fields = {"visibility_timeout_s": 30.0, "renew_visibility": False, **spec}
    return env, StorageQueue(env, PodSpec(**fields))


def at(env: simpy.Environment, t: float) -> None:
    env.run(until=t)


def test_a_new_queue_is_empty_and_its_peaks_count_from_zero() -> None:
    env, q = queue()
    assert (q.undeleted, q.peak_depth, q.peak_visible, q.poisoned) == (0, 0, 0, 0)
    assert q.next_expiry() is None and q.on_empty() is None
    first, second = Message(0, 0.0), Message(1, 0.0)
    q.put(first)
    assert first.visible is True and (q.peak_depth, q.peak_visible) == (1, 1)
    q.put(second)
    [delivery] = q.receive(1, POD)
    assert delivery.message is first and first.visible is False
    assert (delivery.n, delivery.delivered_at, delivery.pod_id) == (1, 0.0, 7)
    assert (q.undeleted, q.peak_depth, q.peak_visible) == (2, 2, 2)


def test_an_unrenewed_message_reappears_after_its_timeout_and_its_old_receipt_fails() -> None:
    env, q = queue()
    message = Message(0, 0.0)
    q.put(message)
    [first] = q.receive(1, POD)
    assert q.next_expiry() == 30.0
    at(env, 29.9)
    assert q.metric("visibleonly") == 0 and message.visible is False
    at(env, 30.0)
    assert q.metric("visibleonly") == 1 and message.visible is True
    assert q.peak_visible == 1 and q.next_expiry() is None  # visible: no expiry pending
    [second] = q.receive(1, POD)
    assert second.n == 2 and message.dequeue_count == 2
    assert not q.delete(first, env.now)  # the old pop receipt no longer works
    assert q.delete(second, env.now) and message.deleted and q.undeleted == 0


def test_an_expired_message_can_still_be_deleted_with_its_receipt() -> None:
    env, q = queue()
    message = Message(0, 0.0)
    q.put(message)
    [delivery] = q.receive(1, POD)
    at(env, 31.0)
    assert q.metric("visibleonly") == 1
    emptied = []
    q.on_empty = lambda: emptied.append(env.now)
    assert q.delete(delivery, env.now)  # not received again: the receipt still holds
    assert message.visible is False and q.metric("visibleonly") == 0
    assert (message.deleted_at, emptied) == (31.0, [31.0])
    assert not q.delete(delivery, env.now)  # deleted once


def test_a_released_message_reappears_once_and_stale_entries_are_skipped() -> None:
    env, q = queue(renew_visibility=True)
    message, other = Message(0, 0.0), Message(1, 0.0)
    q.put(message)
    q.put(other)
    [held, held_other] = q.receive(2, POD)
    assert q.next_expiry() is None  # renewed: no expiry while held
    at(env, 10.0)
    q.release([held, held_other], env.now)
    q.delete(held_other, env.now)  # finished before its release took effect
    assert q.next_expiry() == 40.0
    at(env, 40.0)
    assert q.metric("visibleonly") == 1 and message.visible is True
    [again] = q.receive(1, POD)
    q.release([held], env.now)  # a stale delivery: its message was received again
    at(env, 100.0)
    assert q.metric("visibleonly") == 0 and q.next_expiry() is None
    q.release([again], env.now)
    assert q.next_expiry() == 130.0
    assert q.delete(again, env.now)
    q.release([again], env.now)  # deleted: nothing comes back
    assert q.next_expiry() is None


def test_a_stale_expiry_does_not_show_a_message_held_again() -> None:
    env, q = queue()
    message = Message(0, 0.0)
    q.put(message)
    [first] = q.receive(1, POD)
    at(env, 10.0)
    q.release([first], env.now)  # a second expiry entry for receipt 1, at 40
    at(env, 30.0)
    [second] = q.receive(1, POD)  # reappeared at 30, taken again (expires at 60)
    assert q.next_expiry() == 60.0  # past the stale entry of receipt 1 at 40
    at(env, 45.0)
    assert q.metric("visibleonly") == 0 and message.visible is False
    assert q.next_expiry() == 60.0


def test_the_delivery_past_the_limit_is_poisoned_and_the_next_message_delivered() -> None:
    env, q = queue(max_deliveries=1, visibility_timeout_s=5.0)
    bad, good = Message(0, 0.0), Message(1, 0.0)
    q.put(bad)
    q.receive(1, POD)
    at(env, 5.0)
    q.put(good)
    [delivery] = q.receive(2, POD)  # bad is poisoned on the way, good is delivered
    assert delivery.message is good
    assert bad.poisoned is True and bad.deleted and bad.deleted_at == 5.0
    assert (q.poisoned, q.undeleted) == (1, 1)
    unlimited = queue(max_deliveries=None, visibility_timeout_s=5.0)[1]
    kept = Message(0, 0.0)
    unlimited.put(kept)
    unlimited.receive(1, POD)
    unlimited.env.run(until=5.0)
    assert unlimited.receive(1, POD)[0].n == 2 and unlimited.poisoned == 0

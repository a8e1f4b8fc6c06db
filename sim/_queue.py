"""An Azure Storage Queue as the model sees it: a visible FIFO, in-flight messages that reappear
when their visibility timeout expires, pop receipts, the poison queue, and the scaler's metric."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from heapq import heappop, heappush
from typing import TYPE_CHECKING

import simpy
from simpy.events import Event

from sim._records import Delivery, Message

if TYPE_CHECKING:
    from sim._pods import Pod
    from sim._scenario import PodSpec

VISIBLEONLY_PEEK = 32


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
        self._on_message: Event | None = None

    def expire(self, now: float) -> None:
        heap = self.expiry
        while heap and heap[0][0] <= now:
            _, _, msg, receipt = heappop(heap)
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
        if self._on_message is not None:
            self._on_message.succeed()
            self._on_message = None
        if self.undeleted > self.peak_depth:
            self.peak_depth = self.undeleted
        if len(self.visible) > self.peak_visible:
            self.peak_visible = len(self.visible)
        if self.waiters:
            self.waiters.popleft().succeed()

    def wait_for_message(self) -> Event:
        """An event that succeeds at the next message put on the queue."""
        if self._on_message is None:
            self._on_message = self.env.event()
        return self._on_message

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
                heappush(self.expiry, (until, msg.message_id, msg, msg.dequeue_count))
            out.append(delivery)
        return out

    def release(self, held: list[Delivery], now: float) -> None:
        """A removed pod stops renewing: its messages reappear one visibility timeout later."""
        for delivery in held:
            msg = delivery.message
            if not msg.deleted and msg.dequeue_count == delivery.n:
                until = now + self.visibility_timeout_s
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

"""Raw records of one run: small slotted classes appended to lists (DataFrames only at the edge)."""

from __future__ import annotations

from dataclasses import dataclass, field


class Message:
    __slots__ = (
        "message_id",
        "enqueued_at",
        "dequeue_count",
        "visible",
        "deleted",
        "deleted_at",
        "finished_at",
        "processed_by",
        "poisoned",
        "deliveries",
    )

    def __init__(self, message_id: int, enqueued_at: float) -> None:
        self.message_id = message_id
        self.enqueued_at = enqueued_at
        self.dequeue_count = 0
        self.visible = False
        self.deleted = False
        self.deleted_at: float | None = None
        self.finished_at: float | None = None
        self.processed_by: int | None = None
        self.poisoned = False
        self.deliveries: list[Delivery] = []


class Delivery:
    """One receive of a message by a pod (``n`` is the dequeue count, i.e. the pop receipt)."""

    __slots__ = (
        "message",
        "n",
        "delivered_at",
        "pod_id",
        "started_at",
        "finished_at",
        "deleted",
        "pod_removed_at",
    )

    def __init__(self, message: Message, n: int, delivered_at: float, pod_id: int) -> None:
        self.message = message
        self.n = n
        self.delivered_at = delivered_at
        self.pod_id = pod_id
        self.started_at: float | None = None
        self.finished_at: float | None = None
        self.deleted = False
        self.pod_removed_at: float | None = None


@dataclass
class PodRecord:
    pod_id: int
    created_at: float
    ready_at: float | None = None
    removed_at: float | None = None
    items: int = 0
    restarts: int = 0


@dataclass(frozen=True)
class ScaleEvent:
    t: float
    from_replicas: int
    to_replicas: int
    by: str

    def as_dict(self) -> dict[str, float | int | str]:
        return {"t": self.t, "from": self.from_replicas, "to": self.to_replicas, "by": self.by}


@dataclass(frozen=True)
class TimelineRow:
    t: float
    visible: int
    in_flight: int
    metric: int
    replicas: int
    ready_replicas: int
    desired: int


@dataclass
class RunRecords:
    seed: int
    messages: list[Message] = field(default_factory=list)
    pods: list[PodRecord] = field(default_factory=list)
    scale_events: list[ScaleEvent] = field(default_factory=list)
    timeline: list[TimelineRow] = field(default_factory=list)
    first_ready_at: float | None = None
    complete: bool = True
    end_s: float = 0.0
    replica_seconds: float = 0.0
    max_replicas: int = 0
    peak_queue_depth: int = 0
    peak_visible: int = 0
    poisoned: int = 0
    keda_phase_s: float | None = None
    hpa_phase_s: float | None = None

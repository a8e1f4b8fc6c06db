"""Outcome records (one per delivery), counts by outcome, and the one-line log format."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from pipeline.storage import ReceivedMessage

OUTCOMES = ("processed", "duplicate", "poisoned", "invalid", "released")


@dataclass(frozen=True, slots=True)
class ProcessedRecord:
    """What happened to one delivery of one message. Times are ``clock.now()`` seconds."""

    queue_message_id: str  # the queue's id of the message
    item_id: str | None  # the v1 message's ``id``
    content_hash: str | None
    outcome: str  # processed | duplicate | poisoned | invalid | released
    dequeue_count: int
    started_at: float
    finished_at: float
    worker: str
    reason: str = ""  # why it was poisoned, found invalid or released
    work_s: float = 0.0  # the simulated work's handling time (recording seconds)
    mode: str | None = None  # batch | streaming, from the message
    source: str | None = None

    @classmethod
    def of(
        cls,
        message: ReceivedMessage,
        data: dict[str, Any] | None,
        outcome: str,
        *,
        started_at: float,
        finished_at: float,
        worker: str,
        reason: str = "",
        work_s: float = 0.0,
    ) -> ProcessedRecord:
        """The record of ``message``, with what could be decoded of it (``data``)."""
        data = data or {}

        def text(key: str) -> str | None:
            value = data.get(key)
            return value if isinstance(value, str) else None

        return cls(
            queue_message_id=message.id,
            item_id=text("id"),
            content_hash=text("content_hash"),
            outcome=outcome,
            dequeue_count=message.dequeue_count,
            started_at=started_at,
            finished_at=finished_at,
            worker=worker,
            reason=reason,
            work_s=work_s,
            mode=text("mode"),
            source=text("source"),
        )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(slots=True)
class ProcessorStats:
    """Counts by outcome, plus the storage errors retried and the visibility renewals made."""

    processed: int = 0
    duplicate: int = 0
    poisoned: int = 0
    invalid: int = 0
    released: int = 0
    storage_errors: int = 0
    visibility_renewals: int = 0
    batches_received: int = 0

    def count(self, outcome: str) -> None:
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {outcome!r}; expected one of {OUTCOMES}")
        setattr(self, outcome, getattr(self, outcome) + 1)

    @property
    def handled(self) -> int:
        """Deliveries that ended, whatever the outcome."""
        return sum(getattr(self, outcome) for outcome in OUTCOMES)

    def as_dict(self) -> dict[str, int]:
        return asdict(self)

    def __str__(self) -> str:
        return " ".join(f"{k}={v}" for k, v in self.as_dict().items())


def log_line(event: str, **fields: Any) -> str:
    """``event=x key=value ...``; values with spaces or quotes are quoted, None ones left out."""
    parts = [f"event={event}"]
    for key, value in fields.items():
        if value is None:
            continue
        text = f"{value:.3f}" if isinstance(value, float) else str(value)
        if not text or any(c.isspace() or c in '"=' for c in text):
            text = json.dumps(text, ensure_ascii=False)
        parts.append(f"{key}={text}")
    return " ".join(parts)


def message_line(event: str, worker: str, message: ReceivedMessage, **fields: Any) -> str:
    """``log_line`` for an event about one message held by ``worker``."""
    return log_line(
        event,
        worker=worker,
        queue_message_id=message.id,
        dequeue_count=message.dequeue_count,
        **fields,
    )

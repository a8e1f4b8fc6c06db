"""How processor instances work: one frozen ``ProcessorSettings`` shared by every instance of a
deployment, and the ``Work`` hook each instance may be handed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pipeline.storage import MAX_RECEIVE_BATCH

DEFAULT_QUEUE = "content-processing-requests"
DEFAULT_POISON_QUEUE = "content-processing-requests-poison"
DEFAULT_RESULTS_CONTAINER = "processed-content"
DEFAULT_COLLECTED_CONTAINER = "collected-content"  # the collector's container, claims included
# The largest claim blob read: an item's text is capped by the collector (``max_item_chars``)
# and JSON escaping at most sextuples it; a larger claim is not one of ours.
DEFAULT_MAX_CLAIM_BYTES = 32 * 1024 * 1024

Work = Callable[[], float]
"""Simulated work: called once per item processed, returns the recording seconds the item's
whole handling should take (the real work counts inside it; the processor sleeps the rest)."""


@dataclass(frozen=True, slots=True)
class ProcessorSettings:
    """Queue, results and loop settings. ``visibility_timeout_s`` is wall seconds (the queue
    service keeps it); ``empty_pause_s`` and ``idle_exit_s`` are recording seconds."""

    queue_name: str = DEFAULT_QUEUE
    poison_queue_name: str = DEFAULT_POISON_QUEUE
    results_container: str = DEFAULT_RESULTS_CONTAINER
    claims_container: str = DEFAULT_COLLECTED_CONTAINER  # claim checks may point here only
    max_claim_bytes: int = DEFAULT_MAX_CLAIM_BYTES  # a larger claim blob is poisoned
    concurrency: int = 1  # messages worked on at once
    batch_size: int = MAX_RECEIVE_BATCH  # messages per receive (the service allows 32 at most)
    visibility_timeout_s: int = 60
    max_deliveries: int = 5  # a later delivery goes to the poison queue
    empty_pause_s: float = 1.0  # pause after an empty receive
    idle_exit_s: float | None = None  # stop after this long with nothing to do; None: never

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise ValueError(f"concurrency must be >= 1, got {self.concurrency}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        if int(self.visibility_timeout_s) != self.visibility_timeout_s or (
            self.visibility_timeout_s < 1
        ):
            raise ValueError(
                f"visibility_timeout_s must be a whole number of seconds >= 1, "
                f"got {self.visibility_timeout_s}"
            )
        if self.max_claim_bytes < 1:
            raise ValueError(f"max_claim_bytes must be >= 1, got {self.max_claim_bytes}")
        if self.max_deliveries < 1:
            raise ValueError(f"max_deliveries must be >= 1, got {self.max_deliveries}")
        if not self.empty_pause_s >= 0:
            raise ValueError(f"empty_pause_s must be >= 0, got {self.empty_pause_s}")
        if self.idle_exit_s is not None and not self.idle_exit_s >= 0:
            raise ValueError(f"idle_exit_s must be >= 0 or None, got {self.idle_exit_s}")

    @property
    def receive_batch_size(self) -> int:
        return min(self.batch_size, MAX_RECEIVE_BATCH)

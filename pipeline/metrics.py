"""A collection run's metrics and its arrival shape (definitions: ``docs/metrics.md``).

A run counts as it goes in a ``RunTally`` (items collected and skipped per source, one
``MessageRecord`` per message queued); ``RunTally.metrics`` turns the tally into ``RunMetrics``
once the run is over. All times are recording seconds from the start of the run.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pipeline.items import KEY_KINDS
from pipeline.sources import SourceStats

__all__ = ["MessageRecord", "RunMetrics", "RunTally", "arrival_shape"]


@dataclasses.dataclass(frozen=True, slots=True)
class MessageRecord:
    """One message the run put on the queue."""

    item_id: str  # the v1 message's ``id``
    queue_message_id: str  # the id the queue gave the message
    content_hash: str
    processing_key: str  # what the processor is processed once by (``ContentItem.processing_key``)
    source: str
    source_name: str
    mode: str
    enqueued_at: float  # recording seconds from the start of the run


@dataclasses.dataclass
class RunMetrics:
    """The collector side of ``docs/metrics.md``; times in recording seconds from the run's
    start."""

    mode: str
    collection_id: str
    collection_blob: str
    started_at: str
    time_to_first_item_queued_seconds: float | None
    time_to_last_item_queued_seconds: float | None
    collection_seconds: float
    items_collected: int
    items_queued: int
    duplicates_skipped: int
    deduplication_hit_rate: float
    throughput_items_per_second: float
    peak_enqueue_rate_10s: float
    gap_cv: float | None
    claim_checks: int
    history_keys_loaded: int
    history_load_wall_seconds: float
    per_source: dict[str, dict[str, Any]]
    errors: dict[str, dict[str, int]]
    rejections: dict[str, int]
    messages: list[MessageRecord]
    first_item_limit_seconds: float | None = None
    # Duplicates by the kind of key that matched (id, link, text; the first in that order).
    duplicates_by_key: dict[str, int] = dataclasses.field(
        default_factory=lambda: dict.fromkeys(KEY_KINDS, 0)
    )

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["messages"] = [dataclasses.asdict(m) for m in self.messages]
        return data


def arrival_shape(times: Sequence[float], window_s: float = 10.0) -> tuple[float, float | None]:
    """(peak enqueue rate over any ``window_s`` window in items/s, CV of the gaps)."""
    ordered = sorted(times)
    peak = 0
    start = 0
    for end, t in enumerate(ordered):
        while t - ordered[start] > window_s:
            start += 1
        peak = max(peak, end - start + 1)
    gaps = [b - a for a, b in zip(ordered, ordered[1:], strict=False)]
    cv = None
    if len(gaps) >= 2:
        mean = statistics.fmean(gaps)
        cv = statistics.pstdev(gaps) / mean if mean > 0 else math.inf
    return peak / window_s, cv


@dataclasses.dataclass
class RunTally:
    """What a run counts while it goes, per source name (in the sources' order)."""

    modes: dict[str, str]  # source name -> batch | streaming
    stats: dict[str, SourceStats]  # source name -> what its collector counted
    collected: Counter[str] = dataclasses.field(default_factory=Counter)
    duplicates: Counter[str] = dataclasses.field(default_factory=Counter)
    # source name -> key kind -> duplicates that matched on it first
    duplicates_by_key: dict[str, Counter[str]] = dataclasses.field(default_factory=dict)
    records: list[MessageRecord] = dataclasses.field(default_factory=list)
    claim_checks: int = 0

    def count_duplicate(self, source_name: str, key_kind: str) -> None:
        """One duplicate of ``source_name`` that matched first on a key of ``key_kind``."""
        self.duplicates[source_name] += 1
        self.duplicates_by_key.setdefault(source_name, Counter())[key_kind] += 1

    def by_key(self, source_name: str | None = None) -> dict[str, int]:
        """Duplicates by key kind, of one source or (``None``) of the run, every kind listed."""
        names = self.duplicates_by_key if source_name is None else [source_name]
        counts: Counter[str] = Counter()
        for name in names:
            counts.update(self.duplicates_by_key.get(name, Counter()))
        return {kind: counts[kind] for kind in KEY_KINDS}

    def run_mode(self) -> str:
        """The mode of every source, or ``mixed``."""
        modes = set(self.modes.values())
        return modes.pop() if len(modes) == 1 else "mixed"

    def metrics(
        self,
        *,
        collection_id: str,
        collection_blob: str,
        started_at: datetime,
        elapsed_s: float,
        history_keys_loaded: int,
        history_load_wall_seconds: float,
    ) -> RunMetrics:
        """The run's metrics; ``elapsed_s`` is the run's length on its timeline."""
        records = self.records
        times = [r.enqueued_at for r in records]
        first = min(times) if times else None
        last = max(times) if times else None
        collected = sum(self.collected.values())
        dups = sum(self.duplicates.values())
        peak, cv = arrival_shape(times)
        per_source: dict[str, dict[str, Any]] = {}
        queued_by_source = Counter(r.source_name for r in records)
        for name, stats in self.stats.items():
            source_times = [r.enqueued_at for r in records if r.source_name == name]
            source_last = max(source_times) if source_times else None
            per_source[name] = {
                "type": stats.type,
                "mode": self.modes[name],
                "items_collected": self.collected[name],
                "items_queued": queued_by_source[name],
                "duplicates_skipped": self.duplicates[name],
                "duplicates_by_key": self.by_key(name),
                "time_to_first_item_queued_seconds": min(source_times) if source_times else None,
                "throughput_items_per_second": (
                    queued_by_source[name] / source_last if source_last else 0.0
                ),
                "collector": stats.to_dict(),
            }
        errors = {name: dict(s.errors) for name, s in self.stats.items() if s.errors}
        rejections: Counter[str] = Counter()
        for s in self.stats.values():
            rejections.update(s.rejections)
        return RunMetrics(
            mode=self.run_mode(),
            collection_id=collection_id,
            collection_blob=collection_blob,
            started_at=started_at.isoformat(),
            time_to_first_item_queued_seconds=first,
            time_to_last_item_queued_seconds=last,
            collection_seconds=elapsed_s,
            items_collected=collected,
            items_queued=len(records),
            duplicates_skipped=dups,
            deduplication_hit_rate=dups / collected if collected else 0.0,
            throughput_items_per_second=len(times) / last if last else 0.0,
            peak_enqueue_rate_10s=peak,
            gap_cv=cv,
            claim_checks=self.claim_checks,
            history_keys_loaded=history_keys_loaded,
            history_load_wall_seconds=history_load_wall_seconds,
            per_source=per_source,
            errors=errors,
            rejections=dict(rejections),
            messages=sorted(records, key=lambda r: r.enqueued_at),
            duplicates_by_key=self.by_key(),
        )

"""Per-source counters of one collection run."""

from __future__ import annotations

import dataclasses
from collections import Counter
from typing import Any

ERROR_KINDS = ("timeout", "http_status", "parse", "too_large", "connect", "throttled", "hostile")
# Counted in ``warnings``: a feed parsed with problems but with entries (bozo), a clean feed
# with no entries (empty), an item cut to ``max_item_chars`` (truncated).
WARNING_KINDS = ("bozo", "empty", "truncated")


@dataclasses.dataclass
class SourceStats:
    """What one source did in one run. Times are clock seconds from the start of the run."""

    name: str
    type: str
    requests: int = 0
    status_codes: Counter[int] = dataclasses.field(default_factory=Counter)
    accepted: int = 0
    rejections: Counter[str] = dataclasses.field(default_factory=Counter)
    errors: Counter[str] = dataclasses.field(default_factory=Counter)
    warnings: Counter[str] = dataclasses.field(default_factory=Counter)
    retries: int = 0
    pages: int = 0
    bytes_received: int = 0
    first_accepted_at: float | None = None
    last_accepted_at: float | None = None
    last_error: str | None = None

    def reject(self, reason: str) -> None:
        self.rejections[reason] += 1

    def error(self, kind: str, message: str) -> None:
        self.errors[kind] += 1
        self.last_error = message

    def accept(self, at: float) -> None:
        self.accepted += 1
        if self.first_accepted_at is None:
            self.first_accepted_at = at
        self.last_accepted_at = at

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "requests": self.requests,
            "status_codes": {str(k): v for k, v in sorted(self.status_codes.items())},
            "accepted": self.accepted,
            "rejections": dict(sorted(self.rejections.items())),
            "errors": dict(sorted(self.errors.items())),
            "warnings": dict(sorted(self.warnings.items())),
            "retries": self.retries,
            "pages": self.pages,
            "bytes_received": self.bytes_received,
            "first_accepted_at": self.first_accepted_at,
            "last_accepted_at": self.last_accepted_at,
            "last_error": self.last_error,
        }

"""What every collector shares: criteria checks and timestamps."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pipeline.config import Criteria


def criteria_rejection(criteria: Criteria, title: str, body: str) -> str | None:
    """The reason an item fails the configured criteria, or None."""
    if len(title.strip()) < criteria.min_title_chars:
        return "title_too_short"
    if len(body.strip()) < criteria.min_body_chars:
        return "body_too_short"
    return None


def from_timestamp(value: Any) -> datetime | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return datetime.fromtimestamp(float(value), UTC)


def from_iso(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)

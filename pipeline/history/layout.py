"""Blob names of the history index and of collections, and the times they carry.

Index buckets: ``<prefix>YYYY/MM/DD/HH.jsonl``, one append blob per hour of the items' times
(overflow parts ``HH.1.jsonl``, ``HH.2.jsonl``, ... once a blob is full). Collections:
``collections/YYYY/MM/DD/HHMMSS-<collection_id>.jsonl`` (``pipeline.messages``), named by
the run's start. Both are grouped by day, so a window is a handful of day prefixes to list.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from pipeline.history.window import floor_hour, utc
from pipeline.messages import COLLECTIONS_PREFIX

__all__ = [
    "HISTORY_PREFIX",
    "bucket_hour",
    "bucket_name",
    "collection_started_at",
    "day_path",
]

HISTORY_PREFIX = "history/"
_BUCKET_RE = re.compile(r"(\d{4})/(\d{2})/(\d{2})/(\d{2})(?:\.(\d+))?\.jsonl")
_COLLECTION_RE = re.compile(r"(\d{4})/(\d{2})/(\d{2})/(\d{2})(\d{2})(\d{2})-[^/]*\.jsonl")


def day_path(day: datetime) -> str:
    """``YYYY/MM/DD/``: the part of a name that every blob of that day shares after its prefix."""
    return f"{day:%Y/%m/%d}/"


def bucket_name(prefix: str, hour: datetime, part: int = 0) -> str:
    """``<prefix>YYYY/MM/DD/HH.jsonl`` for the hour holding ``hour`` (``HH.<part>.jsonl`` for
    an overflow part)."""
    start = floor_hour(utc(hour))
    suffix = f".{part}" if part else ""
    return f"{prefix}{start:%Y/%m/%d/%H}{suffix}.jsonl"


def bucket_hour(prefix: str, name: str) -> datetime | None:
    """The hour an index bucket covers, or None for a name outside the layout."""
    if not name.startswith(prefix):
        return None
    match = _BUCKET_RE.fullmatch(name[len(prefix) :])
    if match is None:
        return None
    year, month, day, hour = (int(g) for g in match.groups()[:4])
    try:
        return datetime(year, month, day, hour, tzinfo=UTC)
    except ValueError:
        return None


def collection_started_at(name: str, prefix: str = COLLECTIONS_PREFIX) -> datetime | None:
    """The start time in a collection blob's name
    (``collections/YYYY/MM/DD/HHMMSS-<id>.jsonl``), or None for another name."""
    if not name.startswith(prefix):
        return None
    match = _COLLECTION_RE.fullmatch(name[len(prefix) :])
    if match is None:
        return None
    try:
        year, month, day, hour, minute, second = (int(g) for g in match.groups())
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError:
        return None

"""What every collector shares: criteria checks, timestamps, poll text, server errors."""

from __future__ import annotations

import json
from collections.abc import Sequence
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


def options_text(options: Sequence[str]) -> str:
    """A poll's options as lines of the body (``- option``); empty without options."""
    return "\n".join(f"- {option}" for option in options if option)


MAX_SERVER_ERROR_CHARS = 200


def server_error_text(body: bytes) -> str:
    """What a JSON error body says, as `` (server: ...)``, or "" when it says nothing.

    Mastodon answers ``{"error": "Record not found"}`` (OAuth errors add
    ``error_description``); Reddit ``{"message": "Forbidden", "error": 403, "reason":
    "private"}``. One line, at most ``MAX_SERVER_ERROR_CHARS`` characters.
    """
    if not body or len(body) > 65_536 or body.lstrip()[:1] != b"{":
        return ""
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return ""
    if not isinstance(doc, dict):
        return ""
    said = [
        doc[key]
        for key in ("error", "error_description", "message", "reason")
        if isinstance(doc.get(key), str) and doc[key].strip()
    ]
    text = " ".join(" - ".join(said).split())
    if len(text) > MAX_SERVER_ERROR_CHARS:
        text = text[: MAX_SERVER_ERROR_CHARS - 1] + "…"
    return f" (server: {text})" if text else ""

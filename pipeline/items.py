"""Content items and the keys that make two items the same (PRODUCT.md section 4).

An item is a duplicate when any of its keys was seen before: its source id, its
canonical link, or the hash of its normalized title and body.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import unicodedata
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

SourceType = Literal["reddit", "rss", "mastodon"]
SOURCE_TYPES: tuple[str, ...] = ("reddit", "rss", "mastodon")

_URL_RE = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_WS_RE = re.compile(r"\s+")
# Query parameters that only track where a click came from; dropping them keeps the story.
_TRACKING_PARAMS = frozenset(
    {"fbclid", "gclid", "dclid", "mc_cid", "mc_eid", "igshid", "ref", "ref_src", "ref_url", "si"}
)


def normalize_text(text: str) -> str:
    """NFKC, casefold, URLs removed, whitespace collapsed (the hash's input)."""
    text = unicodedata.normalize("NFKC", text)
    text = _URL_RE.sub(" ", text)
    text = text.casefold()
    return _WS_RE.sub(" ", text).strip()


def content_hash(title: str, body: str) -> str:
    """SHA-256 hex of the normalized title and body, separated so that they cannot run together."""
    joined = normalize_text(title) + "\n" + normalize_text(body)
    return hashlib.sha256(joined.encode("utf-8")).hexdigest()


def canonical_url(url: str) -> str:
    """Scheme and host lowercased, default port, fragment and tracking parameters dropped."""
    url = url.strip()
    if not url:
        return ""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    port = parts.port
    if port and not ((scheme == "http" and port == 80) or (scheme == "https" and port == 443)):
        host = f"{host}:{port}"
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not k.lower().startswith("utm_") and k.lower() not in _TRACKING_PARAMS
    ]
    path = parts.path or "/"
    return urlunsplit((scheme, host, path, urlencode(query), ""))


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclasses.dataclass(frozen=True, slots=True)
class ContentItem:
    """One collected post, whatever platform it came from."""

    source: str  # reddit | rss | mastodon
    source_name: str  # the entry's name in sources.yaml
    source_id: str
    url: str
    title: str
    body: str
    author: str
    published_at: datetime
    collected_at: datetime
    content_hash: str
    metadata: dict[str, Any] = dataclasses.field(default_factory=dict)

    @classmethod
    def create(
        cls,
        *,
        source: str,
        source_name: str,
        source_id: str,
        url: str,
        title: str,
        body: str,
        author: str,
        published_at: datetime,
        collected_at: datetime | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> ContentItem:
        """Build an item, computing its content hash and making times UTC."""
        if source not in SOURCE_TYPES:
            raise ValueError(f"unknown source type {source!r}; expected one of {SOURCE_TYPES}")
        return cls(
            source=source,
            source_name=source_name,
            source_id=source_id,
            url=url,
            title=title,
            body=body,
            author=author,
            published_at=_as_utc(published_at),
            collected_at=_as_utc(collected_at or utcnow()),
            content_hash=content_hash(title, body),
            metadata=dict(metadata or {}),
        )

    @property
    def canonical_url(self) -> str:
        return canonical_url(self.url)

    def dedup_keys(self) -> tuple[str, ...]:
        """The keys under which this item counts as seen: id, link and text."""
        keys = [f"id:{self.source}:{self.source_id}", f"hash:{self.content_hash}"]
        link = self.canonical_url
        if link:
            keys.append(f"url:{link}")
        return tuple(keys)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (times as ISO 8601); a shallow copy, cheap on the hot path."""
        data = {f.name: getattr(self, f.name) for f in _FIELDS}
        data["published_at"] = self.published_at.isoformat()
        data["collected_at"] = self.collected_at.isoformat()
        data["metadata"] = dict(self.metadata)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ContentItem:
        fields = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in fields}
        values["published_at"] = _as_utc(datetime.fromisoformat(values["published_at"]))
        values["collected_at"] = _as_utc(datetime.fromisoformat(values["collected_at"]))
        values.setdefault("metadata", {})
        return cls(**values)


_FIELDS = dataclasses.fields(ContentItem)


def _as_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)

"""Content items and the keys that make two items the same (docs/contracts.md).

An item is a duplicate when any of its keys was seen before: its source id, its canonical
link, or the hash of its normalized title and body when that text is long enough to identify
a post. The rules, with examples, are in ``docs/dedup.md``.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import re
import unicodedata
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import SplitResult, parse_qsl, urlencode, urlsplit, urlunsplit

SourceType = Literal["reddit", "rss", "mastodon"]
SOURCE_TYPES: tuple[str, ...] = ("reddit", "rss", "mastodon")

KeyKind = Literal["id", "link", "text"]

DIGEST_CHARS = 16  # the length (ASCII bytes) of every digest ``key_digest`` returns
_DIGEST_BYTES = 12  # a multiple of 3: base64 without padding
# The kinds of dedup key, in the order ``dedup_keys`` lists them: a duplicate that matches
# several keys counts under the first of them (the same post, then the same story, then the
# same words).
KEY_KINDS: tuple[KeyKind, ...] = ("id", "link", "text")
_KIND_OF_PREFIX: dict[str, KeyKind] = {"id": "id", "url": "link", "hash": "text"}

# The content hash is a key only when title + body hold at least this many words: fewer
# (a title such as "How?" or "Weekly thread") can be written by anyone about anything.
MIN_TEXT_KEY_WORDS = 12

_URL_RE = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_WS_RE = re.compile(r"\s+")
# A word: a run of letters and digits; in Chinese and Japanese, which do not space words,
# each Han or kana character counts as one.
_NO_SPACE_SCRIPTS = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_WORD_RE = re.compile(f"[{_NO_SPACE_SCRIPTS}]|[^\\W_{_NO_SPACE_SCRIPTS}]+")
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


def text_words(title: str, body: str, limit: int | None = None) -> int:
    """The number of words in the normalized title and body, counting stops at ``limit``.

    A title that only repeats the start of the body (a Mastodon status's first line) is not
    counted again."""
    count = 0
    title, body = normalize_text(title), normalize_text(body)
    repeats = body.startswith(title) and body[len(title) : len(title) + 1] in ("", " ")
    for text in (body,) if title and repeats else (title, body):
        for _ in _WORD_RE.finditer(text):
            count += 1
            if limit is not None and count >= limit:
                return count
    return count


def text_identifies_post(title: str, body: str) -> bool:
    """Whether the text is long enough (``MIN_TEXT_KEY_WORDS``) for its hash to be a key."""
    return text_words(title, body, limit=MIN_TEXT_KEY_WORDS) >= MIN_TEXT_KEY_WORDS


def processing_key(
    content_hash: str, title: str, body: str, source: str, source_id: str, url: str
) -> str:
    """What the processor is idempotent by, following the dedup keys: the content hash when the
    text identifies a post (the same long text is the same work, whatever its id); else the
    story it links to (``url-`` and a SHA-256 of its link key: the same story posted on Reddit
    and in a feed is one item, as dedup says); else the post itself (``id-`` and a SHA-256 of
    source and source id). Two distinct short posts ("How?") linking different things are both
    processed; one post delivered twice is processed once."""
    if text_identifies_post(title, body):
        return content_hash
    return _key_of_post(canonical_url(url, source_id), source, source_id)


def _key_of_post(link: str, source: str, source_id: str) -> str:
    """The processing key of a post whose text does not identify it: its link, else itself."""
    if link:
        return "url-" + hashlib.sha256(link.encode()).hexdigest()
    return "id-" + hashlib.sha256(f"{source}\n{source_id}".encode()).hexdigest()


# Fragments that point into a page, not at an item on it: comment sections and forms, "read
# more" jumps, skip links and layout landmarks (WordPress, Blogger, Ghost, Disqus, themes).
_IN_PAGE_ANCHORS = frozenset(
    {
        "add-comment", "article", "body", "comment-form", "commentform", "comments",
        "comments-section", "content", "continue", "continue-reading", "discussion",
        "disqus_thread", "footer", "header", "jump", "leave-a-comment", "main",
        "main-content", "maincontent", "more", "nav", "page", "primary", "read-more",
        "readmore", "replies", "reply", "respond", "site-content", "start", "top",
    }
)  # fmt: skip
# WordPress's "more" jump (#more-123), Tynt's copy tracker (#ixzz4Ab), text fragments (#:~:text=).
_IN_PAGE_FRAGMENT_RE = re.compile(r"more-\d+|ixzz[0-9a-z]+|:~:.*", re.IGNORECASE)
# Tracking in the fragment (#xtor=RSS-3, #utm_source=feed): dropped like the same query parameters.
_TRACKING_FRAGMENT_PARAMS = _TRACKING_PARAMS | {"xtor", "at_medium", "at_campaign"}


def _is_tracking(key: str, params: frozenset[str]) -> bool:
    key = key.lower()
    return key.startswith("utm_") or key in params


def _fragment_points_into_page(fragment: str) -> bool:
    """True for a fragment that only points into a page or tracks a click (dropped)."""
    if fragment.lower() in _IN_PAGE_ANCHORS or _IN_PAGE_FRAGMENT_RE.fullmatch(fragment):
        return True
    if "=" not in fragment:
        return False
    params = parse_qsl(fragment, keep_blank_values=True)
    return bool(params) and all(_is_tracking(k, _TRACKING_FRAGMENT_PARAMS) for k, _ in params)


def canonical_url(url: str, item_id: str = "") -> str:
    """The link key of ``url``: scheme and host lowercased, default port and tracking
    parameters dropped, and the fragment kept only when it addresses the item.

    The fragment is dropped when it only points into a page (``#comments``, ``#more-42``, a
    text fragment, a tracking fragment) or when ``item_id``, the item's own id, is the link's
    page without any fragment (the item is the page). Otherwise it is kept: items of a day
    page (``/2017/06/26.html#a080605``) are told apart by it. See ``docs/dedup.md``."""
    url = url.strip()
    if not url:
        return ""
    parts = urlsplit(url)
    page = _canonical_page(parts)
    fragment = parts.fragment
    if not fragment or _fragment_points_into_page(fragment):
        return page
    id_parts = urlsplit(item_id.strip())
    if id_parts.scheme.lower() in ("http", "https") and not id_parts.fragment:
        if _canonical_page(id_parts) == page:
            return page  # the item's id names the page: the fragment only points into it
    return f"{page}#{fragment}"


def _canonical_page(parts: SplitResult) -> str:
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    port = parts.port
    if port and not ((scheme == "http" and port == 80) or (scheme == "https" and port == 443)):
        host = f"{host}:{port}"
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not _is_tracking(k, _TRACKING_PARAMS)
    ]
    path = parts.path or "/"
    return urlunsplit((scheme, host, path, urlencode(query), ""))


def key_kind(key: str) -> KeyKind:
    """The kind (``id``, ``link`` or ``text``) of a key from ``ContentItem.dedup_keys``."""
    return _KIND_OF_PREFIX[key.partition(":")[0]]


def utcnow() -> datetime:
    return datetime.now(UTC)


def key_digest(key: str) -> bytes:
    """A short stable digest of a dedup key: 12 bytes of SHA-256 as URL-safe base64 (16 ASCII
    bytes), as the history stores it (``pipeline.history``). Bytes, not text: a history load
    makes hundreds of thousands of them, and a bytes object is made in half the time.

    96 bits: a false "seen" needs a collision among the window's digests, about
    ``keys_checked * keys_in_window / 2**96`` (1e-19 a day at 30,000 keys a day)."""
    raw = hashlib.sha256(key.encode("utf-8")).digest()[:_DIGEST_BYTES]
    return base64.urlsafe_b64encode(raw)


def key_digests(keys: Iterable[str]) -> tuple[bytes, ...]:
    """``key_digest`` of each key, in order."""
    return tuple(map(key_digest, keys))


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
    # ``dedup_keys()`` once worked out (tens of microseconds an item): the dedup check, the
    # processing key and the history record all read them. Not part of the item's value.
    _keys: tuple[str, ...] | None = dataclasses.field(
        default=None, init=False, repr=False, compare=False
    )
    _digests: tuple[bytes, ...] | None = dataclasses.field(  # ``key_digests()``, likewise
        default=None, init=False, repr=False, compare=False
    )

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
        """The link key (``canonical_url`` of the link, judged with the item's own id)."""
        return canonical_url(self.url, self.source_id)

    def processing_key(self) -> str:
        """What the processor is idempotent by (``processing_key``): the content hash, or the
        story's link or the post itself when its text is too short to identify it. Read off
        ``dedup_keys()`` (which a run computes once an item), not worked out again."""
        link = ""
        for key in self.dedup_keys():
            if key.startswith("hash:"):
                return self.content_hash
            if key.startswith("url:"):
                link = key[4:]
        return _key_of_post(link, self.source, self.source_id)

    def dedup_keys(self) -> tuple[str, ...]:
        """The keys under which this item counts as seen, in the order of ``KEY_KINDS``: its
        id, its link (when it has one) and its text (when long enough to identify a post).
        Worked out on the first call (a feed's parser thread makes it there)."""
        if self._keys is not None:
            return self._keys
        keys = [f"id:{self.source}:{self.source_id}"]
        link = self.canonical_url
        if link:
            keys.append(f"url:{link}")
        if text_identifies_post(self.title, self.body):
            keys.append(f"hash:{self.content_hash}")
        result = tuple(keys)
        object.__setattr__(self, "_keys", result)  # frozen: set as the dataclass does
        return result

    def key_digests(self) -> tuple[bytes, ...]:
        """``key_digest`` of each of ``dedup_keys()``, in the same order: what the history
        stores and the dedup check looks up. Worked out on the first call, like the keys."""
        if self._digests is None:
            digests = key_digests(self.dedup_keys())
            object.__setattr__(self, "_digests", digests)  # frozen: set as the dataclass does
            return digests
        return self._digests

    def collected(self, at: datetime) -> ContentItem:
        """This item collected at ``at`` (its dedup keys carried over, they do not depend on
        the time)."""
        item = ContentItem(  # not dataclasses.replace: a third of its cost, on every item
            source=self.source,
            source_name=self.source_name,
            source_id=self.source_id,
            url=self.url,
            title=self.title,
            body=self.body,
            author=self.author,
            published_at=self.published_at,
            collected_at=at,
            content_hash=self.content_hash,
            metadata=self.metadata,
        )
        object.__setattr__(item, "_keys", self._keys)
        object.__setattr__(item, "_digests", self._digests)
        return item

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (times as ISO 8601); a shallow copy, cheap on the hot path."""
        return {
            "source": self.source,
            "source_name": self.source_name,
            "source_id": self.source_id,
            "url": self.url,
            "title": self.title,
            "body": self.body,
            "author": self.author,
            "published_at": self.published_at.isoformat(),
            "collected_at": self.collected_at.isoformat(),
            "content_hash": self.content_hash,
            "metadata": dict(self.metadata),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ContentItem:
        values = {k: v for k, v in data.items() if k in _NAMES}
        values["published_at"] = _as_utc(datetime.fromisoformat(values["published_at"]))
        values["collected_at"] = _as_utc(datetime.fromisoformat(values["collected_at"]))
        values.setdefault("metadata", {})
        return cls(**values)


_FIELDS = tuple(f for f in dataclasses.fields(ContentItem) if f.init)  # the item's value
_NAMES = frozenset(f.name for f in _FIELDS)


def _as_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)

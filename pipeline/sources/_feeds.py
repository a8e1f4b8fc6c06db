"""RSS 0.9x/1.0/2.0, Atom and CDF through feedparser, on the response bytes and headers.

What reaches feedparser and what comes out of it:

* **Entities.** feedparser retries a document that expat refuses with its loose parser, which
  expands the entities the document declares (billion laughs, quadratic blow-up). A body whose
  prolog declares any entity other than a harmless one (a single character reference, or a
  literal of at most ``_HARMLESS_ENTITY_CHARS`` characters) is refused as a ``hostile`` source
  error before feedparser sees it. The check runs on the text feedparser itself would decode
  (its own encoding detection), so UTF-16, EBCDIC or UTF-7 bodies cannot hide a declaration.
* **Ids and links.** An entry's id is its id (guid), else its link, else its enclosure link,
  else a stable hash of its title, body and date, as feed readers do; only an entry with none
  of these is rejected (``no_id``). An entry with no title takes its body's first words. Its URL is a web (http/https) link: the link (an
  alternate link first), else the enclosure; a guid that is not a URL gives none.
* **Empty feeds.** A clean feed with no entries is a warning ``empty`` (a quiet feed), a feed
  that the parser recovered but that gave no entries is a ``parse`` error that says so, and a
  document that is no feed at all is a ``parse`` error naming its root element.
* **CDF.** Channel Definition Format files are read as feedparser reads them: items accepted,
  a channel without items is an empty feed like any other.
* **Size.** No item carries more than ``max_item_chars`` characters of title plus body.
"""

from __future__ import annotations

import asyncio
import calendar
import concurrent.futures
import hashlib
import logging
import re
import weakref
from collections.abc import AsyncGenerator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import feedparser
from feedparser.encodings import convert_to_utf8
from feedparser.exceptions import CharacterEncodingOverride, NonXMLContentType

from pipeline.clock import Clock
from pipeline.config import SourceConfig
from pipeline.items import ContentItem
from pipeline.sources._common import criteria_rejection
from pipeline.sources._http import Fetched, Fetcher, SourceFetchError, http_date
from pipeline.sources._stats import SourceStats
from pipeline.sources._text import first_line_title, html_to_text

log = logging.getLogger(__name__)

# One parser thread for every feed: each extra thread would take another share of the GIL from
# the event loop, which then answers storage calls late while feeds are being parsed.
_PARSER = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="feedparser")
# Feeds are handed to that thread one at a time, so a feed whose turn comes checks the parse gate
# then (``Fetcher.parse_turn``), not when it was queued behind a parse already running.
_PARSER_TURNS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)

# The prolog ends where the first element starts (feedparser's own split, replace_doctype).
_FIRST_ELEMENT = re.compile(rb"<[A-Za-z_]")
_ROOT_NAME = re.compile(rb"<([A-Za-z_][\w.:-]*)")
_ENTITY_DECL = re.compile(rb"<!ENTITY", re.IGNORECASE)
# An entity that cannot amplify: one character reference, or a short literal with no markup.
_HARMLESS_ENTITY_CHARS = 8
_HARMLESS_ENTITY = re.compile(
    rb"<!ENTITY\s+[A-Za-z_][\w.-]*\s+"
    rb"(?:\"(?:&#[0-9]{1,7};|&#x[0-9A-Fa-f]{1,6};|[^&%%<\"]{0,%d})\""
    rb"|'(?:&#[0-9]{1,7};|&#x[0-9A-Fa-f]{1,6};|[^&%%<']{0,%d})')\s*>"
    % (_HARMLESS_ENTITY_CHARS, _HARMLESS_ENTITY_CHARS)
)
# feedparser's "soft" problems: the document was parsed by the strict parser all the same.
_SOFT_PROBLEMS = (CharacterEncodingOverride, NonXMLContentType)
_WEB_SCHEMES = ("http", "https")


def check_entities(fetched: Fetched) -> bytes:
    """The body as feedparser will decode it (UTF-8); ``SourceFetchError('hostile')`` when its
    prolog declares an entity that could expand (see the module docstring)."""
    utf8 = convert_to_utf8(_headers(fetched), fetched.body, {})
    first = _FIRST_ELEMENT.search(utf8)
    prolog = utf8[: first.start()] if first else utf8
    for match in _ENTITY_DECL.finditer(prolog):
        if not _HARMLESS_ENTITY.match(prolog, match.start()):
            excerpt = prolog[match.start() : match.start() + 60].decode("utf-8", "replace")
            raise SourceFetchError(
                "hostile",
                f"{fetched.url}: refused: the feed declares an XML entity that could expand "
                f"({' '.join(excerpt.split())}...)",
            )
    return utf8


def parse_feed(fetched: Fetched) -> Any:
    """feedparser on bytes plus headers (charset); blocking, run it off the loop. Relative
    links are left as written (no base URL): a relative guid must not pass for a URL."""
    return feedparser.parse(fetched.body, response_headers=_headers(fetched))


def _headers(fetched: Fetched) -> dict[str, str]:
    headers = {k.lower(): v for k, v in fetched.headers.items()}
    headers.pop("content-location", None)
    return headers


async def collect_feed(
    fetcher: Fetcher, source: SourceConfig, clock: Clock, stats: SourceStats
) -> AsyncGenerator[ContentItem, None]:
    assert source.url is not None
    fetched = await fetcher.get(source.url, conditional=True)
    if fetched.status_code == 304:
        log.info("feed_not_modified source=%s url=%s", source.name, fetched.url)
        fetcher.keep_validators(source.url, fetched)
        return
    loop = asyncio.get_running_loop()
    turn = _PARSER_TURNS.setdefault(loop, asyncio.Lock())
    with clock.untimed():  # parsing is not waiting: it takes no recording time
        async with turn:
            await fetcher.parse_turn()
            with fetcher.parsing():
                items = await loop.run_in_executor(_PARSER, _parse_items, fetched, source, stats)
    fetcher.keep_validators(source.url, fetched)
    for item in items:
        stats.accept(clock.task_time())
        yield item


def _parse_items(fetched: Fetched, source: SourceConfig, stats: SourceStats) -> list[ContentItem]:
    """Check, parse and build the items, all in the parser thread (HTML to text is CPU work)."""
    utf8 = check_entities(fetched)
    items = _items(parse_feed(fetched), utf8, fetched, source, stats)
    for item in items:
        item.key_digests()  # the keys and their digests worked out here, off the event loop
    return items


def _items(
    parsed: Any, utf8: bytes, fetched: Fetched, source: SourceConfig, stats: SourceStats
) -> list[ContentItem]:
    entries = list(parsed.get("entries") or [])
    root = _root_name(utf8)
    version = parsed.get("version") or ("cdf" if root.lower() == "channel" else "")
    problem = parsed.get("bozo_exception") if parsed.get("bozo") else None
    if problem is not None and not entries and not isinstance(problem, _SOFT_PROBLEMS):
        detail = f"{type(problem).__name__}: {problem}"
        if version or (parsed.get("feed") or {}).get("title"):
            raise SourceFetchError(
                "parse", f"{fetched.url}: feed with no entries (parser problem: {detail})"
            )
        raise SourceFetchError("parse", f"{fetched.url}: not a feed ({_root_text(root)}{detail})")
    if not version and not entries:
        raise SourceFetchError(
            "parse", f"{fetched.url}: not an RSS, Atom or CDF feed ({_root_text(root)[:-2]})"
        )
    if problem is not None:
        stats.warnings["bozo"] += 1
        log.warning(
            "feed_bozo source=%s url=%s entries=%d problem=%r",
            source.name,
            fetched.url,
            len(entries),
            str(problem),
        )
    stats.pages += 1
    if not entries:
        stats.warnings["empty"] += 1
        log.warning("feed_empty source=%s url=%s version=%s", source.name, fetched.url, version)
        return []
    fallback_time = http_date(fetched.headers.get("date")) or datetime.now(UTC)
    feed_author = str((parsed.get("feed") or {}).get("author") or "")
    items = []
    for entry in entries:
        item = _item(entry, fetched.url, source, stats, fallback_time, feed_author)
        if item is not None:
            items.append(item)
    return items


def _root_name(utf8: bytes) -> str:
    match = _ROOT_NAME.search(utf8)
    return match.group(1).decode("ascii", "replace") if match else ""


def _root_text(root: str) -> str:
    return f"root element <{root}>; " if root else "no XML element; "


def _item(
    entry: Any,
    base: str,
    source: SourceConfig,
    stats: SourceStats,
    fallback: datetime,
    feed_author: str,
) -> ContentItem | None:
    content = entry.get("content") or []
    raw_body = str((content[0].get("value", "") if content else entry.get("summary", "")) or "")
    raw_title = str(entry.get("title") or "")
    entry_id = _entry_id(entry, base, raw_title, raw_body)
    if not entry_id:
        stats.reject("no_id")
        return None
    title, body, truncated = _capped(raw_title, raw_body, source.max_item_chars)
    title = title or first_line_title(body)  # RSS allows an item with only a description
    if truncated:
        stats.warnings["truncated"] += 1
    reason = criteria_rejection(source.criteria, title, body)
    if reason:
        stats.reject(reason)
        return None
    when = entry.get("published_parsed") or entry.get("updated_parsed")
    published = datetime.fromtimestamp(calendar.timegm(when), UTC) if when else fallback
    metadata: dict[str, Any] = {
        "feed_url": source.url,
        "tags": [t.get("term") for t in entry.get("tags") or [] if t.get("term")],
        "comments": entry.get("comments"),
    }
    if truncated:
        metadata["truncated"] = True
    return ContentItem.create(
        source="rss",
        source_name=source.name,
        source_id=entry_id,
        url=_entry_url(entry, base),
        title=title,
        body=body,
        author=str(entry.get("author") or feed_author),
        published_at=published,
        metadata=metadata,
    )


def _capped(raw_title: str, raw_body: str, cap: int) -> tuple[str, str, bool]:
    """Title and body as text, at most ``cap`` characters together; whether any was cut.
    The raw HTML is cut first (markup counts too) so that no huge value is converted."""
    raw_cap = cap * 4
    title = html_to_text(raw_title[:raw_cap])
    body = html_to_text(raw_body[:raw_cap])
    cut = len(raw_title) > raw_cap or len(raw_body) > raw_cap or len(title) + len(body) > cap
    title = title[:cap]
    return title, body[: cap - len(title)], cut


def _entry_id(entry: Any, base: str, raw_title: str, raw_body: str) -> str:
    """The entry's id, link or enclosure link, else a hash of its title, body and date."""
    for value in (entry.get("id"), entry.get("link")):
        if str(value or "").strip():
            return str(value).strip()
    enclosure = _link_of(entry, base, "enclosure")
    if enclosure:
        return enclosure
    if not (raw_title.strip() or raw_body.strip()):
        return ""
    date = str(entry.get("published") or entry.get("updated") or "")
    digest = hashlib.sha256("\n".join((raw_title, raw_body, date)).encode("utf-8")).hexdigest()
    return f"sha256:{digest}"


def _entry_url(entry: Any, base: str) -> str:
    """A web link for the entry: its link (feedparser's pick, the alternate link first; not a
    guid that is no URL), else its enclosure; empty when it has none."""
    link = str(entry.get("link") or "").strip()
    from_guid = bool(entry.get("guidislink")) and link == str(entry.get("id") or "").strip()
    if link and not (from_guid and not _is_web_url(link)):
        resolved = _web_url(link, base)
        if resolved:
            return resolved
    return _link_of(entry, base, "enclosure")


def _link_of(entry: Any, base: str, rel: str) -> str:
    for link in entry.get("links") or []:
        if link.get("rel") == rel:
            resolved = _web_url(str(link.get("href") or ""), base)
            if resolved:
                return resolved
    return ""


def _is_web_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme.lower() in _WEB_SCHEMES and bool(parts.netloc)


def _web_url(value: str, base: str) -> str:
    """``value`` resolved against ``base`` when it is an http(s) URL then, else empty."""
    value = value.strip()
    if not value:
        return ""
    resolved = urljoin(base, value)
    return resolved if _is_web_url(resolved) else ""

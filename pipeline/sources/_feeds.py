"""RSS 0.9x/1.0/2.0 and Atom through feedparser, on the response bytes and headers."""

from __future__ import annotations

import asyncio
import calendar
import concurrent.futures
import logging
from collections.abc import AsyncGenerator
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import feedparser

from pipeline.clock import Clock
from pipeline.config import SourceConfig
from pipeline.items import ContentItem
from pipeline.sources._common import criteria_rejection
from pipeline.sources._http import Fetched, Fetcher, SourceFetchError
from pipeline.sources._stats import SourceStats
from pipeline.sources._text import html_to_text

log = logging.getLogger(__name__)

# One parser thread for every feed: each extra thread would take another share of the GIL from
# the event loop, which then answers storage calls late while feeds are being parsed.
_PARSER = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="feedparser")


def parse_feed(fetched: Fetched) -> Any:
    """feedparser on bytes plus headers (charset, base URL); blocking, run it off the loop."""
    headers = {k.lower(): v for k, v in fetched.headers.items()}
    headers.setdefault("content-location", fetched.url)
    return feedparser.parse(fetched.body, response_headers=headers)


async def collect_feed(
    fetcher: Fetcher, source: SourceConfig, clock: Clock, stats: SourceStats
) -> AsyncGenerator[ContentItem, None]:
    assert source.url is not None
    fetched = await fetcher.get(source.url)
    with clock.untimed():  # parsing is not waiting: it takes no recording time
        items = await asyncio.get_running_loop().run_in_executor(
            _PARSER, _parse_items, fetched, source, stats
        )
    for item in items:
        stats.accept(clock.task_time())
        yield item


def _parse_items(fetched: Fetched, source: SourceConfig, stats: SourceStats) -> list[ContentItem]:
    """Parse and build the items, all in the parser thread (HTML to text is CPU work too)."""
    return _items(parse_feed(fetched), fetched, source, stats)


def _items(
    parsed: Any, fetched: Fetched, source: SourceConfig, stats: SourceStats
) -> list[ContentItem]:
    entries = list(parsed.get("entries") or [])
    if parsed.get("bozo"):
        problem = parsed.get("bozo_exception")
        if not entries:
            raise SourceFetchError(
                "parse", f"{fetched.url}: not a feed ({type(problem).__name__}: {problem})"
            )
        stats.warnings["bozo"] += 1
        log.warning(
            "feed_bozo source=%s url=%s entries=%d problem=%r",
            source.name,
            fetched.url,
            len(entries),
            str(problem),
        )
    elif not entries and not parsed.get("version"):
        raise SourceFetchError("parse", f"{fetched.url}: not an RSS or Atom feed")
    stats.pages += 1
    fallback_time = _date_header(fetched) or datetime.now(UTC)
    feed_author = str((parsed.get("feed") or {}).get("author") or "")
    items = []
    for entry in entries:
        item = _item(entry, source, stats, fallback_time, feed_author)
        if item is not None:
            items.append(item)
    return items


def _item(
    entry: Any, source: SourceConfig, stats: SourceStats, fallback: datetime, feed_author: str
) -> ContentItem | None:
    link = str(entry.get("link") or "").strip()
    entry_id = str(entry.get("id") or link).strip()
    if not entry_id:
        stats.reject("no_id")
        return None
    title = html_to_text(str(entry.get("title") or ""))
    content = entry.get("content") or []
    raw = content[0].get("value", "") if content else entry.get("summary", "")
    body = html_to_text(str(raw or ""))
    reason = criteria_rejection(source.criteria, title, body)
    if reason:
        stats.reject(reason)
        return None
    when = entry.get("published_parsed") or entry.get("updated_parsed")
    published = datetime.fromtimestamp(calendar.timegm(when), UTC) if when else fallback
    return ContentItem.create(
        source="rss",
        source_name=source.name,
        source_id=entry_id,
        url=link or entry_id,
        title=title,
        body=body,
        author=str(entry.get("author") or feed_author),
        published_at=published,
        metadata={
            "feed_url": source.url,
            "tags": [t.get("term") for t in entry.get("tags") or [] if t.get("term")],
            "comments": entry.get("comments"),
        },
    )


def _date_header(fetched: Fetched) -> datetime | None:
    value = fetched.headers.get("date")
    if not value:
        return None
    try:
        return parsedate_to_datetime(value).astimezone(UTC)
    except (TypeError, ValueError):
        return None

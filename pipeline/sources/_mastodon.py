"""Mastodon timelines: tag, public/local and trending statuses; ``Link`` / ``max_id`` paging."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from pipeline.clock import Clock
from pipeline.config import SourceConfig, mastodon_tag
from pipeline.items import ContentItem
from pipeline.sources._common import criteria_rejection, from_iso
from pipeline.sources._http import Fetched, Fetcher, SourceFetchError
from pipeline.sources._stats import SourceStats
from pipeline.sources._text import first_line_title, html_to_text


def timeline_request(source: SourceConfig) -> tuple[str, dict[str, Any]]:
    """The first page's URL and query of a source's timeline."""
    base = source.instance
    tag = mastodon_tag(source)
    params: dict[str, Any] = {"limit": source.limit}
    if tag:
        return f"{base}/api/v1/timelines/tag/{tag}", params
    if source.timeline == "trending":
        return f"{base}/api/v1/trends/statuses", params
    if source.timeline == "local":
        params["local"] = "true"
    return f"{base}/api/v1/timelines/public", params


async def collect_mastodon(
    fetcher: Fetcher, source: SourceConfig, clock: Clock, stats: SourceStats
) -> AsyncGenerator[ContentItem, None]:
    url, params = timeline_request(source)
    next_url: str | None = None
    host = urlsplit(source.instance or "").hostname or ""
    for _page in range(source.pages):
        fetched = await (fetcher.get(next_url) if next_url else fetcher.get(url, params))
        with clock.untimed():  # parsing is not waiting: it takes no recording time
            statuses = fetched.json()
            if not isinstance(statuses, list):
                raise SourceFetchError("parse", f"{fetched.url}: expected a list of statuses")
            stats.pages += 1
            items = [_item(status, source, host, stats) for status in statuses]
        for item in items:
            if item is not None:
                stats.accept(clock.task_time())
                yield item
        if not statuses:
            break
        next_url = _next_page(fetched, url, params, statuses, source)
        if next_url is None:
            break


def _next_page(
    fetched: Fetched,
    url: str,
    params: dict[str, Any],
    statuses: list[Any],
    source: SourceConfig,
) -> str | None:
    link = _link_next(fetched.headers.get("link"))
    if link:
        return link
    if source.timeline == "trending":
        return None  # trends page by offset; without a Link header there is no next page
    last = statuses[-1]
    if not isinstance(last, dict) or not last.get("id"):
        return None
    query = "&".join(f"{k}={v}" for k, v in {**params, "max_id": last["id"]}.items())
    return f"{url}?{query}"


def _link_next(header: str | None) -> str | None:
    if not header:
        return None
    for part in header.split(","):
        section = part.strip()
        if not section.startswith("<") or ">" not in section:
            continue
        target, _, attrs = section[1:].partition(">")
        rels = [a.strip() for a in attrs.split(";") if a.strip().startswith("rel=")]
        if any(r.split("=", 1)[1].strip("\"'") == "next" for r in rels):
            return target
    return None


def _item(status: Any, source: SourceConfig, host: str, stats: SourceStats) -> ContentItem | None:
    if not isinstance(status, dict):
        stats.reject("malformed")
        return None
    boosted_by = None
    if isinstance(status.get("reblog"), dict):
        boosted_by = (status.get("account") or {}).get("acct")
        status = status["reblog"]  # a boost counts as its original status
    uri = status.get("uri") or status.get("url")
    if not uri:
        stats.reject("malformed")
        return None
    if status.get("in_reply_to_id"):
        stats.reject("reply")
        return None
    boosts = int(status.get("reblogs_count") or 0)
    favourites = int(status.get("favourites_count") or 0)
    if boosts < source.min_boosts:
        stats.reject("min_boosts")
        return None
    if favourites < source.min_favourites:
        stats.reject("min_favourites")
        return None
    text = html_to_text(str(status.get("content") or ""))
    spoiler = str(status.get("spoiler_text") or "").strip()
    title = first_line_title(spoiler or text)
    reason = criteria_rejection(source.criteria, title, text)
    if reason:
        stats.reject(reason)
        return None
    account = status.get("account") or {}
    acct = str(account.get("acct") or "")
    if acct and "@" not in acct:
        acct = f"{acct}@{host}"
    return ContentItem.create(
        source="mastodon",
        source_name=source.name,
        source_id=str(uri),
        url=str(status.get("url") or uri),
        title=title,
        body=text,
        author=acct,
        published_at=from_iso(status.get("created_at")) or datetime.now(UTC),
        metadata={
            "boosts": boosts,
            "favourites": favourites,
            "replies": status.get("replies_count"),
            "language": status.get("language"),
            "tags": [t.get("name") for t in status.get("tags") or [] if isinstance(t, dict)],
            "instance": host,
            "local_id": status.get("id"),
            "boosted_by": boosted_by,
        },
    )

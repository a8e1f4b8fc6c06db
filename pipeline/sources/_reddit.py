"""Reddit listings (``/r/{sub}/{sort}.json``), ``after`` pagination, anonymous JSON."""

from __future__ import annotations

import html
from collections.abc import AsyncGenerator
from datetime import UTC, datetime
from typing import Any

from pipeline.clock import Clock
from pipeline.config import SourceConfig
from pipeline.items import ContentItem
from pipeline.sources._common import criteria_rejection, from_timestamp
from pipeline.sources._http import Fetcher, SourceFetchError
from pipeline.sources._stats import SourceStats


def listing_url(source: SourceConfig) -> str:
    return f"{source.base_url}/r/{source.subreddit}/{source.sort}.json"


async def collect_reddit(
    fetcher: Fetcher, source: SourceConfig, clock: Clock, stats: SourceStats
) -> AsyncGenerator[ContentItem, None]:
    url = listing_url(source)
    after: str | None = None
    for _page in range(source.pages):
        params: dict[str, Any] = {"limit": source.limit}
        if after:
            params["after"] = after
        fetched = await fetcher.get(url, params)
        with clock.untimed():  # parsing is not waiting: it takes no recording time
            doc = fetched.json()
            if not isinstance(doc, dict) or doc.get("kind") != "Listing":
                raise SourceFetchError("parse", f"{fetched.url}: not a Reddit Listing")
            data = doc.get("data") or {}
            children = data.get("children")
            if not isinstance(children, list):
                raise SourceFetchError("parse", f"{fetched.url}: Listing without children")
            stats.pages += 1
            items = [_item(child, source, stats) for child in children]
        for item in items:
            if item is not None:
                stats.accept(clock.task_time())
                yield item
        after = data.get("after")
        if not after or not children:
            break


def _item(child: Any, source: SourceConfig, stats: SourceStats) -> ContentItem | None:
    if not isinstance(child, dict) or child.get("kind") != "t3":
        stats.reject("not_a_post")
        return None
    post = child.get("data")
    if not isinstance(post, dict) or not post.get("name"):
        stats.reject("malformed")
        return None
    if post.get("stickied"):
        stats.reject("stickied")
        return None
    if post.get("over_18"):
        stats.reject("over_18")
        return None
    score = post.get("score")
    if isinstance(score, int) and score < source.min_score:
        stats.reject("min_score")
        return None
    # The anonymous JSON escapes &, < and > in text fields.
    title = html.unescape(str(post.get("title") or "")).strip()
    body = html.unescape(str(post.get("selftext") or "")).strip()
    if body in ("[removed]", "[deleted]"):
        stats.reject("removed")
        return None
    reason = criteria_rejection(source.criteria, title, body)
    if reason:
        stats.reject(reason)
        return None
    permalink = f"{source.base_url}{post.get('permalink', '')}"
    link = html.unescape(str(post.get("url") or "")) if not post.get("is_self") else permalink
    return ContentItem.create(
        source="reddit",
        source_name=source.name,
        source_id=str(post["name"]),
        url=link or permalink,
        title=title,
        body=body,
        author=str(post.get("author") or ""),
        published_at=from_timestamp(post.get("created_utc")) or datetime.now(UTC),
        metadata={
            "score": score,
            "num_comments": post.get("num_comments"),
            "upvote_ratio": post.get("upvote_ratio"),
            "subreddit": post.get("subreddit"),
            "permalink": permalink,
            "domain": post.get("domain"),
            "flair": post.get("link_flair_text"),
        },
    )

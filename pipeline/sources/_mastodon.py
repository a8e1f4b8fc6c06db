"""Mastodon timelines: tag, public/local and trending statuses; ``Link`` / ``max_id`` paging.

What a status becomes:

* Only ``public`` and ``unlisted`` statuses are collected: any other ``visibility``
  (``private`` is followers-only, ``direct`` a private mention; also ``limited``/``local``
  of other servers, or none) is rejected as ``not_public``, whatever endpoint returned it.
  A boost counts as its original status; both must be public or unlisted.
* The text is the HTML ``content`` as text, without the compatibility paragraph that
  servers add to quote posts (``<p class="quote-inline">RE: <a href=...>``): the quoted
  status's address goes to ``metadata["quote_of"]``.
* Custom emoji: a ``:shortcode:`` that the status lists in ``emojis`` is an image of the
  author's instance, with no text of its own; it is removed from the title and body (and
  poll options), and its shortcode kept in ``metadata["emojis"]``. A ``:word:`` that is not
  listed stays as typed.
* Media descriptions (alt text) follow the text as paragraphs, so a status with only media
  has the alt text as its body (and title); poll options follow as ``- option`` lines. The
  title is the content warning, else the text's opening words, else the body's.
* ``spoiler_text`` (the content warning) and ``sensitive`` are kept in ``metadata``.
"""

from __future__ import annotations

import re
from collections.abc import AsyncGenerator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from pipeline.clock import Clock
from pipeline.config import SourceConfig, mastodon_tag
from pipeline.items import ContentItem
from pipeline.sources._common import criteria_rejection, from_iso, options_text
from pipeline.sources._http import Fetched, Fetcher, SourceFetchError
from pipeline.sources._stats import SourceStats
from pipeline.sources._text import first_line_title, html_to_text

PUBLIC_VISIBILITIES = frozenset({"public", "unlisted"})
_QUOTE_INLINE = re.compile(
    r"<p\b[^>]*\bclass\s*=\s*[\"'][^\"']*\bquote-inline\b[^>]*>(.*?)</p\s*>",
    re.IGNORECASE | re.DOTALL,
)
_HREF = re.compile(r"\bhref\s*=\s*[\"']([^\"']+)[\"']", re.IGNORECASE)


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


def _shortcodes(*lists: Any) -> list[str]:
    """The custom emoji shortcodes of ``emojis`` lists (status, poll)."""
    codes: list[str] = []
    for emojis in lists:
        for emoji in emojis if isinstance(emojis, list) else []:
            code = emoji.get("shortcode") if isinstance(emoji, dict) else None
            if isinstance(code, str) and code and code not in codes:
                codes.append(code)
    return codes


def _without_emoji(text: str, shortcodes: list[str]) -> str:
    for code in shortcodes:
        text = text.replace(f":{code}:", " ")
    return text


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _quote(status: dict[str, Any], content: str) -> str | None:
    """The quoted status of a quote post: from ``quote`` (Mastodon 4.4) or the RE: link."""
    quote = status.get("quote")
    quoted = quote.get("quoted_status") if isinstance(quote, dict) else None
    if isinstance(quoted, dict) and (quoted.get("uri") or quoted.get("url")):
        return str(quoted.get("uri") or quoted.get("url"))
    match = _QUOTE_INLINE.search(content)
    href = _HREF.search(match[1]) if match else None
    return href[1] if href else None


def _media(status: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "type": media.get("type"),
            "url": media.get("url") or media.get("remote_url"),
            "description": _one_line(str(media.get("description") or "")),
        }
        for media in status.get("media_attachments") or []
        if isinstance(media, dict)
    ]


def _poll_options(status: dict[str, Any], shortcodes: list[str]) -> list[str]:
    poll = status.get("poll")
    options = poll.get("options") if isinstance(poll, dict) else None
    if not isinstance(options, list):
        return []
    return [
        _one_line(_without_emoji(str(option.get("title") or ""), shortcodes))
        for option in options
        if isinstance(option, dict)
    ]


def _item(status: Any, source: SourceConfig, host: str, stats: SourceStats) -> ContentItem | None:
    if not isinstance(status, dict):
        stats.reject("malformed")
        return None
    boosted_by = None
    if isinstance(status.get("reblog"), dict):
        if status.get("visibility") not in PUBLIC_VISIBILITIES:
            stats.reject("not_public")
            return None
        boosted_by = (status.get("account") or {}).get("acct")
        status = status["reblog"]  # a boost counts as its original status
    uri = status.get("uri") or status.get("url")
    if not uri:
        stats.reject("malformed")
        return None
    visibility = status.get("visibility")
    if visibility not in PUBLIC_VISIBILITIES:
        stats.reject("not_public")
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
    poll = status.get("poll")
    shortcodes = _shortcodes(
        status.get("emojis"), poll.get("emojis") if isinstance(poll, dict) else None
    )
    content = str(status.get("content") or "")
    quote_of = _quote(status, content)
    text = html_to_text(_without_emoji(_QUOTE_INLINE.sub("", content), shortcodes))
    media = _media(status)
    alt_texts = "\n\n".join(m["description"] for m in media if m["description"])
    options = _poll_options(status, shortcodes)
    body = "\n\n".join(part for part in (text, alt_texts, options_text(options)) if part)
    spoiler = _one_line(_without_emoji(str(status.get("spoiler_text") or ""), shortcodes))
    title = first_line_title(spoiler or text or body)
    reason = criteria_rejection(source.criteria, title, body)
    if reason:
        stats.reject(reason)
        return None
    account = status.get("account") or {}
    acct = str(account.get("acct") or "")
    if acct and "@" not in acct:
        acct = f"{acct}@{host}"
    metadata: dict[str, Any] = {
        "boosts": boosts,
        "favourites": favourites,
        "replies": status.get("replies_count"),
        "language": status.get("language"),
        "tags": [t.get("name") for t in status.get("tags") or [] if isinstance(t, dict)],
        "instance": host,
        "local_id": status.get("id"),
        "boosted_by": boosted_by,
        "visibility": visibility,
        "sensitive": bool(status.get("sensitive")),
        "spoiler_text": spoiler,
    }
    if media:
        metadata["media"] = media
    if options:
        metadata["poll"] = {
            "options": options,
            "votes": [o.get("votes_count") for o in poll["options"] if isinstance(o, dict)],
        }
    if shortcodes:
        metadata["emojis"] = shortcodes
    if quote_of:
        metadata["quote_of"] = quote_of
    return ContentItem.create(
        source="mastodon",
        source_name=source.name,
        source_id=str(uri),
        url=str(status.get("url") or uri),
        title=title,
        body=body,
        author=acct,
        published_at=from_iso(status.get("created_at")) or datetime.now(UTC),
        metadata=metadata,
    )

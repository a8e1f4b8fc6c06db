"""Reddit listings (``/r/{sub}/{sort}.json``), ``after`` pagination, anonymous JSON.

Requests ask for ``raw_json=1``. Without it (and from a server that ignores it) Reddit
escapes every ``&``, ``<`` and ``>`` of every string as ``&amp;``, ``&lt;``, ``&gt;``; a
response in that form is unescaped first, so an item is the same whichever form came back.
Then:

* ``selftext`` is Markdown: its text (``markdown_to_text``) is the body. Titles, gallery
  captions and poll options are plain text; character references in them are decoded too,
  so no item carries a literal ``&amp;`` (a title that is about ``&amp;`` itself loses it).
* A crosspost has no text of its own: when its parent (``crosspost_parent_list[0]``) is a
  text post, the parent's text is the body. Its link may be relative
  (``/r/<sub>/comments/...``); every link is joined to the source's ``base_url``.
* A gallery's captions, and a poll's options, are lines of the body; the gallery's images
  and the poll's counts are in ``metadata``.
* A deleted author (``[deleted]``) is no author (empty). A post that a moderator, the
  author or Reddit removed (``removed_by_category`` or ``banned_by`` set, or a body of
  ``[removed]`` / ``[deleted]``), or a crosspost of one, is rejected as ``removed``.
"""

from __future__ import annotations

import re
from collections.abc import AsyncGenerator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

from pipeline.clock import Clock
from pipeline.config import SourceConfig
from pipeline.items import ContentItem
from pipeline.sources._common import criteria_rejection, from_timestamp, options_text
from pipeline.sources._http import Fetcher, SourceFetchError
from pipeline.sources._markdown import decode_references, markdown_to_text
from pipeline.sources._stats import SourceStats

DELETED_AUTHOR = "[deleted]"
_REMOVED_BODIES = frozenset({"[removed]", "[deleted]"})
_JSON_ESCAPE = re.compile(r"&(amp|lt|gt);")
# What the escaped form cannot hold: a raw < or >, or an & that starts no escape.
_RAW_SIGN = re.compile(r"[<>]|&(?!(?:amp|lt|gt);)")
_UNESCAPED = {"amp": "&", "lt": "<", "gt": ">"}


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
        params["raw_json"] = 1
        fetched = await fetcher.get(url, params)
        with clock.untimed():  # parsing is not waiting: it takes no recording time
            doc = fetched.json()
            if not isinstance(doc, dict) or doc.get("kind") != "Listing":
                raise SourceFetchError("parse", f"{fetched.url}: not a Reddit Listing")
            if is_escaped_form(doc):
                doc = unescape_json_strings(doc)
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


def _strings(value: Any) -> list[str]:
    """Every string value in a JSON document (keys are Reddit's own: never escaped)."""
    found: list[str] = []
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            found.append(node)
        elif isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return found


def is_escaped_form(doc: Any) -> bool:
    """Whether a response is in Reddit's escaped form.

    That form cannot hold a raw ``<`` or ``>``, or an ``&`` that starts no escape: any of
    them means raw, and a raw page has some (a text post's ``selftext_html`` starts with
    ``<``, preview and link URLs hold ``&``). A page without any that holds ``&amp;``,
    ``&lt;`` or ``&gt;`` is taken as escaped; a page with neither reads the same either way.
    """
    strings = _strings(doc)
    if any(_RAW_SIGN.search(s) for s in strings):
        return False
    return any(_JSON_ESCAPE.search(s) for s in strings)


def unescape_json_strings(value: Any) -> Any:
    """The document with Reddit's escaping of ``&``, ``<`` and ``>`` undone in every string
    (and nothing else: ``&amp;#x200B;`` becomes the Markdown ``&#x200B;``)."""
    if isinstance(value, str):
        return _JSON_ESCAPE.sub(lambda m: _UNESCAPED[m[1]], value)
    if isinstance(value, dict):
        return {k: unescape_json_strings(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unescape_json_strings(v) for v in value]
    return value


def _plain(value: Any) -> str:
    """A plain-text field (title, caption, poll option): references decoded, trimmed."""
    return decode_references(value).strip() if isinstance(value, str) else ""


def _is_removed(post: dict[str, Any]) -> bool:
    if post.get("removed_by_category") or post.get("banned_by"):
        return True
    return str(post.get("selftext") or "").strip() in _REMOVED_BODIES


def _crosspost_parent(post: dict[str, Any]) -> dict[str, Any] | None:
    parents = post.get("crosspost_parent_list")
    if isinstance(parents, list) and parents and isinstance(parents[0], dict):
        return parents[0]
    return None


def _gallery(post: dict[str, Any]) -> list[dict[str, str]]:
    """A gallery's images in order: caption, image URL and outbound link (may be empty)."""
    gallery = post.get("gallery_data")
    listed = gallery.get("items") if isinstance(gallery, dict) else None
    if not isinstance(listed, list):
        return []
    media = post.get("media_metadata")
    media = media if isinstance(media, dict) else {}
    images = []
    for entry in listed:
        if not isinstance(entry, dict):
            continue
        media_id = entry.get("media_id")
        meta = media.get(media_id) if isinstance(media_id, str) else None
        source = meta.get("s") if isinstance(meta, dict) else None
        image = ""
        if isinstance(source, dict):
            image = str(source.get("u") or source.get("gif") or source.get("mp4") or "")
        images.append(
            {
                "caption": _plain(entry.get("caption")),
                "image_url": image,
                "outbound_url": str(entry.get("outbound_url") or ""),
            }
        )
    return images


def _poll(post: dict[str, Any]) -> dict[str, Any] | None:
    poll = post.get("poll_data")
    if not isinstance(poll, dict) or not isinstance(poll.get("options"), list):
        return None
    options = [o for o in poll["options"] if isinstance(o, dict)]
    return {
        "options": [_plain(o.get("text")) for o in options],
        "votes": [o.get("vote_count") for o in options],
        "total_votes": poll.get("total_vote_count"),
    }


def _link(value: Any, source: SourceConfig) -> str:
    """An absolute link: a relative one (``/r/...``, ``/gallery/...``) joined to the base URL."""
    link = str(value or "").strip()
    return urljoin(f"{source.base_url}/", link) if link else ""


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
    parent = _crosspost_parent(post)
    if _is_removed(post) or (parent is not None and _is_removed(parent)):
        stats.reject("removed")
        return None
    title = _plain(post.get("title"))
    text = markdown_to_text(str(post.get("selftext") or ""))
    if not text and parent is not None and parent.get("is_self"):
        text = markdown_to_text(str(parent.get("selftext") or ""))
    gallery = _gallery(post) or (_gallery(parent) if parent is not None else [])
    poll = _poll(post) or (_poll(parent) if parent is not None else None)
    captions = "\n".join(image["caption"] for image in gallery if image["caption"])
    body = "\n\n".join(
        part for part in (text, captions, options_text(poll["options"] if poll else [])) if part
    )
    reason = criteria_rejection(source.criteria, title, body)
    if reason:
        stats.reject(reason)
        return None
    # Reddit answers /comments/<id>/ for any post: the link of a post without a permalink.
    permalink = _link(post.get("permalink") or f"/comments/{str(post['name'])[3:]}/", source)
    link = permalink if post.get("is_self") else _link(post.get("url"), source)
    author = str(post.get("author") or "")
    metadata: dict[str, Any] = {
        "score": score,
        "num_comments": post.get("num_comments"),
        "upvote_ratio": post.get("upvote_ratio"),
        "subreddit": post.get("subreddit"),
        "permalink": permalink,
        "domain": post.get("domain"),
        "flair": post.get("link_flair_text"),
    }
    if parent is not None:
        metadata["crosspost_parent"] = post.get("crosspost_parent") or parent.get("name")
    if gallery:
        metadata["gallery"] = gallery
    if poll:
        metadata["poll"] = poll
    return ContentItem.create(
        source="reddit",
        source_name=source.name,
        source_id=str(post["name"]),
        url=link or permalink,
        title=title,
        body=body,
        author="" if author == DELETED_AUTHOR else author,
        published_at=from_timestamp(post.get("created_utc")) or datetime.now(UTC),
        metadata=metadata,
    )

"""Each collector against small HAR fixtures, through the real transport seam."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from pipeline.clock import InstantClock
from pipeline.config import parse_sources
from pipeline.har import ReplayTransport
from pipeline.items import ContentItem
from pipeline.sources import SourceStats, collect_source

HAR = Path(__file__).resolve().parent.parent / "fixtures" / "har"


def source(**entry: Any):  # type: ignore[no-untyped-def]
    entry.setdefault("name", "s")
    return parse_sources({"sources": [entry]}).sources[0]


async def collect(har: str, **entry: Any) -> tuple[list[ContentItem], SourceStats, InstantClock]:
    src = source(**entry)
    clock = InstantClock()
    stats = SourceStats(name=src.name, type=src.type)
    async with httpx.AsyncClient(transport=ReplayTransport(HAR / har, clock)) as client:
        items = [item async for item in collect_source(client, src, clock, stats)]
    return items, stats, clock


@pytest.mark.anyio
async def test_reddit_pages_filters_and_unescapes() -> None:
    items, stats, clock = await collect(
        "reddit.har", type="reddit", subreddit="Python", limit=5, pages=3, min_score=0
    )
    assert [i.source_id for i in items] == ["t3_aaa0002", "t3_aaa0005", "t3_aaa0007"]
    assert items[0].title == "Q&A: why is x < y && y > z slow?"
    assert items[0].body == "Body with & and <tags>"
    assert items[1].url == "https://blog.example.dev/fastapi-1?utm_source=reddit"
    assert items[1].canonical_url == "https://blog.example.dev/fastapi-1"
    assert items[2].url == "https://www.reddit.com/r/Python/comments/aaa0007/x/"
    assert stats.rejections == {"stickied": 1, "over_18": 1, "min_score": 1, "title_too_short": 1}
    assert stats.requests == 2 and stats.pages == 2  # after=None ends the listing
    assert stats.status_codes == {200: 2}
    # 0.4 s, then the politeness interval (60/60 = 1 s from the first start), then 0.6 s.
    assert stats.first_accepted_at == pytest.approx(0.4)
    assert clock.now() == pytest.approx(1.6)
    assert all(i.source == "reddit" and i.source_name == "s" for i in items)


@pytest.mark.anyio
async def test_mastodon_link_pagination_boosts_replies_and_html() -> None:
    items, stats, _ = await collect(
        "mastodon.har",
        type="mastodon",
        instance="https://fosstodon.org",
        timeline="tag:python",
        limit=4,
        pages=2,
        min_boosts=1,
    )
    assert [i.source_id.rsplit("/", 1)[1] for i in items] == ["1005", "900", "1001"]
    first, boost, _ = items
    assert first.body == "Hello & welcome to #python land\n\nSecond paragraph"
    assert first.title == "Hello & welcome to #python land Second paragraph"
    assert first.author == "alice@fosstodon.org"
    # A boost counts as its original status: the original's id, author and text.
    assert boost.source_id == "https://fosstodon.org/users/carol/statuses/900"
    assert boost.author == "carol@fosstodon.org"
    assert boost.metadata["boosted_by"] == "bob"
    assert stats.rejections == {"reply": 1, "min_boosts": 1}
    assert stats.requests == 2


@pytest.mark.anyio
async def test_mastodon_max_id_fallback_without_link_header() -> None:
    items, stats, _ = await collect(
        "mastodon.har",
        type="mastodon",
        instance="https://fosstodon.org",
        timeline="tag:python",
        limit=4,
        pages=3,
    )
    assert items[-1].body == "Page three should never be requested"
    assert stats.requests == 3


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("url", "ids", "title", "body"),
    [
        (
            "https://rss.example/feed.xml",
            ["rss-1"],
            "First RSS entry with a title",
            "Full HTML & content",
        ),
        (
            "https://atom.example/atom.xml",
            ["tag:atom.example,2024:1"],
            "Atom entry <one>",
            "Atom content",
        ),
        ("https://rdf.example/index.rdf", ["https://rdf.example/a"], None, "RDF body"),
        (
            "https://de.example/rss.php?a=1&b=2",
            ["https://de.example/1"],
            "Größere Änderungen für Entwickler",
            "Über Äpfel",
        ),
    ],
)
async def test_feed_formats(url: str, ids: list[str], title: str | None, body: str) -> None:
    items, stats, _ = await collect("feeds.har", type="rss", url=url)
    assert [i.source_id for i in items] == ids
    assert items[0].body == body
    if title:
        assert items[0].title == title
    assert not stats.errors


@pytest.mark.anyio
async def test_feed_short_titles_are_rejected_and_dates_parsed() -> None:
    items, stats, _ = await collect("feeds.har", type="rss", url="https://rss.example/feed.xml")
    assert stats.rejections == {"title_too_short": 1}
    assert items[0].published_at.isoformat() == "2024-05-13T10:00:00+00:00"
    assert items[0].author == "Ann"


@pytest.mark.anyio
async def test_html_page_is_a_parse_error() -> None:
    items, stats, _ = await collect("feeds.har", type="rss", url="https://moved.example/feed")
    assert items == []
    assert stats.errors == {"parse": 1}
    assert "not a feed" in (stats.last_error or "")


@pytest.mark.anyio
async def test_bozo_with_entries_is_a_warning() -> None:
    items, stats, _ = await collect("feeds.har", type="rss", url="https://broken.example/rss")
    assert [i.title for i in items] == ["Recovered entry despite errors"]
    assert stats.warnings == {"bozo": 1}
    assert not stats.errors


@pytest.mark.anyio
async def test_429_is_retried_after_retry_after() -> None:
    items, stats, clock = await collect("feeds.har", type="rss", url="https://limited.example/feed")
    assert len(items) == 1
    assert stats.status_codes == {429: 1, 200: 1}
    assert stats.retries == 1
    # 0.1 s for the 429, Retry-After 7 s, then 0.2 s.
    assert stats.first_accepted_at == pytest.approx(7.3)
    assert clock.now() == pytest.approx(7.3)

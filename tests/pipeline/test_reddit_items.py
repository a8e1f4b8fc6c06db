"""Reddit items from real-shaped listings (issue 17): entities, Markdown, crossposts, relative
links, deleted and removed posts, galleries, polls; the same item from escaped or raw JSON.

The payloads are tests/fixtures/reddit/listing-raw.json (as Reddit answers ``raw_json=1``) and
listing-escaped.json (the same listing as it answers without it). Expected texts are read off
the fixture by hand.
"""

from __future__ import annotations

import asyncio
import html
import json
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.clock import InstantClock
from pipeline.config import parse_sources
from pipeline.items import ContentItem
from pipeline.sources import SourceStats, collect_source
from pipeline.sources._markdown import MAX_MARKDOWN_CHARS, decode_references, markdown_to_text
from pipeline.sources._reddit import is_escaped_form
from tests.pipeline.item_fixtures import (
    ITEM_QUALITY,
    REDDIT,
    collect,
    comparable,
    fixture,
    json_entry,
)
from workbench.synth import escaped_form  # stdlib html.escape on every string

LISTING = "https://www.reddit.com/r/python/new.json?limit=25&raw_json=1"
SOURCE = {"type": "reddit", "subreddit": "python", "limit": 25, "pages": 1}


async def items_of(doc: Any) -> tuple[dict[str, ContentItem], SourceStats]:
    items, stats = await collect([json_entry(LISTING, doc)], **SOURCE)
    return {i.source_id: i for i in items}, stats


@pytest.fixture(scope="module")
def raw() -> Any:
    return fixture(REDDIT / "listing-raw.json")


@pytest.fixture(scope="module")
def escaped() -> Any:
    return fixture(REDDIT / "listing-escaped.json")


def test_the_two_fixture_files_are_one_listing_in_two_forms(raw: Any, escaped: Any) -> None:
    assert escaped == escaped_form(raw)
    assert "&amp;#x200B;" in json.dumps(escaped)  # the editor's entity, escaped once more
    assert escaped != raw


@pytest.mark.anyio
async def test_the_same_post_gives_the_same_item_escaped_or_raw(raw: Any, escaped: Any) -> None:
    from_raw, raw_stats = await items_of(raw)
    from_escaped, escaped_stats = await items_of(escaped)
    assert len(from_raw) == 9
    assert {k: comparable(v) for k, v in from_raw.items()} == {
        k: comparable(v) for k, v in from_escaped.items()
    }
    assert raw_stats.rejections == escaped_stats.rejections


def test_the_form_is_told_from_the_page(raw: Any, escaped: Any) -> None:
    assert is_escaped_form(escaped) and not is_escaped_form(raw)
    # A page of link posts only: no selftext_html, but the preview URLs tell.
    links = {"kind": "Listing", "data": {"children": [raw["data"]["children"][1]]}}
    assert is_escaped_form(escaped_form(links)) and not is_escaped_form(links)
    # Nothing to undo either way: taken as raw.
    plain = {"kind": "Listing", "data": {"children": [{"kind": "t3", "data": {"title": "x"}}]}}
    assert not is_escaped_form(plain)


@pytest.mark.anyio
async def test_every_request_asks_for_raw_json() -> None:
    requests: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        after = None if "after" in request.url.params else "t3_x1"
        child = {"kind": "t3", "data": {"name": f"t3_{len(requests)}", "title": "A long title"}}
        return httpx.Response(
            200, json={"kind": "Listing", "data": {"after": after, "children": [child]}}
        )

    source = parse_sources({"sources": [{"name": "s", **SOURCE, "pages": 3}]}).sources[0]
    clock = InstantClock()
    stats = SourceStats(name="s", type="reddit")
    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
        items = [i async for i in collect_source(client, source, clock, stats)]
    assert len(items) == 2 and len(requests) == 2
    assert [r.url.params.get("raw_json") for r in requests] == ["1", "1"]
    assert requests[1].url.params["after"] == "t3_x1"
    # no permalink in these posts: Reddit's short link to any post stands in
    assert items[0].url == "https://www.reddit.com/comments/1/"


@pytest.mark.anyio
async def test_selftext_markdown_becomes_text_with_its_entities_as_characters(
    escaped: Any,
) -> None:
    items, _ = await items_of(escaped)
    post = items["t3_1ent01"]
    assert post.title == "Tips & tricks: when x < y > z in asyncio"
    # &#x200B; paragraphs gone, &mdash; -> U+2014, &#37; -> %, &nbsp; -> a space, Markdown
    # emphasis and link markup gone, "<b>" typed in a quote stays text (Reddit shows it so).
    assert post.body == (
        "First paragraph \u2014 with a dash, and 100% of the tests pass.\n\n"
        "Non breaking space, bold, and the docs.\n\n"
        "Quoted & <b>not HTML</b>"
    )
    assert post.url == "https://www.reddit.com/r/python/comments/1ent01/tips_tricks/"


@pytest.mark.anyio
async def test_a_link_keeps_its_query_unescaped(escaped: Any) -> None:
    items, _ = await items_of(escaped)
    # A title a client submitted HTML-escaped: even raw, it holds references; decoded.
    assert items["t3_1amp13"].title == "Zero-copy & zero-cost: Rust's FFI from Python"
    assert (
        items["t3_1lnk02"].url == "https://blog.example.dev/fastapi-1?ref=reddit&utm_source=reddit"
    )
    assert items["t3_1lnk02"].body == ""


@pytest.mark.anyio
async def test_a_crosspost_of_a_text_post_reads_the_parents_text_and_an_absolute_link(
    raw: Any,
) -> None:
    items, _ = await items_of(raw)
    crosspost = items["t3_1xpt03"]
    assert crosspost.url == (
        "https://www.reddit.com/r/learnpython/comments/1par01/how_i_learned_asyncio_in_a_weekend/"
    )
    assert crosspost.body == (
        "I spent a weekend with the event loop \u2014 here is what stuck.\n\n"
        "await gives control back\n\nTasks run while you wait\n\n"
        "Long story short: it's worth it."
    )
    assert crosspost.title == "How I learned asyncio in a weekend (crosspost)"
    assert crosspost.metadata["crosspost_parent"] == "t3_1par01"
    # A crosspost of a link post keeps the link and has no text.
    link = items["t3_1xln04"]
    assert link.url == "https://discuss.example.org/t/pep-703-progress/123?page=2&u=someone"
    assert link.body == ""


@pytest.mark.anyio
async def test_a_gallery_keeps_its_captions_images_and_an_absolute_link(raw: Any) -> None:
    items, _ = await items_of(raw)
    gallery = items["t3_1gal05"]
    assert gallery.url == "https://www.reddit.com/gallery/1gal05"
    assert gallery.body == "Before: 900 messages & growing\nAfter \u2014 drained in 3 minutes"
    images = gallery.metadata["gallery"]
    assert [i["caption"] for i in images] == [
        "Before: 900 messages & growing",
        "After \u2014 drained in 3 minutes",
        "",
    ]
    assert images[0]["image_url"] == (
        "https://preview.redd.it/m1abc.png?width=1200&format=png&auto=webp&s=3c4d"
    )
    assert images[1]["outbound_url"] == "https://blog.example.dev/queues?from=reddit&part=2"
    # Its crosspost links "/gallery/1gal05" (relative) and has no gallery of its own.
    crosspost = items["t3_1xgl12"]
    assert crosspost.url == "https://www.reddit.com/gallery/1gal05"
    assert crosspost.body == gallery.body
    assert crosspost.canonical_url == gallery.canonical_url  # one story: a duplicate by link


@pytest.mark.anyio
async def test_a_poll_keeps_its_options_as_text(escaped: Any) -> None:
    items, _ = await items_of(escaped)
    poll = items["t3_1pol06"]
    assert poll.body == (
        "Curious what people use & why.\n\n"
        "- Azure Storage Queue\n- Kafka & friends\n- Redis <streams>"
    )
    assert poll.metadata["poll"]["total_votes"] == 42


@pytest.mark.anyio
async def test_deleted_authors_are_empty_and_removed_posts_are_rejected(raw: Any) -> None:
    items, stats = await items_of(raw)
    assert items["t3_1dau07"].author == ""
    assert items["t3_1dau07"].body == "The post stays when the account is gone."
    assert items["t3_1ent01"].author == "queue_person"
    # removed_by_category moderator / deleted, banned_by set, a crosspost of a removed post
    assert stats.rejections == {"removed": 4}
    assert not {"t3_1rmd08", "t3_1ban09", "t3_1sdl10", "t3_1xrm11"} & set(items)


@pytest.mark.anyio
async def test_removed_by_category_or_banned_by_alone_rejects(raw: Any) -> None:
    post = raw["data"]["children"][0]
    for field, value in (("removed_by_category", "reddit"), ("banned_by", True)):
        listing = {"kind": "Listing", "data": {"after": None, "children": [
            {"kind": "t3", "data": {**post["data"], field: value}}]}}  # fmt: skip
        items, stats = await items_of(listing)
        assert not items and stats.rejections == {"removed": 1}, field


@pytest.mark.anyio
async def test_a_reddit_error_shows_the_servers_reason() -> None:
    items, stats = await collect(ITEM_QUALITY / "run-000.har", name="reddit-private",
                                 **{**SOURCE, "subreddit": "secretclub"})  # fmt: skip
    assert items == [] and stats.errors == {"http_status": 1}
    assert stats.last_error == (
        "https://www.reddit.com/r/secretclub/new.json: HTTP 403 (server: Forbidden - private)"
    )


def test_markdown_to_text_edges() -> None:
    assert markdown_to_text("See >!the ending!< now") == "See the ending now"
    assert markdown_to_text("&#x200B;\n\n&#x200B;") == ""
    # table cells are lines, rows paragraphs
    assert markdown_to_text("| a | b |\n|---|---|\n| 1 | 2 |") == "a\nb\n\n1\n2"
    assert markdown_to_text("~~old~~ new `x &amp; y`") == "old new x &amp; y"  # code is literal
    # Too long to parse: references decoded, markup left, "&param" in a URL not read as "&para".
    long = "&mdash; **x** https://e.example/?a=1&param=2 " * (MAX_MARKDOWN_CHARS // 40)
    text = markdown_to_text(long)
    assert text.startswith("\u2014 **x** https://e.example/?a=1&param=2 \u2014")
    assert decode_references("a&param=2 &amp; &copy; &nosuch;") == "a&param=2 & \u00a9 &nosuch;"


_TEXT = st.lists(
    st.sampled_from(
        [
            "&",
            "<",
            ">",
            ";",
            "#",
            "x",
            "200B",
            "amp",
            "lt",
            "gt",
            "mdash",
            "nbsp",
            "*",
            "_",
            "[",
            "]",
            "(",
            ")",
            " ",
            "\n",
            "a",
            "Z",
            "7",
            "\u00e9",
            "quot",
        ]  # fmt: skip
    ),
    max_size=40,
).map("".join)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(title=_TEXT, selftext=_TEXT)
def test_property_any_post_is_the_same_item_escaped_or_raw(title: str, selftext: str) -> None:
    text_post = {"kind": "t3", "data": {
        "name": "t3_p1", "title": "Post " + title, "selftext": selftext, "is_self": True,
        "permalink": "/r/python/comments/p1/x/", "author": "a", "created_utc": 1715662800,
        "selftext_html": f'<!-- SC_OFF --><div class="md"><p>{html.escape(selftext)}</p>'
                         "</div><!-- SC_ON -->" if selftext else None}}  # fmt: skip
    link_post = {"kind": "t3", "data": {
        "name": "t3_p2", "title": "Link " + title, "is_self": False, "selftext": "",
        "url": "https://e.example/a?b=1&c=2", "permalink": "/r/python/comments/p2/y/",
        "created_utc": 1715662800,
        "preview": {"images": [{"source": {"url": "https://i.example/p.jpg?w=1&s=2"}}]}}}  # fmt: skip
    raw_listing = {"kind": "Listing", "data": {"after": None, "children": [text_post, link_post]}}
    from_raw, raw_stats = asyncio.run(items_of(raw_listing))
    from_escaped, escaped_stats = asyncio.run(items_of(escaped_form(raw_listing)))
    assert {k: comparable(v) for k, v in from_raw.items()} == {
        k: comparable(v) for k, v in from_escaped.items()
    }
    assert raw_stats.rejections == escaped_stats.rejections

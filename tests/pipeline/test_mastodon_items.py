"""Mastodon items from real-shaped statuses (issue 17, issue 12 item 10): visibility, quote
posts, custom emoji, media-only statuses, content warnings, polls, the server's error text.

The payloads are tests/fixtures/mastodon/statuses.json (Mastodon's Status entity) and
error-unauthenticated.json; expected texts are read off the fixture by hand.
"""

from __future__ import annotations

from typing import Any

import pytest

from pipeline.items import ContentItem
from pipeline.sources import SourceStats
from tests.pipeline.item_fixtures import ITEM_QUALITY, MASTODON, collect, fixture, json_entry

INSTANCE = "https://mastodon.example"
ENDPOINTS = {
    "tag:python": f"{INSTANCE}/api/v1/timelines/tag/python?limit=20",
    "public": f"{INSTANCE}/api/v1/timelines/public?limit=20",
    "local": f"{INSTANCE}/api/v1/timelines/public?limit=20&local=true",
    "trending": f"{INSTANCE}/api/v1/trends/statuses?limit=20",
}
NOT_PUBLIC = {"112400000000000009", "112400000000000008", "112400000000000003",
              "112400000000000001", "109800000000000002"}  # fmt: skip


def local_id(item: ContentItem) -> str:
    return item.source_id.rsplit("/", 1)[1]


async def statuses_on(
    timeline: str, statuses: list[Any] | None = None
) -> tuple[dict[str, ContentItem], SourceStats]:
    doc = fixture(MASTODON / "statuses.json") if statuses is None else statuses
    items, stats = await collect(
        [json_entry(ENDPOINTS[timeline], doc)],
        type="mastodon",
        instance=INSTANCE,
        timeline=timeline,
        limit=20,
        pages=1,
    )
    return {local_id(i): i for i in items}, stats


@pytest.mark.anyio
@pytest.mark.parametrize("timeline", sorted(ENDPOINTS))
async def test_private_direct_and_limited_statuses_are_rejected_on_every_endpoint(
    timeline: str,
) -> None:
    items, stats = await statuses_on(timeline)
    # private (dave), direct (to bob), a private boost, "limited"
    assert stats.rejections == {"not_public": 4}
    assert not NOT_PUBLIC & set(items)
    assert {i.metadata["visibility"] for i in items.values()} == {"public", "unlisted"}
    assert len(items) == 7


@pytest.mark.anyio
async def test_a_status_without_visibility_is_not_taken_as_public() -> None:
    status = fixture(MASTODON / "statuses.json")[1]
    del status["visibility"]
    items, stats = await statuses_on("tag:python", [status])
    assert items == {} and stats.rejections == {"not_public": 1}


@pytest.mark.anyio
async def test_a_public_boost_of_a_public_status_is_its_original() -> None:
    items, _ = await statuses_on("tag:python")
    boost = items["109800000000000001"]
    assert boost.author == "bob@mastodon.example"
    assert boost.metadata["boosted_by"] == "alice"
    assert boost.body == "Streaming collectors queue their first item in under a second"


@pytest.mark.anyio
async def test_the_quote_compatibility_paragraph_is_not_text() -> None:
    items, _ = await statuses_on("tag:python")
    quote = items["112400000000000007"]
    assert quote.title == "This thread on queue backpressure is the best explanation I have read"
    assert quote.body == quote.title
    assert quote.metadata["quote_of"] == (
        "https://other.example/users/carol/statuses/109999999999999999"
    )


@pytest.mark.anyio
async def test_a_quote_without_the_quote_attribute_names_the_link_it_quotes() -> None:
    status = fixture(MASTODON / "statuses.json")[4]
    del status["quote"]
    items, _ = await statuses_on("tag:python", [status])
    assert items["112400000000000007"].metadata["quote_of"] == (
        "https://other.example/@carol/109999999999999999"
    )
    assert not items["112400000000000007"].body.startswith("RE:")


@pytest.mark.anyio
async def test_listed_custom_emoji_are_removed_and_kept_in_metadata() -> None:
    items, _ = await statuses_on("tag:python")
    status = items["112400000000000011"]
    # ":blobcat_heart:" is listed in the status's emojis; ":wave:" is not, so it stays.
    assert status.body == (
        "Shipped the new queue worker and it drains 900 messages in 3 minutes :wave:"
    )
    assert status.metadata["emojis"] == ["blobcat_heart"]


@pytest.mark.anyio
async def test_a_status_with_only_media_is_its_alt_text() -> None:
    items, _ = await statuses_on("tag:python")
    media = items["112400000000000006"]
    alt = "A line chart of queue depth falling from 900 to 0 over ten minutes"
    assert media.body == alt and media.title == alt
    assert [m["description"] for m in media.metadata["media"]] == [alt, ""]


@pytest.mark.anyio
async def test_content_warning_and_sensitive_are_kept() -> None:
    items, _ = await statuses_on("tag:python")
    warned = items["112400000000000005"]
    assert warned.title == "Spoilers for the season finale"  # ":blobcat:" is a listed emoji
    assert warned.body == "The queue was the villain all along, and the autoscaler knew it."
    assert warned.metadata["spoiler_text"] == "Spoilers for the season finale"
    assert warned.metadata["sensitive"] is True
    plain = items["112400000000000010"]
    assert plain.metadata["spoiler_text"] == "" and plain.metadata["sensitive"] is False


@pytest.mark.anyio
async def test_poll_options_are_text() -> None:
    items, _ = await statuses_on("tag:python")
    poll = items["112400000000000004"]
    assert poll.title == "Which queue do you run in production?"
    assert poll.body == (
        "Which queue do you run in production?\n\n- Azure Storage Queue\n- Kafka\n- Redis"
    )
    assert poll.metadata["poll"] == {
        "options": ["Azure Storage Queue", "Kafka", "Redis"],
        "votes": [6, 3, 1],
    }


@pytest.mark.anyio
async def test_an_error_shows_the_servers_error_text() -> None:
    items, stats = await collect(ITEM_QUALITY / "run-000.har", name="mastodon-public",
                                 type="mastodon", instance=INSTANCE, timeline="public",
                                 limit=20, pages=1)  # fmt: skip
    assert items == [] and stats.errors == {"http_status": 1}
    assert stats.last_error == (
        "https://mastodon.example/api/v1/timelines/public: HTTP 401 "
        "(server: This API requires an authenticated user)"
    )


@pytest.mark.anyio
async def test_error_text_is_one_short_line_and_only_from_json() -> None:
    url = ENDPOINTS["tag:python"]
    long = {"error": "Something\nwent  wrong " + "x" * 500, "error_description": "nope"}
    for body, expected in (
        # 200 characters: "Something went wrong " (21), 178 x, "…"
        (long, "HTTP 404 (server: Something went wrong " + "x" * 178 + "…)"),
        ({"error": 404}, "HTTP 404"),
        ("<html>Not found</html>", "HTTP 404"),
    ):
        entry = json_entry(url, body, status=404)
        if isinstance(body, str):
            entry["response"]["content"]["text"] = body
        _, stats = await collect([entry], type="mastodon", instance=INSTANCE,
                                 timeline="tag:python", limit=20, pages=1)  # fmt: skip
        assert stats.last_error == f"{url.split('?')[0]}: {expected}", body

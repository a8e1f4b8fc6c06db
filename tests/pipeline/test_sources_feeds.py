"""The feed collector on the long tail of real feeds (tests/fixtures/feeds, written from the
formats' specs): entity declarations, entries without id or link, guids that are no URL,
empty and recovered feeds, CDF, undeclared legacy encodings and the per-item text cap."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from pipeline.clock import InstantClock
from pipeline.config import parse_sources
from pipeline.items import ContentItem
from pipeline.sources import SourceStats, collect_source
from workbench.paths import PROJECT_ROOT as ROOT

FEEDS = ROOT / "tests" / "fixtures" / "feeds"
RSS_TYPE = "application/rss+xml"


def feed_source(**entry: Any):  # type: ignore[no-untyped-def]
    entry = {"name": "f", "type": "rss", "url": "https://feeds.example/feed.xml", **entry}
    return parse_sources({"sources": [entry]}).sources[0]


async def collect_body(
    body: bytes, content_type: str = RSS_TYPE, **entry: Any
) -> tuple[list[ContentItem], SourceStats]:
    source = feed_source(**entry)
    stats = SourceStats(name=source.name, type=source.type)

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body, headers={"content-type": content_type})

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        items = [i async for i in collect_source(client, source, InstantClock(), stats)]
    return items, stats


async def collect_fixture(
    name: str, content_type: str = RSS_TYPE, **entry: Any
) -> tuple[list[ContentItem], SourceStats]:
    return await collect_body((FEEDS / name).read_bytes(), content_type, **entry)


def quadratic_entity_feed(entity_chars: int = 20_000, references: int = 4_000) -> bytes:
    """The issue's shape: an ~80 KB body declaring one 20 KB entity referenced 4,000 times."""
    return (
        b'<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!ENTITY bigentityname "'
        + b"x" * entity_chars
        + b'">\n]>\n<rss version="2.0"><channel><title>Blow-up</title><item>'
        b"<title>An item of eighty megabytes</title><link>https://q.example/1</link>"
        b"<description>"
        + b"&bigentityname;" * references
        + b"</description></item></channel></rss>"
    )


# -- entities ---------------------------------------------------------------------------------
@pytest.mark.anyio
@pytest.mark.parametrize(
    "name",
    ["billion_laughs.xml", "external_entity.xml", "parameter_entity.xml", "one_line_doctype.xml"],
)
async def test_feeds_that_declare_entities_are_refused_before_parsing(name: str) -> None:
    items, stats = await collect_fixture(name)
    assert items == []
    assert stats.errors == {"hostile": 1}
    assert "declares an XML entity" in (stats.last_error or "")


@pytest.mark.anyio
async def test_the_quadratic_entity_feed_is_refused() -> None:
    body = quadratic_entity_feed()
    assert 75_000 < len(body) < 85_000
    items, stats = await collect_body(body)
    assert items == [] and stats.errors == {"hostile": 1}


def in_encoding(text: str, encoding: str) -> bytes:
    """``text`` (an XML document) re-declared and encoded in ``encoding``."""
    body = text.split("?>", 1)[1]
    if encoding == "utf-7":
        # UTF-7 may spell '<' and '!' in base64 (+ADwAIQ-): no ASCII '<!ENTITY' is left.
        declared = '<?xml version="1.0" encoding="utf-7"?>' + body
        return declared.encode("ascii").replace(b"<!ENTITY", b"+ADwAIQ-ENTITY")
    if encoding in ("utf-16-le", "utf-32-be"):  # no BOM: sniffed from '<?xm', then declared
        name = encoding[:6].upper()
        return (f'<?xml version="1.0" encoding="{name}"?>' + body).encode(encoding)
    return (f'<?xml version="1.0" encoding="{encoding}"?>' + body).encode(encoding)


@pytest.mark.anyio
@pytest.mark.parametrize(
    "encoding", ["utf-16", "utf-16-le", "utf-32", "utf-32-be", "cp037", "utf-7"]
)
async def test_entity_declarations_cannot_hide_in_another_encoding(encoding: str) -> None:
    text = (FEEDS / "billion_laughs.xml").read_text(encoding="ascii")
    body = in_encoding(text, encoding)
    assert b"<!ENTITY" not in body
    items, stats = await collect_body(body)
    assert items == [] and stats.errors == {"hostile": 1}


@pytest.mark.anyio
async def test_harmless_entities_are_kept() -> None:
    items, stats = await collect_fixture("harmless_entities.xml")
    assert not stats.errors
    assert [(i.title, i.body) for i in items] == [("Prices — today", "Text (c) 2024")]


@pytest.mark.anyio
async def test_a_doctype_naming_an_external_dtd_is_not_hostile() -> None:
    items, stats = await collect_fixture("rss091_netscape.xml")
    assert not stats.errors
    assert [(i.title, i.url) for i in items] == [
        ("An item of a feed from 1999", "https://old.example/1999/item")
    ]


def test_the_80kb_entity_feed_takes_little_memory_in_a_fresh_process() -> None:
    """Issue 12: the feed once took 105 s and 2.1 GB. A fresh interpreter collects it with its
    address space capped at 1 GiB (so an expansion fails fast instead of swapping)."""
    script = f"""
import asyncio, json, resource, sys, time
resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
sys.path.insert(0, {str(ROOT)!r})
sys.path.insert(0, {str(Path(__file__).parent)!r})
import httpx
from test_sources_feeds import collect_body, quadratic_entity_feed
started = time.perf_counter()
items, stats = asyncio.run(collect_body(quadratic_entity_feed()))
print(json.dumps({{
    "errors": dict(stats.errors),
    "item_chars": max((len(i.body) for i in items), default=0),
    "seconds": time.perf_counter() - started,
    # VmHWM, not ru_maxrss: a child started by fork reports at least its parent's peak there.
    "peak_rss_mb": next(
        int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:")
    ) / 1024,
}}))
"""
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=240,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    print(result)
    assert result["errors"] == {"hostile": 1}
    assert result["item_chars"] == 0
    assert result["peak_rss_mb"] < 300


@pytest.mark.anyio
async def test_item_text_is_capped() -> None:
    paragraph = "<p>" + "word " * 40_000 + "</p>"  # 200,000 characters of text
    body = (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Long</title><item>'
        "<title>A very long article indeed</title><link>https://long.example/1</link>"
        f"<description><![CDATA[{paragraph}]]></description></item></channel></rss>"
    ).encode()
    items, stats = await collect_body(body, max_item_chars=1_000)
    (item,) = items
    assert len(item.title) + len(item.body) == 1_000
    assert item.title == "A very long article indeed"
    assert item.metadata["truncated"] is True
    assert stats.warnings == {"truncated": 1}
    short, short_stats = await collect_body(body, max_item_chars=250_000)
    assert (
        len(short[0].body) == len("word " * 40_000) - 1 and "truncated" not in short_stats.warnings
    )


# -- ids and links ----------------------------------------------------------------------------
@pytest.mark.anyio
async def test_entries_without_id_or_link_are_kept_with_a_stable_id() -> None:
    items, stats = await collect_fixture("description_only.xml")
    assert stats.rejections == {"no_id": 1}  # the item with nothing at all
    description_only, no_link, enclosure_only = items
    # Independent of the collector: sha256 of title, raw body and date, one per line.
    raw = "<p>The library on Mill Street closes early on Friday for a staff training day.</p>"
    expected = hashlib.sha256(f"\n{raw}\nTue, 14 May 2024 08:00:00 GMT".encode()).hexdigest()
    assert description_only.source_id == f"sha256:{expected}"
    assert description_only.title == (
        "The library on Mill Street closes early on Friday for a staff training day."
    )
    assert description_only.url == ""
    raw_two = "Road works on the ring road from Monday\nExpect delays between junctions 3 and 4.\n"
    assert no_link.source_id == f"sha256:{hashlib.sha256(raw_two.encode()).hexdigest()}"
    assert enclosure_only.source_id == "https://cdn.council.example/podcast/ep12.mp3"
    assert enclosure_only.url == "https://cdn.council.example/podcast/ep12.mp3"
    again, _ = await collect_fixture("description_only.xml")
    assert [i.source_id for i in again] == [i.source_id for i in items]


@pytest.mark.anyio
async def test_a_guid_that_is_not_a_url_gives_no_url() -> None:
    items, stats = await collect_fixture("guid_not_url.xml", url="https://opaque.example/feed.xml")
    assert not stats.rejections and not stats.errors
    assert [(i.source_id, i.url) for i in items] == [
        ("abc", ""),
        ("tag:opaque.example,2024:item-2", ""),
        (
            "urn:uuid:1c6a8c3e-4c34-4b7e-9a55-0f1f6f0c2d3e",
            "https://cdn.opaque.example/a.mp3",
        ),
        ("https://opaque.example/posts/4", "https://opaque.example/posts/4"),
        ("id-5", "https://opaque.example/posts/5"),  # a relative <link> resolves
        ("xyz", "https://opaque.example/posts/6"),  # the guid took the link; the alternate
    ]
    # No URL means no link key: two items with opaque guids are not the same story.
    assert [k for k in items[0].dedup_keys() if k.startswith("url:")] == []


@pytest.mark.anyio
async def test_atom_entries_take_their_alternate_link_not_their_tag_id() -> None:
    items, _ = await collect_fixture("atom_tag_id.xml", content_type="application/atom+xml")
    assert [(i.source_id, i.url) for i in items] == [
        ("tag:atom-ids.example,2024:entry-1", "https://atom-ids.example/entry-1"),
        ("tag:atom-ids.example,2024:entry-2", ""),
    ]


# -- empty, recovered and foreign documents ---------------------------------------------------
@pytest.mark.anyio
async def test_a_clean_empty_feed_is_a_warning_not_an_error() -> None:
    items, stats = await collect_fixture("empty.xml")
    assert items == [] and not stats.errors
    assert stats.warnings == {"empty": 1}


@pytest.mark.anyio
async def test_a_recovered_feed_without_entries_says_so() -> None:
    items, stats = await collect_fixture("recovered_empty.xml")
    assert items == [] and stats.errors == {"parse": 1}
    assert "feed with no entries (parser problem: " in (stats.last_error or "")
    assert "not a feed" not in (stats.last_error or "")


@pytest.mark.anyio
async def test_a_recovered_feed_with_entries_is_a_bozo_warning() -> None:
    items, stats = await collect_fixture("recovered_entries.xml")
    assert [i.title for i in items] == ["Recovered entry after an undefined entity"]
    assert stats.warnings == {"bozo": 1} and not stats.errors


@pytest.mark.anyio
async def test_an_html_page_is_not_a_feed_and_names_its_root() -> None:
    items, stats = await collect_fixture("not_a_feed.html", content_type="text/html")
    assert items == [] and stats.errors == {"parse": 1}
    assert "(root element <html>)" in (stats.last_error or "")


@pytest.mark.anyio
async def test_cdf_channels_are_feeds() -> None:
    items, stats = await collect_fixture("cdf_items.cdf", content_type="application/xml")
    assert [(i.title, i.url) for i in items] == [
        ("First story of the CDF channel", "https://cdf.example/story-1.html"),
        ("Second story of the CDF channel", "https://cdf.example/story-2.html"),
    ]
    assert not stats.errors
    items, stats = await collect_fixture("cdf_empty.cdf", content_type="application/xml")
    assert items == [] and not stats.errors and stats.warnings == {"empty": 1}


# -- encodings --------------------------------------------------------------------------------
@pytest.mark.anyio
@pytest.mark.parametrize(
    ("name", "titles"),
    [
        (
            "koi8r_undeclared.xml",
            [
                "Новости науки: учёные нашли новый способ хранения энергии",
                "Погода на выходные: в Москве ожидается тёплая и солнечная погода",
            ],
        ),
        (
            "shift_jis_undeclared.xml",
            [
                "東京で新しい技術展示会が開かれました",
                "週末の天気：全国的に晴れて暖かくなるでしょう",
            ],
        ),
    ],
)
async def test_undeclared_legacy_encodings_decode(name: str, titles: list[str]) -> None:
    body = (FEEDS / name).read_bytes()
    assert b"encoding=" not in body
    items, stats = await collect_body(body)  # served with no charset either
    assert [i.title for i in items] == titles
    assert not stats.errors

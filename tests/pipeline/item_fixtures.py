"""Helpers of the item-quality tests: the hand-written Reddit and Mastodon payloads, served
through a replayed HAR to the real collectors."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from pipeline.clock import InstantClock
from pipeline.config import parse_sources
from pipeline.har import ReplayTransport, har_entry
from pipeline.items import ContentItem
from pipeline.sources import SourceStats, collect_source

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
REDDIT = FIXTURES / "reddit"
MASTODON = FIXTURES / "mastodon"
ITEM_QUALITY = FIXTURES / "item-quality"


def fixture(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def json_entry(
    url: str, doc: Any, status: int = 200, headers: tuple[tuple[str, str], ...] = ()
) -> dict[str, Any]:
    """One HAR entry answering ``url`` with ``doc`` as JSON."""
    mime = "application/json; charset=utf-8"
    return har_entry(
        started=datetime(2024, 5, 14, 6, tzinfo=UTC),
        time_ms=200.0,
        url=url,
        status=status,
        body=json.dumps(doc, ensure_ascii=False).encode(),
        mime=mime,
        response_headers=[("content-type", mime), *headers],
    )


async def collect(
    har: Path | list[dict[str, Any]], **entry: Any
) -> tuple[list[ContentItem], SourceStats]:
    """Serve a HAR file (or its entries) to one source (its sources.yaml entry); collect it."""
    entry.setdefault("name", "s")
    source = parse_sources({"sources": [entry]}).sources[0]
    clock = InstantClock()
    stats = SourceStats(name=source.name, type=source.type)
    async with httpx.AsyncClient(transport=ReplayTransport(har, clock)) as client:
        items = [item async for item in collect_source(client, source, clock, stats)]
    return items, stats


def comparable(item: ContentItem) -> dict[str, Any]:
    """An item's fields but the collection time (and the source's name in sources.yaml)."""
    data = item.to_dict()
    del data["collected_at"], data["source_name"]
    return data

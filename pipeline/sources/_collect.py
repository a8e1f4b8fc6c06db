"""Dispatch by source type; turn every failure into a counted error."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import AsyncGenerator, Callable

import httpx

from pipeline.clock import Clock
from pipeline.config import SourceConfig
from pipeline.errors import ReplayError
from pipeline.items import ContentItem, content_hash
from pipeline.sources._feeds import collect_feed
from pipeline.sources._gate import ParseGate
from pipeline.sources._http import Fetcher, SourceFetchError
from pipeline.sources._mastodon import collect_mastodon
from pipeline.sources._reddit import collect_reddit
from pipeline.sources._stats import SourceStats
from pipeline.validators import Validators

log = logging.getLogger(__name__)

_COLLECTORS: dict[str, Callable[..., AsyncGenerator[ContentItem, None]]] = {
    "reddit": collect_reddit,
    "rss": collect_feed,
    "mastodon": collect_mastodon,
}


def within_cap(item: ContentItem, cap: int, stats: SourceStats) -> ContentItem:
    """The item with at most ``cap`` characters of title plus body (every source type; feeds
    cut earlier, before HTML is converted); a cut counts as a ``truncated`` warning."""
    if len(item.title) + len(item.body) <= cap:
        return item
    stats.warnings["truncated"] += 1
    title = item.title[:cap]
    body = item.body[: cap - len(title)]
    return dataclasses.replace(
        item,
        title=title,
        body=body,
        content_hash=content_hash(title, body),
        metadata={**item.metadata, "truncated": True},
    )


async def collect_source(
    client: httpx.AsyncClient,
    source: SourceConfig,
    clock: Clock,
    stats: SourceStats,
    validators: Validators | None = None,
    *,
    parse_gate: ParseGate | None = None,
) -> AsyncGenerator[ContentItem, None]:
    """Yield the accepted items of one source; failures end it and are counted in ``stats``.

    ``validators``: send the previous run's ETag / Last-Modified (feeds) and keep what this
    run receives (``pipeline.validators``). ``parse_gate``: while it is closed, a response is
    not parsed, and a feed says while it is being parsed off the loop (the collection run holds
    parsing while an early message is in flight, and its sends while a parse may bring out an
    earlier item: ``pipeline.sources._gate``)."""
    fetcher = Fetcher(client, source, clock, stats, validators, parse_gate=parse_gate)
    collector = _COLLECTORS[source.type](fetcher, source, clock, stats)
    started = clock.task_time()
    try:
        async for item in collector:
            yield within_cap(item, source.max_item_chars, stats)
    except ReplayError:
        raise
    except SourceFetchError as exc:
        stats.error(exc.kind, str(exc))
        log.warning("source_error source=%s kind=%s error=%s", source.name, exc.kind, exc)
    except Exception as exc:  # a malformed payload must not stop the other sources
        stats.error("parse", f"{type(exc).__name__}: {exc}")
        log.warning(
            "source_error source=%s kind=parse error=%s: %s",
            source.name,
            type(exc).__name__,
            exc,
            exc_info=log.isEnabledFor(logging.DEBUG),
        )
    finally:
        await collector.aclose()
    log.info(
        "source_done source=%s type=%s requests=%d accepted=%d rejected=%d errors=%s "
        "warnings=%s duration_s=%.2f",
        source.name,
        source.type,
        stats.requests,
        stats.accepted,
        sum(stats.rejections.values()),
        dict(stats.errors) or "{}",
        dict(stats.warnings) or "{}",
        clock.task_time() - started,
    )

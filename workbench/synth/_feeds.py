"""The feed fakes: feeds in RSS 2.0, RSS 1.0 (RDF) and Atom 1.0, and a URL that answers HTML.

Each feed shows its latest entries; some come back from the last run. An aggregator
republishes a fresh post of feeds it follows (same link plus its own tracking parameter,
same text, its own guid). Feeds differ in format, charset (one ISO-8859-1, sent as bytes),
server speed and whether the first request is rate limited (429 with ``Retry-After``).
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from pipeline.config import SourceConfig
from workbench.synth._exchange import Exchange, Latency, Plan, RequestSchedule, rfc822
from workbench.synth._feed_formats import Document, FeedEntry
from workbench.synth._words import GERMAN_BODY, GERMAN_TITLES, html_paragraphs
from workbench.synth._world import SourceSpec, World

BLOGGER_BLOG = "tag:blogger.com,1999:blog-3941553907430899163"


# -- what the entries of a feed look like ---------------------------------------------------
class EntryStyle(Protocol):
    def entry(self, world: World, run_start: datetime) -> FeedEntry: ...


@dataclass(frozen=True)
class LinkList:
    """A link aggregator (Hacker News): links to other sites, numeric item ids."""

    domains: tuple[str, ...]
    first_id: int

    def entry(self, world: World, run_start: datetime) -> FeedEntry:
        rng = world.rng
        st = world.story(run_start, body_paragraphs=0, domain=rng.choice(self.domains))
        return FeedEntry(st, str(self.first_id + rng.randint(0, 99_999)), st.url)


@dataclass(frozen=True, eq=False)
class Planet:
    """A blog aggregator: posts of the blogs it follows; it also republishes one fresh post
    of each feed in ``republishes`` per run (same link with its own tracking parameter)."""

    blogs: tuple[str, ...]
    republishes: tuple[Feed, ...] = ()

    def entry(self, world: World, run_start: datetime) -> FeedEntry:
        blog = world.rng.choice(self.blogs)
        st = world.story(run_start, body_paragraphs=2, domain=blog, max_age_h=20)
        return FeedEntry(st, st.url, st.url)


@dataclass(frozen=True)
class GermanNews:
    """A German news site: German titles and text, numeric article URLs as guids."""

    domain: str

    def entry(self, world: World, run_start: datetime) -> FeedEntry:
        st = world.story(run_start, body_paragraphs=0, domain=self.domain,
                         templates=GERMAN_TITLES)  # fmt: skip
        st.body = world.words.fill(GERMAN_BODY)
        guid = f"https://{self.domain}/{world.rng.randint(2405000, 2405999)}.html"
        return FeedEntry(st, guid, st.url + "?utm_source=rss")


@dataclass(frozen=True)
class Blog:
    """A blog: posts of 2-4 paragraphs; guid the link, a Blogger tag or a WordPress ``?p=``."""

    domain: str
    max_age_h: float = 10.0
    guid: str = "link"  # link | blogger | wordpress
    link_suffix: str = ""  # tracking parameters the feed adds to its links

    def entry(self, world: World, run_start: datetime) -> FeedEntry:
        rng = world.rng
        st = world.story(run_start, body_paragraphs=rng.randint(2, 4), domain=self.domain,
                         max_age_h=self.max_age_h)  # fmt: skip
        if self.guid == "blogger":
            guid = f"{BLOGGER_BLOG}.post-{rng.randint(10**18, 10**19)}"
        elif self.guid == "wordpress":
            guid = f"https://{self.domain}/?p={rng.randint(70000, 79999)}"
        else:
            guid = st.url
        return FeedEntry(st, guid, st.url + self.link_suffix)


@dataclass(frozen=True, eq=False)
class Feed(SourceSpec):
    """A feed URL as a source: its sources.yaml entry, its entries, its server."""

    TYPE = "rss"

    latency: Latency
    document: Document
    plan: Plan | None = None  # None: no entries (an HTML page)
    style: EntryStyle | None = None
    server: str = "Apache"
    retry_after_s: float | None = None  # the first request is answered 429, Retry-After this


class FeedsFake:
    """Every feed of a profile, run after run."""

    def __init__(self, world: World, feeds: Sequence[Feed]) -> None:
        self.world = world
        self.feeds = feeds
        self.previous: dict[str, list[FeedEntry]] = {}

    def run(
        self, run_start: datetime, index: int, sources: Mapping[str, SourceConfig]
    ) -> list[dict[str, Any]]:
        """The HAR entries of one run of every feed."""
        made = self._entries(run_start)
        entries: list[dict[str, Any]] = []
        for feed in self.feeds:
            listed = made.get(feed.name, [])
            entries += self._exchanges(feed, sources[feed.name], listed, run_start, index)
        return entries

    def _entries(self, run_start: datetime) -> dict[str, list[FeedEntry]]:
        made: dict[str, list[FeedEntry]] = {}
        for feed in self.feeds:
            if feed.plan is None or feed.style is None:
                continue
            carried = self.world.carry(self.previous.get(feed.name, []), feed.plan)
            fresh: list[FeedEntry] = []
            while len(carried) + len(fresh) < feed.plan.size:
                fresh.append(feed.style.entry(self.world, run_start))
            made[feed.name] = sorted(carried + fresh, key=lambda e: e.story.published, reverse=True)
        for feed in self.feeds:
            if isinstance(feed.style, Planet):
                for origin in feed.style.republishes:
                    self._republish(made[feed.name], origin, made[origin.name])
        for name, listed in made.items():
            self.previous[name] = listed
        return made

    def _republish(self, listed: list[FeedEntry], origin: Feed, theirs: list[FeedEntry]) -> None:
        fresh_ones = [e for e in theirs if e not in self.previous.get(origin.name, [])]
        if not fresh_ones:
            return
        e = fresh_ones[0]
        copy = FeedEntry(
            e.story,
            guid=f"planet:{e.guid}",
            link=e.link + ("&" if "?" in e.link else "?") + "utm_source=planetpython",
            content_html=html_paragraphs(e.story.body).replace("</p><p>", "</p>\n<p>"),
        )
        listed.insert(1, copy)
        listed.pop()

    def _exchanges(
        self,
        feed: Feed,
        source: SourceConfig,
        entries: list[FeedEntry],
        run_start: datetime,
        index: int,
    ) -> list[dict[str, Any]]:
        assert source.url is not None
        rng = self.world.rng
        schedule = RequestSchedule(source, run_start, rng)
        doc = feed.document
        if feed.plan is None:
            headers = [("content-type", doc.mime), ("server", feed.server)]
            body = doc.render(entries, source.url, run_start)
        else:
            now = run_start - timedelta(minutes=rng.randint(1, 50))
            body = doc.render(entries, source.url, now)
            headers = [
                ("content-type", doc.mime),
                ("last-modified", rfc822(now)),
                ("etag", f'W/"{zlib.crc32(f"{source.name}:{index}".encode()):08x}"'),
                ("cache-control", "max-age=300"),
                ("server", feed.server),
            ]
        if feed.retry_after_s is not None:
            # Rate limited first; the collector waits Retry-After and tries again.
            schedule.add(
                Exchange(
                    url=source.url,
                    status=429,
                    headers=[
                        ("content-type", "text/html; charset=utf-8"),
                        ("retry-after", f"{feed.retry_after_s:g}"),
                        ("server", feed.server),
                    ],
                    body=b"<html><body><h1>429 Too Many Requests</h1></body></html>\n",
                    latency_s=feed.latency.sample(rng) * 0.5,
                    mime="text/html; charset=utf-8",
                    retry_after_s=feed.retry_after_s,
                )
            )
        schedule.add(
            Exchange(
                url=source.url,
                status=200,
                headers=headers,
                body=body,
                latency_s=feed.latency.sample(rng),
                mime=doc.mime,
                base64_body=doc.base64,
                compressed=doc.compressed,
            )
        )
        return schedule.entries

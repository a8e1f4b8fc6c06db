"""A seeded generator of a realistic recording, for machines without internet.

``generate(out, seed)`` writes a recording folder (PRODUCT.md section 4, Recordings): three
collection runs 8 h apart of Reddit listings, RSS 2.0 / RSS 1.0 / Atom feeds and Mastodon
timelines, in the platforms' own formats, with recorded latencies, politeness pauses, a 429
with ``Retry-After``, a slow feed, an ISO-8859-1 feed and a feed URL that returns an HTML page.
Items come back in later runs (same ids) and some stories appear on two sources in the same run
(same canonical link and the same normalized text), so that deduplication hits 10-20 %.
"""

from __future__ import annotations

import base64
import html
import itertools
import json
import math
import random
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit
from xml.sax.saxutils import escape

from pipeline.config import SourceConfig, parse_sources
from pipeline.har import HAR_CREATOR
from pipeline.recording import MANIFEST_FORMAT

RUN_STARTS = tuple(datetime(2024, 5, 14, h, 0, tzinfo=UTC) for h in (0, 8, 16))
USER_AGENT = "streaming-collection-workbench/0.1"

SOURCES_YAML = """\
# The configuration this (synthetic) recording was made with. Real platform URLs: replay
# matches them, nothing is fetched.
defaults:
  mode: streaming
  requests_per_minute: 60
  timeout_s: 30
  max_response_bytes: 5242880
  criteria: {min_title_chars: 10, min_body_chars: 0}
sources:
  - {name: reddit-python, type: reddit, subreddit: Python, sort: hot, limit: 25, pages: 2,
     min_score: 0, requests_per_minute: 30, base_url: "https://www.reddit.com"}
  - {name: reddit-programming, type: reddit, subreddit: programming, sort: new, limit: 25,
     pages: 2, min_score: 1, requests_per_minute: 30, base_url: "https://www.reddit.com"}
  - {name: reddit-machinelearning, type: reddit, subreddit: MachineLearning, sort: new,
     limit: 25, pages: 2, min_score: 0, requests_per_minute: 30,
     base_url: "https://www.reddit.com"}
  - {name: hn-frontpage, type: rss, url: "https://news.ycombinator.com/rss"}
  - {name: lwn-headlines, type: rss, url: "https://lwn.net/headlines/rss"}
  - {name: python-insider, type: rss, url: "https://blog.python.org/feeds/posts/default"}
  - {name: planet-python, type: rss, url: "https://planetpython.org/rss20.xml"}
  - {name: real-python, type: rss, url: "https://realpython.com/atom.xml"}
  - {name: golem-developer, type: rss, url: "https://rss.golem.de/rss.php?tp=dev&feed=RSS2.0"}
  - {name: martin-fowler, type: rss, url: "https://martinfowler.com/feed.atom"}
  - {name: github-blog, type: rss, url: "https://github.blog/feed/"}
  - {name: infoq, type: rss, url: "https://www.infoq.com/feed"}
  - {name: fosstodon-python, type: mastodon, instance: "https://fosstodon.org",
     timeline: "tag:python", limit: 20, pages: 2, min_boosts: 0}
  - {name: mastodon-social-trending, type: mastodon, instance: "https://mastodon.social",
     timeline: trending, limit: 20, pages: 1, min_favourites: 1}
"""

README = """\
# synthetic-tech: a generated recording

This machine had no internet access when the recording was made, so it is **synthetic**:
`workbench synth --seed {seed} --out DIR` generates it byte for byte (see `workbench/synth.py`).
It imitates three collection runs 8 h apart ({runs}) of {n_sources} sources:
Reddit listings (`Listing`/`t3` JSON, `after` pagination, stickied, NSFW and low-score posts,
HTML-escaped text), RSS 2.0 / RSS 1.0 / Atom 1.0 feeds (namespaces, HTML content, one
ISO-8859-1 feed, one feed that takes ~8 s, one URL that returns an HTML page, one 429 with
`Retry-After` then success) and Mastodon (`Status` JSON with `account`, `reblog`, `Link`
headers; a tag timeline of 2 pages of 20 and trending statuses).

Latencies are drawn per request (Reddit 0.3-1 s, Mastodon 0.15-0.5 s, feeds 0.1-3 s with a
tail) and requests of one source are spaced by its politeness interval. Posts come back in
later runs (same ids) and some stories appear on two sources in one run (same canonical link
and text), for a deduplication hit rate of {dedup:.1%} over the three runs.

Files: `sources.yaml` (the configuration), `run-000.har` ... (HAR 1.2, one per run),
`manifest.json` (run start times, `"synthetic": true`, the generator and seed).
Replay it with `workbench inspect {name}`; see docs/recordings.md.
"""


# -- words ---------------------------------------------------------------------------------
PROJECTS = (
    "CPython",
    "Django",
    "FastAPI",
    "Flask",
    "NumPy",
    "pandas",
    "Polars",
    "PyTorch",
    "Rust",
    "Go",
    "Kubernetes",
    "PostgreSQL",
    "SQLite",
    "Redis",
    "Linux",
    "WebAssembly",
    "TypeScript",
    "Deno",
    "Zig",
    "htmx",
    "uv",
    "Ruff",
    "Pydantic",
    "asyncio",
    "Celery",
    "Kafka",
    "DuckDB",
    "Firefox",
    "Git",
    "LLVM",
    "GCC",
    "Nix",
    "Neovim",
    "Jupyter",
    "scikit-learn",
    "JAX",
    "Triton",
    "ONNX",
    "SQLAlchemy",
    "Starlette",
    "Trio",
    "mypy",
    "Cython",
    "PyPy",
    "Numba",
    "Airflow",
    "Dask",
    "Ray",
    "Arrow",
    "Parquet",
    "gRPC",
    "Envoy",
    "Terraform",
    "Podman",
)
FEATURES = (
    "a faster garbage collector",
    "free-threaded builds",
    "structured logging",
    "native async support",
    "a new type checker",
    "incremental compilation",
    "zero-copy serialization",
    "a rewritten query planner",
    "better error messages",
    "pattern matching",
    "lazy imports",
    "a JIT compiler",
    "WASI support",
    "SIMD kernels",
    "per-interpreter GILs",
    "streaming responses",
    "a plugin API",
    "reproducible builds",
)
THINGS = (
    "API",
    "test suite",
    "build pipeline",
    "web scraper",
    "CLI",
    "queue worker",
    "ETL job",
    "data pipeline",
    "search index",
    "scheduler",
    "rate limiter",
    "feed reader",
    "chat bot",
    "static site generator",
    "package manager",
    "profiler",
    "debugger",
    "dashboard",
)
INTERNALS = (
    "memory allocator",
    "import system",
    "event loop",
    "bytecode",
    "type system",
    "query optimizer",
    "lock manager",
    "dependency resolver",
    "borrow checker",
    "tokenizer",
)
ADJECTIVES = ("tiny", "fast", "boring", "typed", "async", "distributed", "offline-first")
VERBS = ("replaced", "outgrew", "rewrote", "dropped", "adopted", "benchmarked")
TEMPLATES = (
    "{p} {v} released with {f}",
    "How we cut our {t} latency by {n}% with {p}",
    "Is {p} still worth learning in 2024?",
    "A deep dive into the {p} {i}",
    "Why our team {verb} {p} for the {t}",
    "Show: I built a {a} {t} in {p}",
    "{p} vs {p2}: benchmarking the {t}",
    "Understanding the {i} in {p}",
    "The state of {p} packaging & tooling",
    "Lessons from migrating {n}k lines from {p} to {p2}",
    "When x < y is slow: {p} {i} surprises",
    "{p} {v}: what's new for {t} authors",
    "Profiling a {a} {t} written in {p}",
    "{n} things I wish I knew before using {p}",
    "Q&A with the {p} maintainers about {f}",
)
SENTENCES = (
    "We ran it in production for {n} weeks before writing this up.",
    "The benchmark numbers are at the end, along with the scripts to reproduce them.",
    "Most of the speedup came from avoiding copies between {p} and {p2}.",
    "The migration took longer than planned, mostly because of the {i}.",
    "Feedback welcome, especially from people who run {p} at scale.",
    "It is not a silver bullet, but for a {t} it was the right trade-off.",
    "The docs describe {f}, but the details are in the release notes.",
    "I expected the {i} to be the bottleneck; it was DNS.",
    "Our {t} now handles {n}x the traffic on the same hardware.",
    "There is a short video of the talk & the slides are linked below.",
)
GERMAN_TITLES = (
    "{p} {v} veröffentlicht: schnellere Übersetzung und {n} Änderungen",
    "Für Entwickler: {p} bekommt neue Funktionen für den {t}",
    "Sicherheitslücke in {p}: Update auf {v} empfohlen",
    "Größere Änderungen bei {p}: was Entwickler jetzt wissen müssen",
    "Programmiersprache {p}: Version {v} bringt Verbesserungen für {n} Plattformen",
)
GERMAN_BODY = (
    "Die neue Version von {p} steht ab sofort zum Download bereit. Laut den Entwicklern "
    "wurden {n} Fehler behoben und die Geschwindigkeit deutlich verbessert. Außerdem gibt "
    "es Änderungen für Nutzer von {p2}, die vor dem Update geprüft werden sollten."
)
TOOTS = (
    "Just released {p} {v}! {f} is finally in. Changelog and upgrade notes in the thread.",
    "TIL that the {p} {i} caches more than I thought. Saved {n} ms per request in our {t}.",
    "Hot take: most {t} projects do not need {p2}. A {a} {p} script is fine.",
    "Our {t} moved from {p2} to {p} last week. Fewer moving parts, {n}% less memory.",
    "Reading the {p} source today: the {i} is surprisingly readable.",
    "Looking for reviewers for a small {p} PR that adds {f}. Beginners welcome!",
    "Slides from my talk on {f} in {p} are up. Thanks to everyone who came!",
    "Is anyone running {p} {v} in production yet? How is the {i}?",
)


@dataclass
class Story:
    """One piece of content as it would appear on any platform."""

    key: int
    title: str
    url: str
    body: str  # plain paragraphs separated by blank lines ("" for a link post)
    author: str
    published: datetime
    extra: dict[str, Any] = field(default_factory=dict)


class Words:
    """Unique titles and bodies from the word lists, drawn with one seeded RNG."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.titles: set[str] = set()
        self.keys = itertools.count(1)

    def fill(self, template: str) -> str:
        r = self.rng
        p, p2 = r.sample(PROJECTS, 2)
        return template.format(
            p=p,
            p2=p2,
            v=f"{r.randint(0, 7)}.{r.randint(0, 19)}",
            f=r.choice(FEATURES),
            t=r.choice(THINGS),
            i=r.choice(INTERNALS),
            a=r.choice(ADJECTIVES),
            verb=r.choice(VERBS),
            n=r.randint(2, 95),
        )

    def title(self, templates: Sequence[str] = TEMPLATES) -> str:
        for _ in range(1000):
            title = self.fill(self.rng.choice(templates))
            if title.casefold() not in self.titles:
                self.titles.add(title.casefold())
                return title
        raise RuntimeError("word lists exhausted")  # pragma: no cover

    def paragraphs(self, count: int) -> str:
        return "\n\n".join(
            " ".join(self.fill(s) for s in self.rng.sample(SENTENCES, self.rng.randint(2, 4)))
            for _ in range(count)
        )

    def slug(self, title: str) -> str:
        cleaned = "".join(c.lower() if c.isalnum() else "-" for c in title)
        return "-".join(part for part in cleaned.split("-") if part)[:60]


def _html_paragraphs(text: str) -> str:
    return "".join(f"<p>{html.escape(p, quote=False)}</p>" for p in text.split("\n\n") if p)


# -- timing --------------------------------------------------------------------------------
def latency(rng: random.Random, kind: str) -> float:
    """Seconds one request takes, drawn from the platform's distribution."""
    if kind == "reddit":
        return min(1.0, max(0.3, rng.lognormvariate(math.log(0.5), 0.3)))
    if kind == "mastodon":
        return min(0.5, max(0.15, rng.lognormvariate(math.log(0.25), 0.3)))
    # feeds: mostly fast CDNs, a tail of slow origins
    return min(3.0, max(0.1, rng.lognormvariate(math.log(0.5), 0.6)))


def _timings(rng: random.Random, total_ms: float, first: bool) -> dict[str, float]:
    connect = round(total_ms * rng.uniform(0.08, 0.15), 3) if first else -1
    ssl = round(connect * 0.6, 3) if first else -1
    dns = round(rng.uniform(2, 20), 3) if first else -1
    send = 0.2
    receive = round(total_ms * rng.uniform(0.05, 0.2), 3)
    used = sum(v for v in (connect, dns, send, receive) if v > 0)
    wait = round(max(0.0, total_ms - used), 3)
    return {"blocked": -1, "dns": dns, "connect": connect, "ssl": ssl,
            "send": send, "wait": wait, "receive": receive}  # fmt: skip


@dataclass
class Exchange:
    url: str
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    latency_s: float
    mime: str
    retry_after_s: float | None = None
    base64_body: bool = False
    compressed: bool = False


class Timeline:
    """Places one source's requests in time as its collector would make them."""

    def __init__(self, source: SourceConfig, run_start: datetime, rng: random.Random) -> None:
        self.source = source
        self.run_start = run_start
        self.rng = rng
        self.t = 0.0
        self.last_start: float | None = None
        self.wait_s = 0.0
        self.entries: list[dict[str, Any]] = []

    def add(self, exchange: Exchange) -> None:
        start = self.t + self.wait_s
        if self.last_start is not None:
            start = max(start, self.last_start + self.source.politeness_interval_s)
        self.last_start = start
        self.t = start + exchange.latency_s
        self.wait_s = exchange.retry_after_s or 0.0
        self.entries.append(self._entry(start, exchange))

    def _entry(self, start: float, ex: Exchange) -> dict[str, Any]:
        when = self.run_start + timedelta(seconds=start)
        total_ms = round(ex.latency_s * 1000, 3)
        parts = urlsplit(ex.url)
        date = format_datetime(when + timedelta(seconds=ex.latency_s * 0.7), usegmt=True)
        headers = [("date", date), *ex.headers]
        content: dict[str, Any] = {"size": len(ex.body), "mimeType": ex.mime}
        if ex.base64_body:
            content["text"] = base64.b64encode(ex.body).decode("ascii")
            content["encoding"] = "base64"
        else:
            content["text"] = ex.body.decode("utf-8")
        body_size = len(ex.body)
        if ex.compressed:
            body_size = int(len(ex.body) * 0.28)
            content["compression"] = len(ex.body) - body_size
            headers.append(("content-encoding", "gzip"))
        headers.append(("content-length", str(body_size)))
        return {
            "startedDateTime": when.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "time": total_ms,
            "request": {
                "method": "GET",
                "url": ex.url,
                "httpVersion": "HTTP/1.1",
                "cookies": [],
                "headers": [
                    {"name": "host", "value": parts.netloc},
                    {"name": "accept", "value": "*/*"},
                    {"name": "accept-encoding", "value": "gzip, deflate"},
                    {"name": "connection", "value": "keep-alive"},
                    {"name": "user-agent", "value": USER_AGENT},
                ],
                "queryString": [
                    {"name": k, "value": v}
                    for k, _, v in (q.partition("=") for q in parts.query.split("&") if q)
                ],
                "headersSize": -1,
                "bodySize": 0,
            },
            "response": {
                "status": ex.status,
                "statusText": _REASONS.get(ex.status, ""),
                "httpVersion": "HTTP/1.1",
                "cookies": [],
                "headers": [{"name": k, "value": v} for k, v in headers],
                "content": content,
                "redirectURL": "",
                "headersSize": -1,
                "bodySize": body_size,
            },
            "cache": {},
            "timings": _timings(self.rng, total_ms, first=len(self.entries) == 0),
            "serverIPAddress": _fake_ip(parts.hostname or ""),
            "connection": str(443),
        }


_REASONS = {200: "OK", 429: "Too Many Requests", 503: "Service Unavailable"}


def _fake_ip(host: str) -> str:
    h = sum(host.encode()) % 200
    return f"151.101.{h}.{(h * 7) % 250 + 1}"


# -- per-platform payloads -----------------------------------------------------------------
_B36 = "0123456789abcdefghijklmnopqrstuvwxyz"


def _b36(rng: random.Random, n: int = 7) -> str:
    return "1" + "".join(rng.choice(_B36) for _ in range(n - 1))


@dataclass
class RedditPost:
    story: Story
    id36: str
    subreddit: str
    score: int
    num_comments: int
    is_self: bool
    stickied: bool = False
    over_18: bool = False
    flair: str | None = None
    link: str | None = None  # the submitted URL of a link post (may carry utm_*)
    title: str | None = None  # as typed by the submitter


def reddit_t3(post: RedditPost, rng: random.Random) -> dict[str, Any]:
    s = post.story
    title = post.title or s.title
    permalink = f"/r/{post.subreddit}/comments/{post.id36}/{s.extra.get('slug', 'post')}/"
    url = f"https://www.reddit.com{permalink}" if post.is_self else (post.link or s.url)
    selftext = s.body if post.is_self else ""
    created = s.published.timestamp()
    selftext_html = (
        html.escape(f'<!-- SC_OFF --><div class="md">{_html_paragraphs(selftext)}</div>'
                    "<!-- SC_ON -->", quote=False)
        if selftext else None
    )  # fmt: skip
    return {
        "kind": "t3",
        "data": {
            "approved_at_utc": None,
            "subreddit": post.subreddit,
            # The anonymous JSON escapes &, < and > in text fields.
            "selftext": html.escape(selftext, quote=False),
            "author_fullname": f"t2_{_b36(rng, 8)}",
            "saved": False,
            "mod_reason_title": None,
            "gilded": 0,
            "clicked": False,
            "title": html.escape(title, quote=False),
            "link_flair_richtext": [{"e": "text", "t": post.flair}] if post.flair else [],
            "subreddit_name_prefixed": f"r/{post.subreddit}",
            "hidden": False,
            "pwls": 6,
            "link_flair_css_class": post.flair.lower() if post.flair else None,
            "downs": 0,
            "thumbnail_height": None,
            "top_awarded_type": None,
            "hide_score": post.score < 2,
            "name": f"t3_{post.id36}",
            "quarantine": False,
            "link_flair_text_color": "dark" if post.flair else None,
            "upvote_ratio": round(rng.uniform(0.6, 0.99), 2),
            "author_flair_background_color": None,
            "subreddit_type": "public",
            "ups": post.score,
            "total_awards_received": 0,
            "media_embed": {},
            "thumbnail_width": None,
            "author_flair_template_id": None,
            "is_original_content": False,
            "user_reports": [],
            "secure_media": None,
            "is_reddit_media_domain": False,
            "is_meta": False,
            "category": None,
            "secure_media_embed": {},
            "link_flair_text": post.flair,
            "can_mod_post": False,
            "score": post.score,
            "approved_by": None,
            "is_created_from_ads_ui": False,
            "author_premium": False,
            "thumbnail": "self" if post.is_self else "default",
            "edited": s.extra.get("edited", False),
            "author_flair_css_class": None,
            "author_flair_richtext": [],
            "gildings": {},
            "content_categories": None,
            "is_self": post.is_self,
            "mod_note": None,
            "created": created,
            "link_flair_type": "richtext" if post.flair else "text",
            "wls": 6,
            "removed_by_category": None,
            "banned_by": None,
            "author_flair_type": "text",
            "domain": f"self.{post.subreddit}" if post.is_self else urlsplit(url).hostname,
            "allow_live_comments": False,
            "selftext_html": selftext_html,
            "likes": None,
            "suggested_sort": None,
            "banned_at_utc": None,
            "view_count": None,
            "archived": False,
            "no_follow": post.score < 3,
            "is_crosspostable": False,
            "pinned": False,
            "over_18": post.over_18,
            "all_awardings": [],
            "awarders": [],
            "media_only": False,
            "can_gild": False,
            "spoiler": False,
            "locked": False,
            "author_flair_text": None,
            "treatment_tags": [],
            "visited": False,
            "removed_by": None,
            "num_reports": None,
            "distinguished": "moderator" if post.stickied else None,
            "subreddit_id": f"t5_{_b36(random.Random(post.subreddit), 5)}",
            "author_is_blocked": False,
            "mod_reason_by": None,
            "removal_reason": None,
            "link_flair_background_color": "#ffd635" if post.flair else "",
            "id": post.id36,
            "is_robot_indexable": True,
            "report_reasons": None,
            "author": s.author,
            "discussion_type": None,
            "num_comments": post.num_comments,
            "send_replies": True,
            "contest_mode": False,
            "mod_reports": [],
            "author_patreon_flair": False,
            "author_flair_text_color": None,
            "permalink": permalink,
            "stickied": post.stickied,
            "url": url,
            "subreddit_subscribers": {"Python": 1325874, "programming": 6384772}.get(
                post.subreddit, 2912450
            ),
            "created_utc": created,
            "num_crossposts": 0,
            "media": None,
            "is_video": False,
        },
    }


def reddit_listing(children: list[dict[str, Any]], after: str | None) -> dict[str, Any]:
    return {
        "kind": "Listing",
        "data": {
            "after": after,
            "dist": len(children),
            "modhash": "",
            "geo_filter": "",
            "children": children,
            "before": None,
        },
    }


@dataclass
class Toot:
    story: Story
    uri: str
    url: str
    account: dict[str, Any]
    reply_to: str | None = None
    boosts: int = 0
    favourites: int = 0
    replies: int = 0
    tags: tuple[str, ...] = ("python",)


def mastodon_status(toot: Toot, local_id: str, instance: str) -> dict[str, Any]:
    s = toot.story
    tag_links = " ".join(
        f'<a href="https://{instance}/tags/{t}" class="mention hashtag" rel="tag">#<span>{t}</span></a>'
        for t in toot.tags
    )
    content = f"<p>{html.escape(s.body, quote=False)}</p><p>{tag_links}</p>"
    acct = toot.account["acct"]
    home = toot.account["url"].split("/")[2]
    account = dict(toot.account)
    if home != instance:
        account["acct"] = f"{acct}@{home}"
    return {
        "id": local_id,
        "created_at": s.published.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "in_reply_to_id": toot.reply_to,
        "in_reply_to_account_id": "109283749201837465" if toot.reply_to else None,
        "sensitive": False,
        "spoiler_text": "",
        "visibility": "public",
        "language": "en",
        "uri": toot.uri,
        "url": toot.url,
        "replies_count": toot.replies,
        "reblogs_count": toot.boosts,
        "favourites_count": toot.favourites,
        "edited_at": None,
        "favourited": False,
        "reblogged": False,
        "muted": False,
        "bookmarked": False,
        "content": content,
        "filtered": [],
        "reblog": None,
        "application": {"name": "Web", "website": None} if home == instance else None,
        "account": account,
        "media_attachments": [],
        "mentions": [],
        "tags": [{"name": t, "url": f"https://{instance}/tags/{t}"} for t in toot.tags],
        "emojis": [],
        "card": None,
        "poll": None,
    }


def mastodon_account(rng: random.Random, username: str, home: str) -> dict[str, Any]:
    created = datetime(2022, 11, rng.randint(1, 28), tzinfo=UTC)
    return {
        "id": str(rng.randint(10**17, 10**18 - 1)),
        "username": username,
        "acct": username,
        "display_name": username.replace("_", " ").title(),
        "locked": False,
        "bot": False,
        "discoverable": True,
        "group": False,
        "created_at": created.isoformat().replace("+00:00", ".000Z"),
        "note": f"<p>{username.title()} writes software and toots about it.</p>",
        "url": f"https://{home}/@{username}",
        "uri": f"https://{home}/users/{username}",
        "avatar": f"https://cdn.{home}/accounts/avatars/{username}.png",
        "avatar_static": f"https://cdn.{home}/accounts/avatars/{username}.png",
        "header": f"https://{home}/headers/original/missing.png",
        "header_static": f"https://{home}/headers/original/missing.png",
        "followers_count": rng.randint(10, 9000),
        "following_count": rng.randint(10, 900),
        "statuses_count": rng.randint(50, 20000),
        "last_status_at": "2024-05-13",
        "emojis": [],
        "fields": [],
    }


def snowflake(when: datetime, rng: random.Random) -> str:
    return str((int(when.timestamp() * 1000) << 16) + rng.randint(0, 65535))


# -- feed documents ------------------------------------------------------------------------
def rfc822(when: datetime) -> str:
    return format_datetime(when, usegmt=True)


def iso(when: datetime) -> str:
    return when.isoformat().replace("+00:00", "Z")


@dataclass
class FeedEntry:
    story: Story
    guid: str
    link: str
    title: str | None = None
    content_html: str | None = None


def rss2_wordpress(
    title: str, site: str, feed_url: str, entries: list[FeedEntry], now: datetime
) -> bytes:
    items = []
    for e in entries:
        s = e.story
        content = e.content_html if e.content_html is not None else _html_paragraphs(s.body)
        summary = html.escape(s.body.split("\n\n")[0][:200], quote=False)
        cats = "".join(f"<category><![CDATA[{c}]]></category>" for c in s.extra.get("tags", []))
        items.append(
            f"""
		<item>
		<title>{escape(e.title or s.title)}</title>
		<link>{escape(e.link)}</link>
		<dc:creator><![CDATA[{s.author}]]></dc:creator>
		<pubDate>{rfc822(s.published)}</pubDate>
		{cats}
		<guid isPermaLink="false">{escape(e.guid)}</guid>
		<description>{escape(summary)}</description>
		<content:encoded><![CDATA[{content}]]></content:encoded>
		<slash:comments>{s.extra.get("comments", 0)}</slash:comments>
		</item>"""
        )
    return f"""<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"
	xmlns:content="http://purl.org/rss/1.0/modules/content/"
	xmlns:wfw="http://wellformedweb.org/CommentAPI/"
	xmlns:dc="http://purl.org/dc/elements/1.1/"
	xmlns:atom="http://www.w3.org/2005/Atom"
	xmlns:sy="http://purl.org/rss/1.0/modules/syndication/"
	xmlns:slash="http://purl.org/rss/1.0/modules/slash/"
	>

<channel>
	<title>{escape(title)}</title>
	<atom:link href="{escape(feed_url)}" rel="self" type="application/rss+xml" />
	<link>{escape(site)}</link>
	<description>Updates, ideas, and inspiration.</description>
	<lastBuildDate>{rfc822(now)}</lastBuildDate>
	<language>en-US</language>
	<sy:updatePeriod>hourly</sy:updatePeriod>
	<sy:updateFrequency>1</sy:updateFrequency>
	<generator>https://wordpress.org/?v=6.5.3</generator>{"".join(items)}
	</channel>
</rss>
""".encode()


def rss2_hn(entries: list[FeedEntry]) -> bytes:
    items = "".join(
        f"<item><title>{escape(e.story.title)}</title><link>{escape(e.link)}</link>"
        f"<pubDate>{rfc822(e.story.published)}</pubDate>"
        f"<comments>https://news.ycombinator.com/item?id={e.guid}</comments>"
        f'<description><![CDATA[<a href="https://news.ycombinator.com/item?id={e.guid}">'
        f"Comments</a>]]></description></item>"
        for e in entries
    )
    return (
        '<rss version="2.0"><channel><title>Hacker News</title>'
        "<link>https://news.ycombinator.com/</link>"
        "<description>Links for the intellectually curious, ranked by readers.</description>"
        f"{items}</channel></rss>"
    ).encode()


def rss1_lwn(entries: list[FeedEntry]) -> bytes:
    seq = "".join(f'<rdf:li resource="{escape(e.link)}" />' for e in entries)
    items = "".join(
        f"""
<item rdf:about="{escape(e.link)}">
  <title>{escape(e.story.title)}</title>
  <link>{escape(e.link)}</link>
  <description>{escape(_html_paragraphs(e.story.body))}</description>
  <dc:date>{iso(e.story.published)}</dc:date>
  <dc:creator>{escape(e.story.author)}</dc:creator>
</item>"""
        for e in entries
    )
    return f"""<?xml version="1.0" encoding="utf-8"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
         xmlns="http://purl.org/rss/1.0/"
         xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel rdf:about="https://lwn.net">
  <title>LWN.net</title>
  <link>https://lwn.net</link>
  <description>LWN.net is a comprehensive source of news and opinions from
        and about the Linux community.</description>
  <items><rdf:Seq>{seq}</rdf:Seq></items>
</channel>{items}
</rdf:RDF>
""".encode()


def atom(
    title: str, site: str, feed_url: str, feed_id: str, entries: list[FeedEntry], now: datetime
) -> bytes:
    body = "".join(
        f"""
  <entry>
    <id>{escape(e.guid)}</id>
    <published>{iso(e.story.published)}</published>
    <updated>{iso(e.story.published + timedelta(minutes=7))}</updated>
    <title type="text">{escape(e.title or e.story.title)}</title>
    <content type="html">{escape(e.content_html or _html_paragraphs(e.story.body))}</content>
    <link rel="alternate" type="text/html" href="{escape(e.link)}" title="{escape(e.story.title, {'"': "&quot;"})}"/>
    <author><name>{escape(e.story.author)}</name></author>
    {"".join(f'<category term="{escape(c)}"/>' for c in e.story.extra.get("tags", []))}
  </entry>"""
        for e in entries
    )
    return f"""<?xml version='1.0' encoding='UTF-8'?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en">
  <id>{escape(feed_id)}</id>
  <title type="text">{escape(title)}</title>
  <updated>{iso(now)}</updated>
  <link rel="alternate" type="text/html" href="{escape(site)}"/>
  <link rel="self" type="application/atom+xml" href="{escape(feed_url)}"/>
  <generator uri="https://example.invalid/generator">workbench synth</generator>{body}
</feed>
""".encode()


def rss2_latin1(entries: list[FeedEntry], now: datetime) -> bytes:
    items = "".join(
        f"""<item>
<title>{escape(e.story.title)}</title>
<link>{escape(e.link)}</link>
<description><![CDATA[{_html_paragraphs(e.story.body)}]]></description>
<pubDate>{rfc822(e.story.published)}</pubDate>
<guid isPermaLink="false">{escape(e.guid)}</guid>
<dc:creator>{escape(e.story.author)}</dc:creator>
</item>
"""
        for e in entries
    )
    doc = f"""<?xml version="1.0" encoding="ISO-8859-1"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel>
<title>Golem.de - Entwicklung</title>
<link>https://www.golem.de/specials/softwareentwicklung/</link>
<description>IT-News für Profis: Softwareentwicklung</description>
<language>de</language>
<lastBuildDate>{rfc822(now)}</lastBuildDate>
{items}</channel>
</rss>
"""
    return doc.encode("iso-8859-1")


INFOQ_HTML = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>InfoQ - Software Development News, Trends &amp; Best Practices</title>
<link rel="stylesheet" href="/styles/main.css">
<script>window.dataLayer = window.dataLayer || []; if (a < b && c) { run(); }</script>
</head>
<body class="home">
<header><nav><a href="/development/">Development</a> <a href="/architecture-design/">Architecture</a>
<a href="/ai-ml-data-eng/">AI, ML &amp; Data Engineering</a></nav></header>
<main>
<h1>Our RSS feeds have moved</h1>
<p>Please update your reader: see <a href="/rss/">all InfoQ feeds</a>.<br>
<img src="/img/rss.png" alt="RSS">
</main>
<footer><p>&copy; 2006-2024 C4Media</p></footer>
</body>
</html>
"""


# -- the generator -------------------------------------------------------------------------
@dataclass
class Plan:
    """How many items each source shows per run and how many come back from the last run."""

    size: int
    carry: float  # fraction of the previous run's items shown again


def generate(out: str | Path, seed: int = 42, name: str | None = None) -> dict[str, Any]:
    """Write the synthetic recording to ``out``; returns its manifest."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    sources = parse_sources(_yaml(SOURCES_YAML), out / "sources.yaml").sources
    gen = _Generator(random.Random(seed), {s.name: s for s in sources})
    runs = []
    for index, run_start in enumerate(RUN_STARTS):
        entries = gen.run(index, run_start)
        har_name = f"run-{index:03d}.har"
        _write_har(out / har_name, entries, f"synthetic collection run {index} (seed {seed})")
        runs.append(
            {
                "index": index,
                "har": har_name,
                "started_at": iso(run_start),
                "entries": len(entries),
            }
        )
    (out / "sources.yaml").write_text(SOURCES_YAML, encoding="utf-8")
    manifest = {
        "format": MANIFEST_FORMAT,
        "name": name or out.name,
        "synthetic": True,
        "description": (
            "Generated by `workbench synth`: no network was used. Payloads follow the "
            "platforms' formats; latencies and pauses are drawn from seeded distributions."
        ),
        "generator": {"command": f"workbench synth --seed {seed} --out DIR", "seed": seed},
        "created_with": HAR_CREATOR,
        "interval_hours": 8,
        "runs": runs,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


def write_readme(out: str | Path, seed: int, dedup_rate: float) -> None:
    out = Path(out)
    text = README.format(
        seed=seed,
        runs=", ".join(f"{t:%H:%M}" for t in RUN_STARTS) + " UTC",
        n_sources=len(parse_sources(_yaml(SOURCES_YAML)).sources),
        dedup=dedup_rate,
        name=f"data/recordings/{out.name}",
    )
    (out / "README.md").write_text(text, encoding="utf-8")


def _yaml(text: str) -> Any:
    import yaml

    return yaml.safe_load(text)


def _write_har(path: Path, entries: list[dict[str, Any]], comment: str) -> None:
    doc = {
        "log": {
            "version": "1.2",
            "creator": dict(HAR_CREATOR),
            "comment": comment,
            "pages": [],
            "entries": sorted(entries, key=lambda e: e["startedDateTime"]),
        }
    }
    path.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


REDDIT_PLANS = {
    "reddit-python": Plan(50, 0.30),
    "reddit-programming": Plan(50, 0.12),
    "reddit-machinelearning": Plan(50, 0.10),
}
FEED_PLANS = {
    "hn-frontpage": Plan(30, 0.20),
    "lwn-headlines": Plan(15, 0.20),
    "python-insider": Plan(6, 0.34),
    "planet-python": Plan(20, 0.15),
    "real-python": Plan(8, 0.25),
    "golem-developer": Plan(15, 0.13),
    "martin-fowler": Plan(8, 0.25),
    "github-blog": Plan(10, 0.20),
}
TOOT_PLANS = {"fosstodon-python": Plan(40, 0.10), "mastodon-social-trending": Plan(20, 0.25)}


class _Generator:
    def __init__(self, rng: random.Random, sources: dict[str, SourceConfig]) -> None:
        self.rng = rng
        self.words = Words(rng)
        self.sources = sources
        self.previous: dict[str, list[Any]] = {}
        self.local_ids: dict[str, str] = {}
        self.users = [
            "pyfan", "ada_l", "gvr_fan", "nedbat_reader", "datawrangler", "rustacean42",
            "async_amy", "kernelhacker", "mlresearch", "typedtom", "sqlsam", "devops_dee",
            "jupyterjo", "cli_carl", "benchbob", "pep8pat", "lambda_lu", "numpy_nina",
        ]  # fmt: skip
        self.accounts = {
            u: mastodon_account(rng, u, rng.choice(["fosstodon.org", "hachyderm.io",
                                                    "mastodon.social", "mas.to"]))
            for u in self.users
        }  # fmt: skip

    # -- stories --------------------------------------------------------------------------
    def story(self, run_start: datetime, *, body_paragraphs: int, domain: str,
              templates: Sequence[str] = TEMPLATES, max_age_h: float = 8.0) -> Story:  # fmt: skip
        title = self.words.title(templates)
        slug = self.words.slug(title)
        key = next(self.words.keys)
        published = run_start - timedelta(seconds=self.rng.uniform(60, max_age_h * 3600))
        return Story(
            key=key,
            title=title,
            url=f"https://{domain}/{published:%Y/%m}/{slug}/",
            body=self.words.paragraphs(body_paragraphs) if body_paragraphs else "",
            author=self.rng.choice(self.users),
            published=published.replace(microsecond=0),
            extra={"slug": slug, "tags": self.rng.sample(["python", "release", "performance",
                                                          "tooling", "web", "data"], 2)},
        )  # fmt: skip

    def _carry(self, name: str, plan: Plan) -> list[Any]:
        previous = self.previous.get(name, [])
        count = round(plan.size * plan.carry) if previous else 0
        return self.rng.sample(previous, min(count, len(previous)))

    # -- one run --------------------------------------------------------------------------
    def run(self, index: int, run_start: datetime) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = []
        shared_links = [
            self.story(run_start, body_paragraphs=0, domain=self.rng.choice(
                ["github.com/someone", "blog.example.dev", "engineering.example.com"]))
            for _ in range(3)
        ]  # fmt: skip
        reddit = self.reddit_posts(run_start, shared_links)
        for name, posts in reddit.items():
            entries += self.reddit_entries(self.sources[name], posts, run_start)
        feeds = self.feed_entries(run_start)
        for name, feed_entries in feeds.items():
            entries += self.feed_exchanges(self.sources[name], feed_entries, run_start, index)
        entries += self.infoq(run_start)
        toots = self.toots(run_start)
        for name, (statuses, local_ids) in toots.items():
            entries += self.mastodon_entries(self.sources[name], statuses, local_ids, run_start)
        return entries

    # -- reddit ---------------------------------------------------------------------------
    def reddit_posts(self, run_start: datetime, shared: list[Story]) -> dict[str, list[RedditPost]]:
        out: dict[str, list[RedditPost]] = {}
        subs = {"reddit-python": "Python", "reddit-programming": "programming",
                "reddit-machinelearning": "MachineLearning"}  # fmt: skip
        for name, sub in subs.items():
            plan = REDDIT_PLANS[name]
            carried = self._carry(name, plan)
            carried = [p for p in carried if not p.stickied]
            for post in carried:
                post.score += self.rng.randint(0, 40)
                post.num_comments += self.rng.randint(0, 12)
            if carried and name == "reddit-python":
                edited = carried[0]
                if edited.is_self:
                    edited.story = replace(
                        edited.story,
                        body=edited.story.body + "\n\nEdit: thanks for all the answers!",
                        extra={**edited.story.extra, "edited": run_start.timestamp() - 600},
                    )
            fresh: list[RedditPost] = []
            stickied = [p for p in self.previous.get(name, []) if p.stickied]
            if sub == "Python" and not stickied:
                for title in ("Sunday Daily Thread: What's everyone working on this week?",
                              "Monday Daily Thread: Project ideas!"):  # fmt: skip
                    st = self.story(run_start, body_paragraphs=1, domain="www.reddit.com")
                    st.title = title
                    st.author = "AutoModerator"
                    stickied.append(RedditPost(st, _b36(self.rng), sub, 5, 40, True,
                                               stickied=True))  # fmt: skip
            while len(fresh) + len(carried) + len(stickied) < plan.size:
                is_self = self.rng.random() < {"Python": 0.55, "programming": 0.1}.get(sub, 0.5)
                domain = self.rng.choice(["github.com/someone", "blog.example.dev",
                                          "engineering.example.com", "arxiv.org/abs",
                                          "medium.com/@someone", "dev.to/someone"])  # fmt: skip
                st = self.story(run_start, body_paragraphs=self.rng.randint(1, 3) if is_self
                                else 0, domain=domain)  # fmt: skip
                if sub == "MachineLearning":
                    st.title = f"[{self.rng.choice('DRP')}] {st.title}"
                post = RedditPost(
                    st,
                    _b36(self.rng),
                    sub,
                    score=self.rng.choice([0, 1, 1, 2, 3, 5, 8, 13, 40, 120, 450]),
                    num_comments=self.rng.randint(0, 90),
                    is_self=is_self,
                    flair=self.rng.choice([None, "Discussion", "Showcase", "News"]),
                )
                if self.rng.random() < 0.02:
                    post.over_18 = True
                if self.rng.random() < 0.03:
                    post.story.title = self.rng.choice(["Help", "Question", "Thoughts?"])
                fresh.append(post)
            if sub == "Python":
                posts = stickied + sorted(carried + fresh, key=lambda p: -p.score)
            else:
                posts = sorted(carried + fresh, key=lambda p: p.story.published, reverse=True)
            out[name] = posts
        # The same link submitted to two subreddits: one title typed differently, one URL
        # with tracking parameters; both copies normalize to the same text and link.
        for story in shared:
            a = RedditPost(story, _b36(self.rng), "programming", 30, 12, False,
                           link=story.url + "?utm_source=reddit&utm_medium=social")  # fmt: skip
            b = RedditPost(story, _b36(self.rng), "MachineLearning", 12, 3, False,
                           title="  " + story.title.upper().replace(" ", "  ") + " ")  # fmt: skip
            b.story = replace(story, title=story.title)
            for name, post in (("reddit-programming", a), ("reddit-machinelearning", b)):
                posts = out[name]
                posts.insert(self.rng.randint(0, min(20, len(posts))), post)
                posts.pop()
        for name, posts in out.items():
            self.previous[name] = posts
        return out

    def reddit_entries(
        self, source: SourceConfig, posts: list[RedditPost], run_start: datetime
    ) -> list[dict[str, Any]]:
        timeline = Timeline(source, run_start, self.rng)
        base = f"{source.base_url}/r/{source.subreddit}/{source.sort}.json"
        after: str | None = None
        for page in range(source.pages):
            chunk = posts[page * source.limit : (page + 1) * source.limit]
            params = {"limit": source.limit, **({"after": after} if after else {})}
            after = f"t3_{chunk[-1].id36}" if chunk else None
            doc = reddit_listing([reddit_t3(p, self.rng) for p in chunk], after)
            remaining = str(round(100 - timeline.t / 6 - page * 1.0, 1))
            timeline.add(
                Exchange(
                    url=f"{base}?{urlencode(params)}",
                    status=200,
                    headers=[
                        ("content-type", "application/json; charset=UTF-8"),
                        ("x-ratelimit-remaining", remaining),
                        ("x-ratelimit-used", str(page + 1)),
                        ("x-ratelimit-reset", str(600 - int(timeline.t) % 600)),
                        ("cache-control", "private, s-maxage=0, max-age=0, must-revalidate"),
                        ("vary", "accept-encoding"),
                        ("server", "snooserv"),
                        ("x-content-type-options", "nosniff"),
                    ],
                    body=json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode(),
                    latency_s=latency(self.rng, "reddit"),
                    mime="application/json; charset=UTF-8",
                    compressed=True,
                )
            )
        return timeline.entries

    # -- feeds ----------------------------------------------------------------------------
    def feed_entries(self, run_start: datetime) -> dict[str, list[FeedEntry]]:
        made: dict[str, list[FeedEntry]] = {}
        domains = {
            "hn-frontpage": None,
            "lwn-headlines": "lwn.net/Articles",
            "python-insider": "pythoninsider.blogspot.com",
            "planet-python": None,
            "real-python": "realpython.com",
            "golem-developer": "www.golem.de/news",
            "martin-fowler": "martinfowler.com/articles",
            "github-blog": "github.blog",
        }
        for name, domain in domains.items():
            plan = FEED_PLANS[name]
            carried: list[FeedEntry] = self._carry(name, plan)
            fresh: list[FeedEntry] = []
            while len(carried) + len(fresh) < plan.size:
                if name == "hn-frontpage":
                    st = self.story(run_start, body_paragraphs=0, domain=self.rng.choice(
                        ["blog.example.dev", "github.com/someone", "www.example.org/news",
                         "engineering.example.com", "arstechnica.example"]))  # fmt: skip
                    guid = str(40_350_000 + self.rng.randint(0, 99_999))
                    fresh.append(FeedEntry(st, guid, st.url))
                    continue
                if name == "planet-python":
                    blog = self.rng.choice(
                        ["blog.example.dev", "pybites.example", "nedbat.example"]
                    )
                    st = self.story(run_start, body_paragraphs=2, domain=blog, max_age_h=20)
                    fresh.append(FeedEntry(st, st.url, st.url))
                    continue
                if name == "golem-developer":
                    st = self.story(run_start, body_paragraphs=0, domain=domain or "",
                                    templates=GERMAN_TITLES)  # fmt: skip
                    st.body = self.words.fill(GERMAN_BODY)
                    guid = f"https://www.golem.de/news/{self.rng.randint(2405000, 2405999)}.html"
                    fresh.append(FeedEntry(st, guid, st.url + "?utm_source=rss"))
                    continue
                age = {"python-insider": 72.0, "martin-fowler": 96.0, "real-python": 48.0}
                st = self.story(run_start, body_paragraphs=self.rng.randint(2, 4),
                                domain=domain or "", max_age_h=age.get(name, 10.0))  # fmt: skip
                if name == "python-insider":
                    guid = f"tag:blogger.com,1999:blog-3941553907430899163.post-{self.rng.randint(10**18, 10**19)}"
                elif name == "github-blog":
                    guid = f"https://github.blog/?p={self.rng.randint(70000, 79999)}"
                else:
                    guid = st.url
                link = st.url + ("?utm_source=rss&utm_medium=rss&utm_campaign=feed"
                                 if name == "github-blog" else "")  # fmt: skip
                fresh.append(FeedEntry(st, guid, link))
            entries = sorted(carried + fresh, key=lambda e: e.story.published, reverse=True)
            made[name] = entries
        # The aggregator republishes two of this run's posts from blogs it follows: same link
        # (with its own tracking parameter), same title and content, its own guid.
        for origin in ("python-insider", "real-python"):
            fresh_ones = [e for e in made[origin] if e not in self.previous.get(origin, [])]
            if not fresh_ones:
                continue
            e = fresh_ones[0]
            copy = FeedEntry(
                e.story,
                guid=f"planet:{e.guid}",
                link=e.link + ("&" if "?" in e.link else "?") + "utm_source=planetpython",
                content_html=_html_paragraphs(e.story.body).replace("</p><p>", "</p>\n<p>"),
            )
            made["planet-python"].insert(1, copy)
            made["planet-python"].pop()
        for name, entries in made.items():
            self.previous[name] = entries
        return made

    def feed_exchanges(
        self, source: SourceConfig, entries: list[FeedEntry], run_start: datetime, index: int
    ) -> list[dict[str, Any]]:
        assert source.url is not None
        timeline = Timeline(source, run_start, self.rng)
        now = run_start - timedelta(minutes=self.rng.randint(1, 50))
        builders: dict[str, Callable[[], tuple[bytes, str]]] = {
            "hn-frontpage": lambda: (rss2_hn(entries), "application/rss+xml; charset=utf-8"),
            "lwn-headlines": lambda: (rss1_lwn(entries), "application/rss+xml"),
            "python-insider": lambda: (
                atom("Python Insider", "https://pythoninsider.blogspot.com/", source.url or "",
                     "tag:blogger.com,1999:blog-3941553907430899163", entries, now),
                "application/atom+xml; charset=UTF-8"),
            "planet-python": lambda: (
                rss2_wordpress("Planet Python", "https://planetpython.org/", source.url or "",
                               entries, now), "application/rss+xml"),
            "real-python": lambda: (
                atom("Real Python", "https://realpython.com/", source.url or "",
                     "https://realpython.com/", entries, now), "application/atom+xml"),
            "golem-developer": lambda: (rss2_latin1(entries, now),
                                        "application/rss+xml; charset=ISO-8859-1"),
            "martin-fowler": lambda: (
                atom("Martin Fowler", "https://martinfowler.com", source.url or "",
                     "https://martinfowler.com/feed.atom", entries, now), "application/atom+xml"),
            "github-blog": lambda: (
                rss2_wordpress("The GitHub Blog", "https://github.blog/", source.url or "",
                               entries, now), "application/rss+xml; charset=UTF-8"),
        }  # fmt: skip
        body, mime = builders[source.name]()
        headers = [
            ("content-type", mime),
            ("last-modified", rfc822(now)),
            ("etag", f'W/"{zlib.crc32(f"{source.name}:{index}".encode()):08x}"'),
            ("cache-control", "max-age=300"),
            ("server", {"hn-frontpage": "nginx", "github-blog": "nginx"}.get(source.name,
                                                                            "Apache")),
        ]  # fmt: skip
        if source.name == "github-blog":
            # Rate limited first; the collector waits Retry-After and tries again.
            timeline.add(
                Exchange(
                    url=source.url,
                    status=429,
                    headers=[
                        ("content-type", "text/html; charset=utf-8"),
                        ("retry-after", "5"),
                        ("server", "nginx"),
                    ],
                    body=b"<html><body><h1>429 Too Many Requests</h1></body></html>\n",
                    latency_s=latency(self.rng, "feed") * 0.5,
                    mime="text/html; charset=utf-8",
                    retry_after_s=5.0,
                )
            )
        if source.name == "martin-fowler":
            lat = self.rng.uniform(7.6, 8.4)  # a slow origin, every run
        else:
            lat = latency(self.rng, "feed")
        timeline.add(
            Exchange(
                url=source.url,
                status=200,
                headers=headers,
                body=body,
                latency_s=lat,
                mime=mime,
                base64_body=source.name == "golem-developer",
                compressed=source.name != "golem-developer",
            )
        )
        return timeline.entries

    def infoq(self, run_start: datetime) -> list[dict[str, Any]]:
        source = self.sources["infoq"]
        assert source.url is not None
        timeline = Timeline(source, run_start, self.rng)
        timeline.add(
            Exchange(
                url=source.url,
                status=200,
                headers=[("content-type", "text/html; charset=utf-8"), ("server", "nginx")],
                body=INFOQ_HTML.encode(),
                latency_s=latency(self.rng, "feed"),
                mime="text/html; charset=utf-8",
                compressed=True,
            )
        )
        return timeline.entries

    # -- mastodon -------------------------------------------------------------------------
    def toot(self, run_start: datetime, max_age_h: float = 8.0) -> Toot:
        st = self.story(run_start, body_paragraphs=0, domain="x", max_age_h=max_age_h)
        st.body = self.words.fill(self.rng.choice(TOOTS))
        if self.rng.random() < 0.04:
            st.body = self.rng.choice(["👀", "Yes!", "+1", "This."])
        acct = self.accounts[st.author]
        home = acct["url"].split("/")[2]
        sid = snowflake(st.published, self.rng)
        return Toot(
            story=st,
            uri=f"https://{home}/users/{acct['username']}/statuses/{sid}",
            url=f"https://{home}/@{acct['username']}/{sid}",
            account=acct,
            reply_to=str(int(sid) - 99_000) if self.rng.random() < 0.1 else None,
            boosts=self.rng.choice([0, 0, 1, 2, 3, 8, 21]),
            favourites=self.rng.choice([0, 1, 2, 5, 9, 30]),
            replies=self.rng.randint(0, 6),
        )

    def toots(self, run_start: datetime) -> dict[str, tuple[list[Toot], list[str]]]:
        out: dict[str, tuple[list[Toot], list[str]]] = {}
        tag_plan = TOOT_PLANS["fosstodon-python"]
        carried: list[Toot] = self._carry("fosstodon-python", tag_plan)
        fresh = [self.toot(run_start) for _ in range(tag_plan.size - len(carried))]
        tag = sorted(carried + fresh, key=lambda t: t.story.published, reverse=True)
        trend_plan = TOOT_PLANS["mastodon-social-trending"]
        t_carried: list[Toot] = self._carry("mastodon-social-trending", trend_plan)
        # Federation: popular statuses of this run's tag timeline also trend elsewhere.
        federated = [t for t in fresh if not t.reply_to and len(t.story.body) > 10][:3]
        for t in federated:
            t.boosts += 30
            t.favourites += 60
        t_fresh = [self.toot(run_start, max_age_h=20) for _ in range(trend_plan.size)]
        for t in t_fresh:
            t.reply_to = None
            t.favourites += 10
            t.boosts += 5
        trend = (t_carried + federated + t_fresh)[: trend_plan.size]
        trend.sort(key=lambda t: -(t.boosts + t.favourites))
        self.previous["fosstodon-python"] = tag
        self.previous["mastodon-social-trending"] = trend
        for name, toots in (("fosstodon-python", tag), ("mastodon-social-trending", trend)):
            local = []
            for t in toots:
                # Each instance has its own id for a status, stable from run to run.
                key = f"{name}:{t.uri}"
                if key not in self.local_ids:
                    self.local_ids[key] = snowflake(t.story.published, self.rng)
                local.append(self.local_ids[key])
            out[name] = (toots, local)
        return out

    def mastodon_entries(
        self, source: SourceConfig, toots: list[Toot], local_ids: list[str], run_start: datetime
    ) -> list[dict[str, Any]]:
        assert source.instance is not None
        instance = urlsplit(source.instance).hostname or ""
        timeline = Timeline(source, run_start, self.rng)
        trending = source.timeline == "trending"
        path = "/api/v1/trends/statuses" if trending else "/api/v1/timelines/tag/python"
        base = f"{source.instance}{path}"
        url = f"{base}?limit={source.limit}"
        for page in range(source.pages):
            chunk = toots[page * source.limit : (page + 1) * source.limit]
            ids = local_ids[page * source.limit : (page + 1) * source.limit]
            statuses = [mastodon_status(t, i, instance) for t, i in zip(chunk, ids, strict=True)]
            if trending:
                next_url = f"{base}?offset={(page + 1) * source.limit}"
                link = f'<{next_url}>; rel="next"'
            else:
                next_url = f"{base}?limit={source.limit}&max_id={ids[-1]}"
                prev_url = f"{base}?limit={source.limit}&min_id={ids[0]}"
                link = f'<{next_url}>; rel="next", <{prev_url}>; rel="prev"'
            timeline.add(
                Exchange(
                    url=url,
                    status=200,
                    headers=[
                        ("content-type", "application/json; charset=utf-8"),
                        ("link", link),
                        ("x-ratelimit-limit", "300"),
                        ("x-ratelimit-remaining", str(299 - page)),
                        ("x-ratelimit-reset", iso(run_start + timedelta(minutes=5))),
                        ("cache-control", "private, no-store"),
                        ("vary", "Accept, Accept-Encoding, Origin"),
                        ("server", "Mastodon"),
                        ("x-request-id", f"{self.rng.getrandbits(64):016x}"),
                    ],
                    body=json.dumps(statuses, ensure_ascii=False).encode(),
                    latency_s=latency(self.rng, "mastodon"),
                    mime="application/json; charset=utf-8",
                    compressed=True,
                )
            )
            url = next_url
        return timeline.entries

"""Profile ``tech-feeds`` (default): the shipped ``data/recordings/synthetic-tech``.

14 sources that answer within about a second (one feed takes ~8 s, one asks to retry after
5 s), with large pages: the breadth of formats and edge cases, not the design's timing.
Each source is defined here once; other profiles derive theirs from these.
"""

from __future__ import annotations

from typing import Any

from workbench.synth._exchange import LogNormal, Plan, Uniform
from workbench.synth._feed_formats import (
    atom_feed,
    hacker_news_rss,
    html_page,
    latin1_rss,
    lwn_rdf,
    wordpress_rss,
)
from workbench.synth._feeds import BLOGGER_BLOG, Blog, Feed, GermanNews, LinkList, Planet
from workbench.synth._mastodon import MastodonTimeline
from workbench.synth._profile import Profile
from workbench.synth._reddit import Crosspost, Subreddit

REDDIT_LATENCY = LogNormal(median_s=0.5, sigma=0.3, low_s=0.3, high_s=1.0)
MASTODON_LATENCY = LogNormal(median_s=0.25, sigma=0.3, low_s=0.15, high_s=0.5)
FEED_LATENCY = LogNormal(median_s=0.5, sigma=0.6, low_s=0.1, high_s=3.0)  # CDNs, a slow tail


def listing(subreddit: str, sort: str, min_score: int, limit: int = 25) -> dict[str, Any]:
    """A subreddit's sources.yaml keys: 2 pages, 30 requests a minute (2 s apart)."""
    return {"subreddit": subreddit, "sort": sort, "limit": limit, "pages": 2,
            "min_score": min_score, "requests_per_minute": 30,
            "base_url": "https://www.reddit.com"}  # fmt: skip


REDDIT_PYTHON = Subreddit(
    "reddit-python",
    listing("Python", "hot", min_score=0),
    Plan(50, 0.30),
    REDDIT_LATENCY,
    subscribers=1_325_874,
    self_share=0.55,
    daily_threads=(
        "Sunday Daily Thread: What's everyone working on this week?",
        "Monday Daily Thread: Project ideas!",
    ),
    edits=True,
)
REDDIT_PROGRAMMING = Subreddit(
    "reddit-programming",
    listing("programming", "new", min_score=1),
    Plan(50, 0.12),
    REDDIT_LATENCY,
    subscribers=6_384_772,
    self_share=0.1,
    crosspost=Crosspost(score=30, comments=12, tracking=True),
)
REDDIT_MACHINELEARNING = Subreddit(
    "reddit-machinelearning",
    listing("MachineLearning", "new", min_score=0),
    Plan(50, 0.10),
    REDDIT_LATENCY,
    subscribers=2_912_450,
    self_share=0.5,
    title_tags="DRP",
    crosspost=Crosspost(score=12, comments=3, shouted=True),
)

HN_FRONTPAGE = Feed(
    "hn-frontpage",
    {"url": "https://news.ycombinator.com/rss"},
    FEED_LATENCY,
    hacker_news_rss(),
    Plan(30, 0.20),
    LinkList(
        (
            "blog.example.dev",
            "github.com/someone",
            "www.example.org/news",
            "engineering.example.com",
            "arstechnica.example",
        ),
        first_id=40_350_000,
    ),  # fmt: skip
    server="nginx",
)
LWN_HEADLINES = Feed(
    "lwn-headlines",
    {"url": "https://lwn.net/headlines/rss"},
    FEED_LATENCY,
    lwn_rdf(),
    Plan(15, 0.20),
    Blog("lwn.net/Articles"),
)
PYTHON_INSIDER = Feed(
    "python-insider",
    {"url": "https://blog.python.org/feeds/posts/default"},
    FEED_LATENCY,
    atom_feed(
        "Python Insider",
        "https://pythoninsider.blogspot.com/",
        BLOGGER_BLOG,
        mime="application/atom+xml; charset=UTF-8",
    ),  # fmt: skip
    Plan(6, 0.34),
    Blog("pythoninsider.blogspot.com", max_age_h=72.0, guid="blogger"),
)
REAL_PYTHON = Feed(
    "real-python",
    {"url": "https://realpython.com/atom.xml"},
    FEED_LATENCY,
    atom_feed("Real Python", "https://realpython.com/", "https://realpython.com/"),
    Plan(8, 0.25),
    Blog("realpython.com", max_age_h=48.0),
)
PLANET_PYTHON = Feed(
    "planet-python",
    {"url": "https://planetpython.org/rss20.xml"},
    FEED_LATENCY,
    wordpress_rss("Planet Python", "https://planetpython.org/"),
    Plan(20, 0.15),
    Planet(
        ("blog.example.dev", "pybites.example", "nedbat.example"),
        republishes=(PYTHON_INSIDER, REAL_PYTHON),
    ),  # fmt: skip
)
GOLEM_DEVELOPER = Feed(
    "golem-developer",
    {"url": "https://rss.golem.de/rss.php?tp=dev&feed=RSS2.0"},
    FEED_LATENCY,
    latin1_rss(),
    Plan(15, 0.13),
    GermanNews("www.golem.de/news"),
)
MARTIN_FOWLER = Feed(
    "martin-fowler",
    {"url": "https://martinfowler.com/feed.atom"},
    Uniform(7.6, 8.4),  # a slow origin, every run
    atom_feed("Martin Fowler", "https://martinfowler.com", "https://martinfowler.com/feed.atom"),
    Plan(8, 0.25),
    Blog("martinfowler.com/articles", max_age_h=96.0),
)
GITHUB_BLOG = Feed(
    "github-blog",
    {"url": "https://github.blog/feed/"},
    FEED_LATENCY,
    wordpress_rss(
        "The GitHub Blog", "https://github.blog/", mime="application/rss+xml; charset=UTF-8"
    ),  # fmt: skip
    Plan(10, 0.20),
    Blog(
        "github.blog",
        guid="wordpress",
        link_suffix="?utm_source=rss&utm_medium=rss&utm_campaign=feed",
    ),  # fmt: skip
    server="nginx",
    retry_after_s=5.0,
)
INFOQ = Feed(
    "infoq", {"url": "https://www.infoq.com/feed"}, FEED_LATENCY, html_page(), server="nginx"
)

FOSSTODON_PYTHON = MastodonTimeline(
    "fosstodon-python",
    {
        "instance": "https://fosstodon.org",
        "timeline": "tag:python",
        "limit": 20,
        "pages": 2,
        "min_boosts": 0,
    },  # fmt: skip
    Plan(40, 0.10),
    MASTODON_LATENCY,
)
MASTODON_SOCIAL_TRENDING = MastodonTimeline(
    "mastodon-social-trending",
    {
        "instance": "https://mastodon.social",
        "timeline": "trending",
        "limit": 20,
        "pages": 1,
        "min_favourites": 1,
    },  # fmt: skip
    Plan(20, 0.25),
    MASTODON_LATENCY,
    federated_from=FOSSTODON_PYTHON,
)

TECH_FEEDS = Profile(
    name="tech-feeds",
    folder="synthetic-tech",
    summary="14 sources in every format and edge case, answering within seconds "
    "(batch collection ~27 s)",
    subreddits=(REDDIT_PYTHON, REDDIT_PROGRAMMING, REDDIT_MACHINELEARNING),
    feeds=(
        HN_FRONTPAGE,
        LWN_HEADLINES,
        PYTHON_INSIDER,
        PLANET_PYTHON,
        REAL_PYTHON,
        GOLEM_DEVELOPER,
        MARTIN_FOWLER,
        GITHUB_BLOG,
        INFOQ,
    ),  # fmt: skip
    timelines=(FOSSTODON_PYTHON, MASTODON_SOCIAL_TRENDING),
    readme="""\
# {folder}: a generated recording

This machine had no internet access when the recording was made, so it is **synthetic**:
`{command}` generates it byte for byte (see `workbench/synth/`).
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
Replay it with `workbench inspect {path}`; see docs/recordings.md.
""",
)

"""The Reddit fake: subreddit listings (``Listing`` of ``t3`` JSON, ``after`` pagination).

The collector asks for ``raw_json=1`` and the fake answers as Reddit then does: strings as
typed (``escaped_form`` gives the escaped form Reddit sends without it).

Posts of the last run come back (same ids, new scores), a hot listing starts with stickied
daily threads, some posts are NSFW or have too short a title, and each run a few links are
submitted to two subreddits (one URL with tracking parameters, one title typed in capitals),
so both copies normalize to the same link and text.
"""

from __future__ import annotations

import html
import json
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

from pipeline.config import SourceConfig
from workbench.synth._exchange import Exchange, Latency, Plan, RequestSchedule
from workbench.synth._words import Story, html_paragraphs
from workbench.synth._world import SourceSpec, World

LINK_DOMAINS = ("github.com/someone", "blog.example.dev", "engineering.example.com",
                "arxiv.org/abs", "medium.com/@someone", "dev.to/someone")  # fmt: skip
SHARED_LINK_DOMAINS = ("github.com/someone", "blog.example.dev", "engineering.example.com")
SCORES = (0, 1, 1, 2, 3, 5, 8, 13, 40, 120, 450)
FLAIRS = (None, "Discussion", "Showcase", "News")
_B36 = "0123456789abcdefghijklmnopqrstuvwxyz"


@dataclass(frozen=True)
class Crosspost:
    """How a link submitted to two subreddits looks in this one."""

    score: int
    comments: int
    tracking: bool = False  # the URL carries utm_* parameters
    shouted: bool = False  # the title is typed in capitals with extra spaces


@dataclass(frozen=True)
class Subreddit(SourceSpec):
    """A subreddit listing as a source: its sources.yaml entry and what its posts look like."""

    TYPE = "reddit"

    plan: Plan
    latency: Latency
    subscribers: int
    self_share: float  # share of text (self) posts
    daily_threads: tuple[str, ...] = ()  # stickied threads on top of the listing
    edits: bool = False  # the first carried text post comes back edited
    title_tags: str = ""  # one of these letters in brackets opens every title
    crosspost: Crosspost | None = None


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
    subscribers: int = field(default=0, compare=False)


def _b36(rng: random.Random, n: int = 7) -> str:
    return "1" + "".join(rng.choice(_B36) for _ in range(n - 1))


def reddit_t3(post: RedditPost, rng: random.Random) -> dict[str, Any]:
    s = post.story
    title = post.title or s.title
    permalink = f"/r/{post.subreddit}/comments/{post.id36}/{s.extra.get('slug', 'post')}/"
    url = f"https://www.reddit.com{permalink}" if post.is_self else (post.link or s.url)
    selftext = s.body if post.is_self else ""
    created = s.published.timestamp()
    selftext_html = (
        f'<!-- SC_OFF --><div class="md">{html_paragraphs(selftext)}</div><!-- SC_ON -->'
        if selftext else None
    )  # fmt: skip
    return {
        "kind": "t3",
        "data": {
            "approved_at_utc": None,
            "subreddit": post.subreddit,
            "selftext": selftext,
            "author_fullname": f"t2_{_b36(rng, 8)}",
            "saved": False,
            "mod_reason_title": None,
            "gilded": 0,
            "clicked": False,
            "title": title,
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
            "subreddit_subscribers": post.subscribers,
            "created_utc": created,
            "num_crossposts": 0,
            "media": None,
            "is_video": False,
        },
    }


def escaped_form(value: Any) -> Any:
    """A document as Reddit sends it without ``raw_json=1``: every string with its ``&``,
    ``<`` and ``>`` escaped (``reddit_t3`` and the fake's answers are the raw form)."""
    if isinstance(value, str):
        return html.escape(value, quote=False)
    if isinstance(value, dict):
        return {k: escaped_form(v) for k, v in value.items()}
    if isinstance(value, list):
        return [escaped_form(v) for v in value]
    return value


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


class RedditFake:
    """Every subreddit of a profile, run after run."""

    def __init__(self, world: World, subreddits: Sequence[Subreddit], shared_links: int) -> None:
        self.world = world
        self.subreddits = subreddits
        self.shared_links = shared_links
        self.previous: dict[str, list[RedditPost]] = {}

    def run(self, run_start: datetime, sources: Mapping[str, SourceConfig]) -> list[dict[str, Any]]:
        """The HAR entries of one run of every subreddit."""
        w = self.world
        shared = [
            w.story(run_start, body_paragraphs=0, domain=w.rng.choice(SHARED_LINK_DOMAINS))
            for _ in range(self.shared_links)
        ]
        posts = self._posts(run_start, shared, sources)
        entries: list[dict[str, Any]] = []
        for spec in self.subreddits:
            entries += self._exchanges(spec, sources[spec.name], posts[spec.name], run_start)
        return entries

    def _posts(
        self, run_start: datetime, shared: list[Story], sources: Mapping[str, SourceConfig]
    ) -> dict[str, list[RedditPost]]:
        w, rng = self.world, self.world.rng
        out: dict[str, list[RedditPost]] = {}
        for spec in self.subreddits:
            source = sources[spec.name]
            sub = str(source.subreddit)
            carried = w.carry(self.previous.get(spec.name, []), spec.plan)
            carried = [p for p in carried if not p.stickied]
            for post in carried:
                post.score += rng.randint(0, 40)
                post.num_comments += rng.randint(0, 12)
            if carried and spec.edits:
                edited = carried[0]
                if edited.is_self:
                    edited.story = replace(
                        edited.story,
                        body=edited.story.body + "\n\nEdit: thanks for all the answers!",
                        extra={**edited.story.extra, "edited": run_start.timestamp() - 600},
                    )
            fresh: list[RedditPost] = []
            stickied = [p for p in self.previous.get(spec.name, []) if p.stickied]
            if spec.daily_threads and not stickied:
                for title in spec.daily_threads:
                    st = w.story(run_start, body_paragraphs=1, domain="www.reddit.com")
                    st.title = title
                    st.author = "AutoModerator"
                    stickied.append(RedditPost(st, _b36(rng), sub, 5, 40, True, stickied=True,
                                               subscribers=spec.subscribers))  # fmt: skip
            while len(fresh) + len(carried) + len(stickied) < spec.plan.size:
                is_self = rng.random() < spec.self_share
                domain = rng.choice(LINK_DOMAINS)
                st = w.story(run_start, body_paragraphs=rng.randint(1, 3) if is_self else 0,
                             domain=domain)  # fmt: skip
                if spec.title_tags:
                    st.title = f"[{rng.choice(spec.title_tags)}] {st.title}"
                post = RedditPost(
                    st,
                    _b36(rng),
                    sub,
                    score=rng.choice(SCORES),
                    num_comments=rng.randint(0, 90),
                    is_self=is_self,
                    flair=rng.choice(FLAIRS),
                    subscribers=spec.subscribers,
                )
                if rng.random() < 0.02:
                    post.over_18 = True
                if rng.random() < 0.03:
                    post.story.title = rng.choice(["Help", "Question", "Thoughts?"])
                fresh.append(post)
            if source.sort == "hot":
                posts = stickied + sorted(carried + fresh, key=lambda p: -p.score)
            else:
                posts = sorted(carried + fresh, key=lambda p: p.story.published, reverse=True)
            out[spec.name] = posts
        targets = [s for s in self.subreddits if s.crosspost]
        for story in shared:
            copies = [(spec, self._crosspost(spec, sources[spec.name], story)) for spec in targets]
            for spec, post in copies:
                posts = out[spec.name]
                posts.insert(rng.randint(0, min(20, len(posts))), post)
                posts.pop()
        for name, listed in out.items():
            self.previous[name] = listed
        return out

    def _crosspost(self, spec: Subreddit, source: SourceConfig, story: Story) -> RedditPost:
        how = spec.crosspost
        assert how is not None
        return RedditPost(
            replace(story),
            _b36(self.world.rng),
            str(source.subreddit),
            how.score,
            how.comments,
            False,
            link=story.url + "?utm_source=reddit&utm_medium=social" if how.tracking else None,
            title="  " + story.title.upper().replace(" ", "  ") + " " if how.shouted else None,
            subscribers=spec.subscribers,
        )

    def _exchanges(
        self, spec: Subreddit, source: SourceConfig, posts: list[RedditPost], run_start: datetime
    ) -> list[dict[str, Any]]:
        rng = self.world.rng
        schedule = RequestSchedule(source, run_start, rng)
        base = f"{source.base_url}/r/{source.subreddit}/{source.sort}.json"
        after: str | None = None
        for page in range(source.pages):
            chunk = posts[page * source.limit : (page + 1) * source.limit]
            params = {"limit": source.limit, **({"after": after} if after else {}), "raw_json": 1}
            after = f"t3_{chunk[-1].id36}" if chunk else None
            doc = reddit_listing([reddit_t3(p, rng) for p in chunk], after)
            remaining = str(round(100 - schedule.t / 6 - page * 1.0, 1))
            schedule.add(
                Exchange(
                    url=f"{base}?{urlencode(params)}",
                    status=200,
                    headers=[
                        ("content-type", "application/json; charset=UTF-8"),
                        ("x-ratelimit-remaining", remaining),
                        ("x-ratelimit-used", str(page + 1)),
                        ("x-ratelimit-reset", str(600 - int(schedule.t) % 600)),
                        ("cache-control", "private, s-maxage=0, max-age=0, must-revalidate"),
                        ("vary", "accept-encoding"),
                        ("server", "snooserv"),
                        ("x-content-type-options", "nosniff"),
                    ],
                    body=json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode(),
                    latency_s=spec.latency.sample(rng),
                    mime="application/json; charset=UTF-8",
                    compressed=True,
                )
            )
        return schedule.entries

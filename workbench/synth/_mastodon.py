"""The Mastodon fake: tag timelines and trending statuses (``Status`` JSON, ``Link`` paging).

Statuses have accounts on several instances, some are replies (which the collector skips),
a few are too short to be a post. Popular statuses of a tag timeline also trend on another
instance (federation), where they have their own local id but the same URI.
"""

from __future__ import annotations

import html
import json
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from pipeline.config import SourceConfig, mastodon_tag
from workbench.synth._exchange import Exchange, Latency, Plan, RequestSchedule, iso
from workbench.synth._words import TOOTS, Story
from workbench.synth._world import SourceSpec, World

INSTANCES = ("fosstodon.org", "hachyderm.io", "mastodon.social", "mas.to")
BOOSTS = (0, 0, 1, 2, 3, 8, 21)
FAVOURITES = (0, 1, 2, 5, 9, 30)


@dataclass(frozen=True, eq=False)
class MastodonTimeline(SourceSpec):
    """A Mastodon timeline as a source: its sources.yaml entry and its statuses."""

    TYPE = "mastodon"

    plan: Plan
    latency: Latency
    federated_from: MastodonTimeline | None = None  # trending: popular statuses of that one


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


class MastodonFake:
    """Every Mastodon timeline of a profile, run after run."""

    def __init__(self, world: World, timelines: Sequence[MastodonTimeline]) -> None:
        self.world = world
        self.timelines = timelines
        self.previous: dict[str, list[Toot]] = {}
        self.local_ids: dict[str, str] = {}
        rng = world.rng
        self.accounts = {u: mastodon_account(rng, u, rng.choice(INSTANCES)) for u in world.users}

    def run(self, run_start: datetime, sources: Mapping[str, SourceConfig]) -> list[dict[str, Any]]:
        """The HAR entries of one run of every timeline."""
        listed = self._statuses(run_start, sources)
        local_ids = {
            spec.name: [self._local_id(spec.name, t) for t in listed[spec.name]]
            for spec in self.timelines
        }
        entries: list[dict[str, Any]] = []
        for spec in self.timelines:
            source = sources[spec.name]
            entries += self._exchanges(
                spec, source, listed[spec.name], local_ids[spec.name], run_start
            )
        return entries

    def _toot(self, run_start: datetime, max_age_h: float = 8.0,
              tags: tuple[str, ...] = ("python",)) -> Toot:  # fmt: skip
        w, rng = self.world, self.world.rng
        st = w.story(run_start, body_paragraphs=0, domain="x", max_age_h=max_age_h)
        st.body = w.words.fill(rng.choice(TOOTS))
        if rng.random() < 0.04:
            st.body = rng.choice(["👀", "Yes!", "+1", "This."])
        acct = self.accounts[st.author]
        home = acct["url"].split("/")[2]
        sid = snowflake(st.published, rng)
        return Toot(
            story=st,
            uri=f"https://{home}/users/{acct['username']}/statuses/{sid}",
            url=f"https://{home}/@{acct['username']}/{sid}",
            account=acct,
            reply_to=str(int(sid) - 99_000) if rng.random() < 0.1 else None,
            boosts=rng.choice(BOOSTS),
            favourites=rng.choice(FAVOURITES),
            replies=rng.randint(0, 6),
            tags=tags,
        )

    def _statuses(
        self, run_start: datetime, sources: Mapping[str, SourceConfig]
    ) -> dict[str, list[Toot]]:
        out: dict[str, list[Toot]] = {}
        fresh_of: dict[str, list[Toot]] = {}
        for spec in self.timelines:
            size = spec.plan.size
            carried = self.world.carry(self.previous.get(spec.name, []), spec.plan)
            if sources[spec.name].timeline != "trending":
                tag = mastodon_tag(sources[spec.name]) or "python"
                fresh = [self._toot(run_start, tags=(tag,)) for _ in range(size - len(carried))]
                fresh_of[spec.name] = fresh
                out[spec.name] = sorted(
                    carried + fresh, key=lambda t: t.story.published, reverse=True
                )
                continue
            # Federation: popular statuses of this run's tag timeline also trend elsewhere.
            federated: list[Toot] = []
            if spec.federated_from is not None:
                federated = [t for t in fresh_of[spec.federated_from.name]
                             if not t.reply_to and len(t.story.body) > 10][:3]  # fmt: skip
            for t in federated:
                t.boosts += 30
                t.favourites += 60
            trending = [self._toot(run_start, max_age_h=20) for _ in range(size)]
            for t in trending:
                t.reply_to = None
                t.favourites += 10
                t.boosts += 5
            listed = (carried + federated + trending)[:size]
            listed.sort(key=lambda t: -(t.boosts + t.favourites))
            out[spec.name] = listed
        self.previous.update(out)
        return out

    def _local_id(self, name: str, toot: Toot) -> str:
        """Each instance has its own id for a status, stable from run to run."""
        key = f"{name}:{toot.uri}"
        if key not in self.local_ids:
            self.local_ids[key] = snowflake(toot.story.published, self.world.rng)
        return self.local_ids[key]

    def _exchanges(
        self,
        spec: MastodonTimeline,
        source: SourceConfig,
        toots: list[Toot],
        local_ids: list[str],
        run_start: datetime,
    ) -> list[dict[str, Any]]:
        assert source.instance is not None
        rng = self.world.rng
        instance = urlsplit(source.instance).hostname or ""
        schedule = RequestSchedule(source, run_start, rng)
        trending = source.timeline == "trending"
        path = (
            "/api/v1/trends/statuses"
            if trending
            else f"/api/v1/timelines/tag/{mastodon_tag(source)}"
        )
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
            schedule.add(
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
                        ("x-request-id", f"{rng.getrandbits(64):016x}"),
                    ],
                    body=json.dumps(statuses, ensure_ascii=False).encode(),
                    latency_s=spec.latency.sample(rng),
                    mime="application/json; charset=utf-8",
                    compressed=True,
                )
            )
            url = next_url
        return schedule.entries

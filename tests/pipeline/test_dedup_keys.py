"""The dedup keys of docs/dedup.md: which link fragments count, when text counts, key kinds.

The recording in tests/fixtures/dedup (built by its build.py from hand-written payloads) is
replayed through the real collectors; each of its sources holds one rule's case.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pipeline.history import SeenKeys, first_seen
from pipeline.items import (
    KEY_KINDS,
    MIN_TEXT_KEY_WORDS,
    ContentItem,
    canonical_url,
    content_hash,
    key_kind,
    text_identifies_post,
    text_words,
)
from pipeline.recording import CollectedRun, Recording, replay_run_sequential
from workbench.paths import PROJECT_ROOT as ROOT

FIXTURE = ROOT / "tests" / "fixtures" / "dedup"
DOC = ROOT / "docs" / "dedup.md"


@pytest.fixture(scope="module")
def runs() -> list[CollectedRun]:
    recording = Recording.open(FIXTURE)
    return [asyncio.run(replay_run_sequential(recording, r.index)) for r in recording.runs]


def _dedup(items: list[ContentItem], history: set[str] | None = None) -> list[str | None]:
    """Each item's matched key (None: new) against ``history`` and the items before it, as
    the collectors check: every key of every item of the run counts as seen."""
    seen = set(history or ())
    matched = []
    for item in items:
        keys = item.dedup_keys()
        matched.append(next((k for k in keys if k in seen), None))
        seen.update(keys)
    return matched


def _link_keys(items: list[ContentItem]) -> list[str]:
    return [k for i in items for k in i.dedup_keys() if k.startswith("url:")]


# -- 1. links -----------------------------------------------------------------------------------
def test_day_page_posts_addressed_by_fragment_are_all_kept(runs: list[CollectedRun]) -> None:
    microblog, notes = runs[0].items["microblog"], runs[0].items["notes"]
    assert len(microblog) == 6 and len(notes) == 3
    assert _link_keys(microblog) == [
        f"url:http://microblog.example/2017/06/26.html#{a}"
        for a in ("a120110", "a153044", "a104512", "a103300", "a091512", "a080605")
    ]
    assert _link_keys(notes) == [f"url:https://notes.example/2017/06/26/#p{n}" for n in (3, 2, 1)]
    assert _dedup(microblog) == [None] * 6  # two of them say "Testing.": text is no key here
    assert _dedup(notes) == [None] * 3  # same title "Reading list" on all three


def test_a_new_post_on_a_day_page_seen_before_is_kept(runs: list[CollectedRun]) -> None:
    history = {k for i in runs[0].items["microblog"] for k in i.dedup_keys()}
    later = runs[1].items["microblog"]
    assert [i.url.rsplit("#", 1)[1] for i in later][:1] == ["a170212"]
    matched = _dedup(later, history)
    assert matched[0] is None  # the post written since
    assert [key_kind(k) for k in matched[1:] if k] == ["id"] * 6


def test_in_page_fragments_are_dropped_so_the_page_deduplicates(runs: list[CollectedRun]) -> None:
    blog = runs[0].items["blog"]
    pages = [
        "https://blog.example.org/2024/05/streaming-collectors/",  # link ...#comments
        "https://blog.example.org/2024/05/keda-tuning/",  # link ...#respond
        "https://blog.example.org/2024/05/history-index/",  # ...#post-body, guid = the page
        "https://blog.example.org/2024/05/dedup-keys/",  # ...#comments
    ]
    assert _link_keys(blog) == [f"url:{p}" for p in pages]
    # Reddit posts of those pages (and of a microblog post, whose fragment is kept on both
    # sides) are duplicates by link: their titles differ from the posts'.
    programming = runs[0].items["reddit-programming"]
    matched = _dedup(runs[0].items["microblog"] + blog + programming)
    assert matched[-4:] == [
        "url:https://blog.example.org/2024/05/streaming-collectors/",
        "url:https://blog.example.org/2024/05/history-index/",
        "url:http://microblog.example/2017/06/26.html#a080605",
        "url:https://blog.example.org/2024/05/keda-tuning/",
    ]


@pytest.mark.parametrize(
    ("url", "item_id", "key"),
    [
        ("http://Example.com/2017/06/26.html#a080605", "http://example.com/2017/06/26.html#a080605",
         "http://example.com/2017/06/26.html#a080605"),
        ("https://n.example/26/#p1", "tag:n.example,2017-06-26:p1", "https://n.example/26/#p1"),
        ("https://b.example/post/#comments", "https://b.example/post/#comments",
         "https://b.example/post/"),
        ("https://b.example/post/#Respond", "", "https://b.example/post/"),
        ("https://b.example/post/#more-812", "https://b.example/?p=812", "https://b.example/post/"),
        ("https://b.example/post/#intro", "https://b.example/post/", "https://b.example/post/"),
        ("https://b.example/post/#intro", "https://b.example/?p=9", "https://b.example/post/#intro"),
        ("https://n.example/a?utm_source=rss#xtor=RSS-3", "t3_x", "https://n.example/a"),
        ("https://n.example/a#:~:text=queue", "t3_x", "https://n.example/a"),
        ("https://n.example/a#ixzz8KqV2", "", "https://n.example/a"),
        ("https://n.example/a#", "", "https://n.example/a"),
        ("https://docs.example/x.html#gather", "t3_abc", "https://docs.example/x.html#gather"),
    ],
)  # fmt: skip
def test_fragment_rule(url: str, item_id: str, key: str) -> None:
    assert canonical_url(url, item_id) == key


def test_the_examples_in_docs_dedup_md_hold() -> None:
    """Every row of the link table in docs/dedup.md: | `link` | `item id` | `link key` |."""
    rows = re.findall(
        r"^\| `([^`]+)` \| (?:`([^`]*)`|-) \| `([^`]+)` \|", DOC.read_text(), re.MULTILINE
    )
    assert len(rows) >= 8
    for url, item_id, key in rows:
        assert canonical_url(url, item_id) == key, (url, item_id)


# -- 2. text ------------------------------------------------------------------------------------
def test_text_key_threshold() -> None:
    eleven = "one two three four five six seven eight nine ten eleven"
    assert text_words(eleven, "") == 11 == MIN_TEXT_KEY_WORDS - 1
    assert not text_identifies_post(eleven, "")
    assert text_identifies_post(eleven, "twelve")  # title and body count together
    assert text_words("How?", "") == 1
    assert text_words("How? https://example.com/a/b/c/d/e/f/g/h", "www.example.org/x y") == 2
    assert text_words("", "queue_worker 2.0: 100% -- ok") == 6  # _ . % split words
    assert text_words("キューの長さで自動スケール", "") == 13  # kana and Han: one word each
    assert text_words("Python入門", "") == 3
    # A title that repeats the body's start (a Mastodon status's first line) counts once.
    assert text_words("Good morning!", "Good morning!") == 2
    assert text_words("Good morning!", "Good morning! From Berlin.") == 4
    assert text_words("How", "However it went") == 4  # a prefix of a word is no repeat
    seven = "a status of exactly seven words here"
    assert not text_identifies_post(seven, seven + " and four more words")  # 11, not 18


def test_short_title_only_posts_with_different_links_are_kept(runs: list[CollectedRun]) -> None:
    learn = runs[0].items["reddit-learnpython"]
    assert [i.title for i in learn] == ["How?", "How?", "How?", "Help", "Help", "Why?"]
    assert content_hash("How?", "") == learn[0].content_hash == learn[1].content_hash
    assert all(not k.startswith("hash:") for i in learn for k in i.dedup_keys())
    matched = _dedup(learn)
    assert matched[:5] == [None] * 5  # different links (an image, the docs, three self posts)
    assert matched[5] == "url:https://i.example.com/f0a1.png"  # the link decides: h1's image
    good_morning = runs[0].items["mastodon-python"][2:]
    assert [i.title for i in good_morning] == ["Good morning!", "Good morning!"]
    assert _dedup(good_morning) == [None, None]


def test_long_identical_text_cross_posted_is_a_duplicate(runs: list[CollectedRun]) -> None:
    blog, devto = runs[0].items["blog"], runs[0].items["devto"]
    assert blog[3].content_hash == devto[0].content_hash
    assert blog[3].canonical_url != devto[0].canonical_url
    assert _dedup(blog + devto)[-1] == f"hash:{devto[0].content_hash}"
    bots = runs[0].items["mastodon-python"][:2]  # a bot and its mirror on another instance
    assert bots[0].source_id != bots[1].source_id and bots[0].url != bots[1].url
    assert _dedup(bots) == [None, f"hash:{bots[1].content_hash}"]


# -- 3. which kind a duplicate counts under -----------------------------------------------------
def test_the_same_guid_repeated_in_one_feed_is_a_duplicate_by_id(
    runs: list[CollectedRun],
) -> None:
    changelog = runs[0].items["changelog"]
    assert len({i.source_id for i in changelog}) == 2
    matched = _dedup(changelog)
    guid = "id:rss:urn:uuid:7f8a1c2e-1d0b-4c55-9a51-2f4d0c8e1400"
    # The edited copy shares only the guid; the exact copy shares guid, link and text and
    # still counts under the first kind, id.
    assert matched == [None, guid, guid, None]
    exact = changelog[2]
    assert set(exact.dedup_keys()) == set(changelog[0].dedup_keys())


def test_keys_are_listed_id_link_text_and_first_seen_follows_that_order() -> None:
    item = ContentItem.create(
        source="rss", source_name="f", source_id="g1", url="https://a.example/p#c1",
        title="A title of five words", body="and a body of seven more words here",
        author="", published_at=datetime(2024, 5, 14, tzinfo=UTC),
    )  # fmt: skip
    keys = item.dedup_keys()
    assert [key_kind(k) for k in keys] == list(KEY_KINDS) == ["id", "link", "text"]
    assert keys == ("id:rss:g1", "url:https://a.example/p#c1", f"hash:{item.content_hash}")
    history, run = SeenKeys([keys[2]]), SeenKeys([keys[1]])
    assert first_seen(keys, history, run) == keys[1]  # link before text, whichever set
    assert first_seen(reversed(keys), history, run) == keys[2]
    assert first_seen(keys, SeenKeys(), SeenKeys(["id:rss:other"])) is None


def test_the_builder_reproduces_the_fixture_recording(tmp_path: Path) -> None:
    subprocess.run([sys.executable, str(FIXTURE / "build.py"), str(tmp_path)], check=True, cwd=ROOT)
    for name in ("sources.yaml", "manifest.json", "run-000.har", "run-001.har"):
        assert (tmp_path / name).read_bytes() == (FIXTURE / name).read_bytes(), name


# -- 4. the link alone, across sources ----------------------------------------------------------
@pytest.mark.parametrize(
    ("first", "again"),
    [
        ("https://news.example/story/42", "https://news.example/story/42?utm_source=reddit&ref=x"),
        ("https://news.example/story/42", "HTTPS://News.Example/story/42"),
        ("https://news.example/story/42", "https://news.example:443/story/42"),
        ("http://news.example/story/42?id=7", "http://NEWS.example:80/story/42?fbclid=a&id=7"),
        ("https://news.example/story/42#comments", "https://news.example/story/42?gclid=z"),
    ],
)  # fmt: skip
def test_the_same_link_from_another_source_is_a_duplicate_by_link(first: str, again: str) -> None:
    """A feed entry and a Reddit post of the same page, told apart by everything but the link:
    other ids, other titles, no text long enough to be a key."""
    when = datetime(2024, 5, 14, tzinfo=UTC)
    entry = ContentItem.create(
        source="rss", source_name="news", source_id="guid-42", url=first,
        title="Story 42", body="", author="a", published_at=when,
    )  # fmt: skip
    post = ContentItem.create(
        source="reddit", source_name="r-news", source_id="t3_xyz", url=again,
        title="Look at this", body="", author="b", published_at=when,
    )  # fmt: skip
    assert _dedup([entry, post]) == [None, f"url:{entry.canonical_url}"]
    # As a run checks it: the entry's keys seen in this run, the history empty.
    matched = first_seen(post.dedup_keys(), SeenKeys(), SeenKeys(entry.dedup_keys()))
    assert matched == f"url:{entry.canonical_url}" and key_kind(matched) == "link"
    # The same page on another path or host is not the same link.
    other = ContentItem.create(
        source="reddit", source_name="r-news", source_id="t3_xyz", url=again.replace("42", "43"),
        title="Look at this", body="", author="b", published_at=when,
    )  # fmt: skip
    assert _dedup([entry, other]) == [None, None]

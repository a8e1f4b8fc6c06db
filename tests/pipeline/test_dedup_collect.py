"""Dedup by key kind through the real collectors, queue, blob and history (Azurite), on the
fixture recording tests/fixtures/dedup (see its build.py), and old history entries.

Expected counts are derived by hand from the payloads (tests/fixtures/dedup/payloads):

run 0, sources in configuration order (batch reads them so):
- microblog 6, notes 3, blog 4: all new (fragments kept; in-page fragments dropped).
- devto 1: the blog's "Deduplication keys..." cross-posted: text.
- changelog 4: the guid repeated twice: id, id.
- reddit-learnpython 6: "How?"/"Help" kept; "Why?" links h1's image: link.
- reddit-programming 4: links of three blog pages and one microblog post: link x4.
- mastodon-python 4: the mirror bot's copy: text; two "Good morning!" kept.
  -> 9 duplicates: id 2, link 5, text 2.
run 1 (8 h later; the history holds the keys of run 0's 23 new items):
- microblog 7: 6 seen (id), the new post #a170212 kept.
- notes 3, blog 4: id.  devto 1: its id was never recorded (a duplicate): text.
- changelog 4: id (the repeated guid is the recorded one's).
- reddit-learnpython: 5 id, "Why?" (never recorded): link.  reddit-programming: link x4.
- mastodon-python: 3 id, the mirror's copy: text.
  -> 32 duplicates: id 25, link 5, text 2.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from pipeline.history import HistoryIndex
from pipeline.history.codec import encode_lines
from pipeline.history.keys import key_digest
from pipeline.items import content_hash
from pipeline.metrics import RunMetrics
from pipeline.recording import Recording
from pipeline.storage import BlobStore, QueueAdapter, StorageAccount
from tests.pipeline.test_collect import collect_recorded, fresh

pytestmark = pytest.mark.anyio

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "dedup"

RUN0_BATCH = {
    "devto": {"id": 0, "link": 0, "text": 1},
    "changelog": {"id": 2, "link": 0, "text": 0},
    "reddit-learnpython": {"id": 0, "link": 1, "text": 0},
    "reddit-programming": {"id": 0, "link": 4, "text": 0},
    "mastodon-python": {"id": 0, "link": 0, "text": 1},
}
RUN1_BATCH = {
    "microblog": {"id": 6, "link": 0, "text": 0},
    "notes": {"id": 3, "link": 0, "text": 0},
    "blog": {"id": 4, "link": 0, "text": 0},
    "devto": {"id": 0, "link": 0, "text": 1},
    "changelog": {"id": 4, "link": 0, "text": 0},
    "reddit-learnpython": {"id": 5, "link": 1, "text": 0},
    "reddit-programming": {"id": 0, "link": 4, "text": 0},
    "mastodon-python": {"id": 3, "link": 0, "text": 1},
}
NONE = {"id": 0, "link": 0, "text": 0}


@pytest.fixture
async def storage(
    connection_string: str, unique_name: str
) -> AsyncIterator[tuple[QueueAdapter, BlobStore]]:
    """A new queue and container on the session's Azurite, deleted afterwards."""
    async with StorageAccount(connection_string) as account, fresh(account, unique_name) as pair:
        yield pair


async def _collect(
    recording: Recording, index: int, queue: QueueAdapter, store: BlobStore, mode: str
) -> RunMetrics:
    return await collect_recorded(recording, index, queue, store, HistoryIndex(store), mode)


def _per_source(metrics: RunMetrics) -> dict[str, dict[str, int]]:
    return {
        name: s["duplicates_by_key"]
        for name, s in metrics.per_source.items()
        if s["duplicates_by_key"] != NONE
    }


async def test_batch_runs_count_duplicates_by_key_per_source(
    storage: tuple[QueueAdapter, BlobStore],
) -> None:
    recording = Recording.open(FIXTURE)
    queue, store = storage
    first = await _collect(recording, 0, queue, store, "batch")
    assert (first.items_collected, first.duplicates_skipped) == (32, 9)
    assert first.duplicates_by_key == {"id": 2, "link": 5, "text": 2}
    assert _per_source(first) == RUN0_BATCH
    for name, s in first.per_source.items():
        assert sum(s["duplicates_by_key"].values()) == s["duplicates_skipped"], name

    # The history of run 0: every queued item's id, no short text's hash.
    seen = await HistoryIndex(store).load(recording.run(1).started_at)
    assert key_digest("id:reddit:t3_h1") in seen.digests()
    assert key_digest(f"hash:{content_hash('How?', '')}") not in seen.digests()
    assert key_digest(f"hash:{content_hash('Good morning!', 'Good morning!')}") not in (
        seen.digests()
    )
    # 23 new items (6 + 3 + 4 + 0 + 2 + 5 + 0 + 3); keys: 23 ids, 23 links, and a text
    # key for the 7 of 12 words or more (the four blog posts, two changelog entries,
    # the release bot's status; the short posts and the Reddit titles have none).
    assert first.items_queued == 23
    assert len(seen) == 23 + 23 + 7

    second = await _collect(recording, 1, queue, store, "batch")
    assert (second.items_collected, second.duplicates_skipped) == (33, 32)
    assert second.duplicates_by_key == {"id": 25, "link": 5, "text": 2}
    assert _per_source(second) == RUN1_BATCH
    assert second.to_dict()["duplicates_by_key"] == second.duplicates_by_key


async def test_streaming_run_totals_by_key_match_batch(
    storage: tuple[QueueAdapter, BlobStore],
) -> None:
    # Every duplicate of run 0 is one of a pair (or the repeated guid, an id clique): which
    # item counts as the duplicate depends on arrival order, the kind does not.
    recording = Recording.open(FIXTURE)
    queue, store = storage
    metrics = await _collect(recording, 0, queue, store, "streaming")
    assert metrics.duplicates_skipped == 9
    assert metrics.duplicates_by_key == {"id": 2, "link": 5, "text": 2}


async def test_old_history_entries_load_and_a_short_text_hash_matches_nothing(
    storage: tuple[QueueAdapter, BlobStore],
) -> None:
    """Index lines written before this rule (version 2 and version 1) still load; a short
    text's hash they hold, and a day page's link without its fragment, match no new post."""
    recording = Recording.open(FIXTURE)
    run = recording.run(0)
    hour = run.started_at.replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    old_keys = [
        f"hash:{content_hash('How?', '')}",  # a short text hash, a key before
        "url:http://microblog.example/2017/06/26.html",  # a day page's link, fragment dropped
        "url:https://i.example.com/f0a1.png",  # a link: still a key, h1 and h6 match it
    ]
    queue, store = storage
    history = HistoryIndex(store)
    bucket = history.bucket_name(hour)
    v2 = encode_lines(hour, [60_000_000], [[key_digest(k) for k in old_keys[:2]]])
    v1 = {"v": 1, "t0": v2[0]["t0"], "t": [120_000_000],
          "k": [[key_digest(old_keys[2]).decode("ascii")]]}  # fmt: skip
    await store.ensure_append_blob(bucket)
    await store.append_jsonl(bucket, [*v2, v1])
    assert len(await history.load(run.started_at)) == 3

    metrics = await _collect(recording, 0, queue, store, "batch")
    # As on an empty history (9), plus h1 and h6 by the old link (h6 was one already):
    # the three "How?" posts and the microblog's posts are all queued.
    assert metrics.duplicates_skipped == 10
    assert metrics.per_source["reddit-learnpython"]["duplicates_by_key"] == {
        "id": 0, "link": 2, "text": 0}  # fmt: skip
    assert metrics.per_source["microblog"]["duplicates_skipped"] == 0

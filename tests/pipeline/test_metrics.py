"""Run metrics from a hand-built tally: every expected value is derived in a comment."""

from __future__ import annotations

import math
from collections import Counter
from datetime import UTC, datetime

import pytest

from pipeline.metrics import MessageRecord, RunTally, arrival_shape
from pipeline.sources import SourceStats


def test_arrival_shape_peak_window_and_gap_cv():
    # Windows of 10 s: {0, 1, 2} is the fullest (15 and 16 are 13 s away): 3 / 10 = 0.3 items/s.
    # Gaps 1, 1, 13, 1: mean 4, population variance (9 + 9 + 81 + 9) / 4 = 27, CV sqrt(27) / 4.
    peak, cv = arrival_shape([16.0, 0.0, 2.0, 1.0, 15.0])
    assert peak == pytest.approx(0.3)
    assert cv == pytest.approx(math.sqrt(27) / 4)
    # A window is closed: sends exactly 10 s apart share one.
    assert arrival_shape([0.0, 10.0]) == (pytest.approx(0.2), None)  # one gap: no CV
    assert arrival_shape([0.0, 10.001])[0] == pytest.approx(0.1)
    assert arrival_shape([3.0, 3.0, 3.0]) == (pytest.approx(0.3), math.inf)  # gaps of 0
    assert arrival_shape([]) == (0.0, None)


def record(source_name: str, mode: str, at: float) -> MessageRecord:
    return MessageRecord(
        item_id=f"item-{source_name}-{at}",
        queue_message_id=f"queue-{source_name}-{at}",
        content_hash=f"hash-{source_name}-{at}",
        processing_key=f"hash-{source_name}-{at}",
        source="rss",
        source_name=source_name,
        mode=mode,
        enqueued_at=at,
    )


def test_tally_metrics_counts_per_source_and_in_total():
    feed = SourceStats(name="feed", type="rss")
    feed.error("timeout", "read timed out")
    feed.reject("too_short")
    social = SourceStats(name="social", type="mastodon")
    social.reject("too_short")
    social.reject("reply")
    tally = RunTally(
        modes={"feed": "streaming", "social": "batch"},
        stats={"feed": feed, "social": social},
        collected=Counter({"feed": 4, "social": 6}),
        duplicates=Counter({"feed": 1, "social": 3}),
        records=[record("social", "batch", 9.0), record("feed", "streaming", 2.0),
                 record("feed", "streaming", 6.0), record("social", "batch", 9.5),
                 record("feed", "streaming", 4.0), record("social", "batch", 9.0)],
        claim_checks=1,
    )  # fmt: skip
    started = datetime(2024, 5, 14, 8, 0, tzinfo=UTC)
    metrics = tally.metrics(
        collection_id="c1",
        collection_blob="collections/2024/05/14/080000-c1.jsonl",
        started_at=started,
        elapsed_s=12.0,
        history_keys_loaded=30,
        history_load_wall_seconds=0.25,
    )
    assert metrics.mode == "mixed"  # one source streams, one is batch
    assert metrics.started_at == "2024-05-14T08:00:00+00:00"
    assert (
        metrics.time_to_first_item_queued_seconds,
        metrics.time_to_last_item_queued_seconds,
    ) == (
        2.0,
        9.5,
    )
    assert (metrics.items_collected, metrics.items_queued, metrics.duplicates_skipped) == (10, 6, 4)
    assert metrics.deduplication_hit_rate == pytest.approx(0.4)  # 4 of 10
    assert metrics.throughput_items_per_second == pytest.approx(6 / 9.5)  # queued / last
    # Sends at 2, 4, 6, 9, 9, 9.5 all fit in one 10 s window: 6 / 10.
    assert metrics.peak_enqueue_rate_10s == pytest.approx(0.6)
    assert metrics.collection_seconds == 12.0 and metrics.claim_checks == 1
    assert (metrics.history_keys_loaded, metrics.history_load_wall_seconds) == (30, 0.25)
    assert list(metrics.per_source) == ["feed", "social"]
    feed_doc, social_doc = metrics.per_source["feed"], metrics.per_source["social"]
    assert (feed_doc["mode"], feed_doc["type"], social_doc["mode"]) == ("streaming", "rss", "batch")
    assert (feed_doc["items_queued"], feed_doc["duplicates_skipped"]) == (3, 1)
    assert feed_doc["time_to_first_item_queued_seconds"] == 2.0
    assert feed_doc["throughput_items_per_second"] == pytest.approx(3 / 6.0)  # its last send
    assert social_doc["throughput_items_per_second"] == pytest.approx(3 / 9.5)
    assert metrics.errors == {"feed": {"timeout": 1}}
    assert metrics.rejections == {"too_short": 2, "reply": 1}
    assert [m.enqueued_at for m in metrics.messages] == [2.0, 4.0, 6.0, 9.0, 9.0, 9.5]
    message = metrics.to_dict()["messages"][0]
    assert (message["item_id"], message["queue_message_id"]) == (
        "item-feed-2.0",
        "queue-feed-2.0",
    )


def test_tally_with_one_mode_and_nothing_queued():
    tally = RunTally(modes={"a": "batch", "b": "batch"}, stats={
        "a": SourceStats(name="a", type="rss"), "b": SourceStats(name="b", type="rss")})  # fmt: skip
    metrics = tally.metrics(
        collection_id="c0",
        collection_blob="collections/x.jsonl",
        started_at=datetime(2024, 5, 14, tzinfo=UTC),
        elapsed_s=0.0,
        history_keys_loaded=0,
        history_load_wall_seconds=0.0,
    )
    assert metrics.mode == "batch"
    assert metrics.time_to_first_item_queued_seconds is None
    assert metrics.deduplication_hit_rate == 0.0 and metrics.throughput_items_per_second == 0.0
    assert metrics.per_source["a"]["throughput_items_per_second"] == 0.0
    assert metrics.gap_cv is None and metrics.messages == []

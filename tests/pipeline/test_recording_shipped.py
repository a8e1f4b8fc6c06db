"""The shipped synthetic recording: shape, replay at any speed, 429, dedup rate, limits."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest

from pipeline.clock import Clock
from pipeline.errors import ReplayError
from pipeline.har import load_har
from pipeline.items import ContentItem
from pipeline.recording import (
    CollectedRun,
    Recording,
    first_item_limit_seconds,
    parse_time,
    replay_run,
    replay_run_sequential,
)
from workbench.paths import SHIPPED_RECORDING as SHIPPED


@pytest.fixture(scope="module")
def recording() -> Recording:
    return Recording.open(SHIPPED)


@pytest.fixture(scope="module")
def sequential(recording: Recording) -> list[CollectedRun]:
    return [asyncio.run(replay_run_sequential(recording, r.index)) for r in recording.runs]


def test_shape(recording: Recording) -> None:
    assert recording.manifest["synthetic"] is True
    starts = [r.started_at for r in recording.runs]
    assert [t.hour for t in starts] == [0, 8, 16]
    assert all(b - a == timedelta(hours=8) for a, b in itertools.pairwise(starts))
    types = Counter(s.type for s in recording.sources.sources)
    assert types["reddit"] >= 3 and types["rss"] >= 8
    assert len({s.instance for s in recording.sources.sources if s.type == "mastodon"}) >= 2
    assert "https://www.reddit.com" in {s.base_url for s in recording.sources.sources}


def test_every_run_has_all_types_a_parse_error_and_a_retried_429(
    sequential: list[CollectedRun],
) -> None:
    for run in sequential:
        by_type = Counter()
        for stats in run.stats.values():
            by_type[stats.type] += stats.accepted
        assert min(by_type[t] for t in ("reddit", "rss", "mastodon")) > 0
        assert run.stats["infoq"].errors == {"parse": 1}
        assert run.stats["github-blog"].status_codes == {429: 1, 200: 1}
        assert run.stats["github-blog"].retries == 1
        assert run.stats["github-blog"].accepted > 0
        errors = Counter()
        for stats in run.stats.values():
            errors.update(stats.errors)
        assert errors == {"parse": 1}
        assert run.unused_entries == 0  # the collectors make exactly the recorded requests


def test_429_is_retried_after_its_retry_after(recording: Recording) -> None:
    for run in recording.runs:
        entries = [e for e in load_har(run.har_path) if e["request"]["url"].startswith(
            "https://github.blog/")]  # fmt: skip
        first, second = sorted(entries, key=lambda e: e["startedDateTime"])
        assert first["response"]["status"] == 429
        retry_after = float(
            next(h["value"] for h in first["response"]["headers"] if h["name"] == "retry-after")
        )
        answered = parse_time(first["startedDateTime"]) + timedelta(milliseconds=first["time"])
        gap = (parse_time(second["startedDateTime"]) - answered).total_seconds()
        assert gap == pytest.approx(retry_after, abs=0.002)
        # the collector, replayed on its own, waits exactly that long
        _, per_source = first_item_limit_seconds(recording, run.index)
        expected = (first["time"] + second["time"]) / 1000 + retry_after
        assert per_source["github-blog"] == pytest.approx(expected, abs=0.002)


async def _replay_all(recording: Recording, speed: float, concurrent: bool) -> list[CollectedRun]:
    if concurrent:
        return list(
            await asyncio.gather(
                *(replay_run(recording, r.index, Clock(speed)) for r in recording.runs)
            )
        )
    return [await replay_run(recording, r.index, Clock(speed)) for r in recording.runs]


def test_speed_1_and_50_give_the_same_items_and_times(recording: Recording) -> None:
    # The three runs at speed 1 overlap (about 9 s of wall time in all).
    slow = asyncio.run(_replay_all(recording, 1.0, concurrent=True))
    fast = asyncio.run(_replay_all(recording, 50.0, concurrent=False))
    for a, b in zip(slow, fast, strict=True):
        for name in a.stats:
            assert [i.source_id for i in a.items[name]] == [i.source_id for i in b.items[name]]
            assert [i.content_hash for i in a.items[name]] == [
                i.content_hash for i in b.items[name]
            ]
            fa, fb = a.stats[name].first_accepted_at, b.stats[name].first_accepted_at
            assert (fa is None) == (fb is None), name
            if fa is not None and fb is not None:
                assert fb == pytest.approx(fa, rel=0.05), name
        first_a = min(s.first_accepted_at or 1e9 for s in a.stats.values())
        first_b = min(s.first_accepted_at or 1e9 for s in b.stats.values())
        assert first_b == pytest.approx(first_a, rel=0.05)


def _dedup(runs: list[list[ContentItem]]) -> tuple[int, int, set[str]]:
    """Duplicates by any key against the history (keys of new items of earlier runs, all
    within 24 h) and the run's own items; returns (duplicates, collected, new hashes)."""
    history: set[str] = set()
    duplicates = collected = 0
    hashes: set[str] = set()
    for items in runs:
        run_seen: set[str] = set()
        new_keys: set[str] = set()
        for item in items:
            keys = item.dedup_keys()
            collected += 1
            if any(k in history or k in run_seen for k in keys):
                duplicates += 1
            else:
                new_keys.update(keys)
                hashes.add(item.content_hash)
            run_seen.update(keys)
        history |= new_keys
    return duplicates, collected, hashes


def _orders(run: CollectedRun) -> dict[str, list[ContentItem]]:
    lists = list(run.items.values())
    interleaved = [
        i for group in itertools.zip_longest(*lists) for i in group if i is not None
    ]  # what concurrent sources look like
    return {
        "config": [i for items in lists for i in items],
        "reversed": [i for items in reversed(lists) for i in items],
        "interleaved": interleaved,
        "interleaved_reversed": interleaved[::-1],
    }


def test_dedup_hit_rate_is_10_to_20_percent_in_any_order(sequential: list[CollectedRun]) -> None:
    outcomes = {}
    for order in ("config", "reversed", "interleaved", "interleaved_reversed"):
        outcomes[order] = _dedup([_orders(run)[order] for run in sequential])
    duplicates, collected, hashes = outcomes["config"]
    assert 0.10 <= duplicates / collected <= 0.20, duplicates / collected
    for order, (d, c, h) in outcomes.items():
        assert (d, c) == (duplicates, collected), order
        assert h == hashes, order  # batch and streaming queue the same set of hashes


def test_same_story_on_two_sources_shares_link_and_text(sequential: list[CollectedRun]) -> None:
    for run in sequential:
        owners: dict[str, set[str]] = {}
        by_key: dict[str, set[str]] = {}
        for name, items in run.items.items():
            for item in items:
                for key in item.dedup_keys():
                    owners.setdefault(key, set()).add(name)
                    by_key.setdefault(key, set()).add(item.content_hash)
        shared = [k for k, names in owners.items() if len(names) > 1]
        assert len(shared) >= 3
        assert all(len(by_key[k]) == 1 for k in shared)


def test_first_item_limit_and_sequential_collection(
    recording: Recording, sequential: list[CollectedRun]
) -> None:
    for run in sequential:
        assert run.index is not None
        limit, per_source = first_item_limit_seconds(recording, run.index)
        assert 0.1 <= limit <= 1.0
        assert limit == min(per_source.values())
        assert "infoq" not in per_source
        assert per_source["martin-fowler"] > 7.5  # the slow feed
        assert run.duration_s > 15.0
        assert run.duration_s >= 10 * limit


def test_generator_reproduces_the_shipped_recording(tmp_path: Path) -> None:
    from workbench.synth import generate

    generate(tmp_path / "synthetic-tech", seed=42)
    for name in ("sources.yaml", "manifest.json", "run-000.har", "run-001.har", "run-002.har"):
        assert (tmp_path / "synthetic-tech" / name).read_bytes() == (SHIPPED / name).read_bytes()


def test_open_errors(tmp_path: Path) -> None:
    with pytest.raises(ReplayError, match="recording folder not found"):
        Recording.open(tmp_path / "missing")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ReplayError, match="not a directory"):
        Recording.open(tmp_path / "file")
    with pytest.raises(ReplayError, match="no manifest.json"):
        Recording.open(tmp_path)
    (tmp_path / "manifest.json").write_text(json.dumps({"runs": []}))
    (tmp_path / "sources.yaml").write_text("sources: [{name: a, type: rss}]\n")
    with pytest.raises(ReplayError, match="missing required key 'url'"):
        Recording.open(tmp_path)
    (tmp_path / "sources.yaml").write_text("sources: [{name: a, type: rss, url: 'https://x'}]\n")
    with pytest.raises(ReplayError, match="no runs"):
        Recording.open(tmp_path)

"""The shipped design-scale recording keeps the design's workload (docs/rollout.md, question 2).

Per run about 100 items (Reddit ~50, RSS ~30, Mastodon ~20), 10-20 % duplicates over the
runs, a sequential (batch) collection of 2-3 minutes and a first useful response within
seconds. Measured by replaying the recording on an instant clock: no storage, no waiting.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest

from pipeline.items import ContentItem
from pipeline.recording import (
    CollectedRun,
    Recording,
    first_item_limit_seconds,
    replay_run_sequential,
)
from workbench.paths import DESIGN_SCALE_RECORDING as DESIGN_SCALE


@pytest.fixture(scope="module")
def recording() -> Recording:
    return Recording.open(DESIGN_SCALE)


@pytest.fixture(scope="module")
def sequential(recording: Recording) -> list[CollectedRun]:
    return [asyncio.run(replay_run_sequential(recording, r.index)) for r in recording.runs]


def test_three_runs_at_0_8_and_16_h(recording: Recording) -> None:
    assert recording.manifest["synthetic"] is True
    starts = [r.started_at for r in recording.runs]
    assert [t.hour for t in starts] == [0, 8, 16]
    assert all(b - a == timedelta(hours=8) for a, b in itertools.pairwise(starts))


def test_about_100_items_a_run_half_from_reddit(sequential: list[CollectedRun]) -> None:
    for run in sequential:
        by_type: Counter[str] = Counter()
        for stats in run.stats.values():
            by_type[stats.type] += stats.accepted
            assert not stats.errors, (run.index, stats.name, stats.errors)
        total = sum(by_type.values())
        assert 90 <= total <= 110, (run.index, total)
        assert 0.4 <= by_type["reddit"] / total <= 0.6, (run.index, by_type)
        assert 25 <= by_type["rss"] <= 35 and 15 <= by_type["mastodon"] <= 25, by_type
        assert run.unused_entries == 0  # the collectors make exactly the recorded requests


def test_batch_takes_2_to_3_minutes_and_the_first_item_comes_within_seconds(
    recording: Recording, sequential: list[CollectedRun]
) -> None:
    for run in sequential:
        assert run.index is not None
        assert 120.0 <= run.duration_s <= 180.0, (run.index, run.duration_s)
        limit, per_source = first_item_limit_seconds(recording, run.index)
        assert limit < 5.0, (run.index, limit)
        # No single source makes the batch slow: every one is over before 2/3 of the run.
        assert max(per_source.values()) < run.duration_s * 2 / 3, per_source


def _new_hashes(runs: list[list[ContentItem]]) -> tuple[int, int, list[set[str]]]:
    """(duplicates, collected, content hashes queued per run) with a history across runs:
    an item is a duplicate when any of its keys was queued before or seen in its run."""
    history: set[str] = set()
    duplicates = collected = 0
    queued: list[set[str]] = []
    for items in runs:
        seen: set[str] = set()
        hashes: set[str] = set()
        for item in items:
            keys = set(item.dedup_keys())
            collected += 1
            if keys & (history | seen):
                duplicates += 1
            else:
                hashes.add(item.content_hash)
                history |= keys
            seen |= keys
        queued.append(hashes)
    return duplicates, collected, queued


def test_10_to_20_percent_duplicates_the_same_whatever_order_sources_answer(
    sequential: list[CollectedRun],
) -> None:
    in_order = [[i for items in run.items.values() for i in items] for run in sequential]
    reverse = [[i for items in reversed(run.items.values()) for i in items] for run in sequential]
    duplicates, collected, queued = _new_hashes(in_order)
    assert 0.10 <= duplicates / collected <= 0.20, duplicates / collected
    # Batch reads sources in order, streaming as they answer: the same hashes reach the queue.
    assert _new_hashes(reverse) == (duplicates, collected, queued)


def test_generator_reproduces_the_shipped_recording(tmp_path: Path) -> None:
    from workbench.synth import generate

    generate(tmp_path / "design-scale", seed=42, profile="design-scale")
    for name in ("sources.yaml", "manifest.json", "run-000.har", "run-001.har", "run-002.har"):
        assert (tmp_path / "design-scale" / name).read_bytes() == (DESIGN_SCALE / name).read_bytes()

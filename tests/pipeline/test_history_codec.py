"""The history index's line format and time window, without storage (docs/history.md).

Expected lines are built here from the format's description (struct-packed offsets and counts),
not with the codec's own helpers.
"""

from __future__ import annotations

import base64
import json
import logging
import struct
from datetime import UTC, datetime, timedelta, timezone

import pytest

from pipeline.history.codec import add_window_entries, encode_lines, entry_keys, entry_times
from pipeline.history.keys import SeenKeys, key_digest
from pipeline.history.window import (
    Window,
    check_lookback_and_retention,
    epoch_us,
    floor_hour,
    require_positive,
    utc,
)

HOUR = datetime(2026, 11, 29, 7, 0, tzinfo=UTC)
HOUR_US = 1_795_935_600 * 1_000_000  # `date -u -d 2026-11-29T07:00:00Z +%s`, in µs
MIN_US = 60 * 1_000_000


def digests(*names: str) -> list[bytes]:
    return [key_digest(n) for n in names]


def texts(*names: str) -> list[str]:
    """The digests as a JSON line holds them (ASCII text)."""
    return [digest.decode("ascii") for digest in digests(*names)]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


# -- the window -------------------------------------------------------------------------------
def test_times_are_utc_and_counted_in_microseconds() -> None:
    naive = datetime(2026, 11, 29, 7, 0)
    assert utc(naive) == HOUR and utc(naive).tzinfo is UTC
    assert utc(datetime(2026, 11, 29, 9, 0, tzinfo=timezone(timedelta(hours=2)))) == HOUR
    assert utc(datetime(2026, 11, 29, 9, 0, tzinfo=timezone(timedelta(hours=2)))).tzinfo is UTC
    assert epoch_us(HOUR) == epoch_us(naive) == HOUR_US
    assert epoch_us(datetime(1970, 1, 1, 0, 0, 1, 5, tzinfo=UTC)) == 1_000_005
    assert floor_hour(datetime(2026, 11, 29, 7, 59, 59, 999_999, tzinfo=UTC)) == HOUR


def test_the_window_holds_its_end_and_not_its_start() -> None:
    window = Window.ending_at(datetime(2026, 11, 29, 8, 0), timedelta(hours=24))
    start, end = datetime(2026, 11, 28, 8, 0, tzinfo=UTC), datetime(2026, 11, 29, 8, 0, tzinfo=UTC)
    assert (window.start, window.end) == (start, end)
    assert start not in window and end in window
    assert start + timedelta(microseconds=1) in window
    assert end + timedelta(microseconds=1) not in window
    assert datetime(2026, 11, 29, 8, 0) in window  # naive: UTC
    assert window.bounds_us() == (HOUR_US - 23 * 3600 * 1_000_000, HOUR_US + 3600 * 1_000_000)
    assert window.hours() == (start, end)
    assert list(window.days()) == [
        datetime(2026, 11, 28, tzinfo=UTC),
        datetime(2026, 11, 29, tzinfo=UTC),
    ]


def test_the_window_lists_every_day_it_touches() -> None:
    midnight = datetime(2026, 11, 29, tzinfo=UTC)
    # Ending exactly at midnight: the new day's first instant is inside.
    assert list(Window.ending_at(midnight, timedelta(hours=1)).days()) == [
        midnight - timedelta(days=1),
        midnight,
    ]
    # Within one day.
    inside = Window.ending_at(midnight + timedelta(hours=5), timedelta(hours=2))
    assert list(inside.days()) == [midnight]
    assert inside.hours() == (midnight + timedelta(hours=3), midnight + timedelta(hours=5))
    # A start within an hour: the days are still midnights.
    odd = Window.ending_at(midnight + timedelta(hours=1, minutes=7, seconds=3, microseconds=9),
                           timedelta(days=2))  # fmt: skip
    assert list(odd.days()) == [
        midnight - timedelta(days=2),
        midnight - timedelta(days=1),
        midnight,
    ]


def test_durations_must_be_positive_and_the_retention_at_least_the_lookback() -> None:
    with pytest.raises(ValueError) as zero:
        require_positive("history lookback", timedelta(0))
    assert str(zero.value) == "history lookback must be a positive timedelta, got 0:00:00 (0 s)"
    with pytest.raises(ValueError) as number:
        require_positive("history retention", 3600)
    assert str(number.value) == "history retention must be a positive timedelta, got 3600"
    require_positive("x", timedelta(microseconds=1))
    with pytest.raises(ValueError, match="history lookback must be a positive"):
        Window.ending_at(HOUR, timedelta(hours=-1))
    check_lookback_and_retention(timedelta(hours=24), timedelta(hours=24))
    with pytest.raises(ValueError) as short:
        check_lookback_and_retention(timedelta(hours=24), timedelta(hours=23))
    assert str(short.value) == (
        "history retention (23:00:00) must be at least the lookback (1 day, 0:00:00): "
        "entries still inside the lookback window would be deleted"
    )
    with pytest.raises(ValueError, match="history retention must be"):
        check_lookback_and_retention(timedelta(hours=1), timedelta(0))
    with pytest.raises(ValueError, match="history lookback must be"):
        check_lookback_and_retention(timedelta(0), timedelta(hours=1))


# -- the line format --------------------------------------------------------------------------
def test_a_version_2_line_as_the_format_describes() -> None:
    times = [5 * MIN_US, 1, 59 * MIN_US]
    keys = [digests("a", "b"), digests("c"), digests("d", "e", "f")]
    [line] = encode_lines(HOUR, times, keys)
    assert line == {
        "v": 2,
        "t0": HOUR_US,
        "lo": 1,
        "hi": 59 * MIN_US,
        "t": b64(struct.pack("=3I", *times)),
        "n": b64(bytes([2, 1, 3])),
        "d": "".join(texts("a", "b", "c", "d", "e", "f")),
    }
    assert entry_times(line) == times
    assert entry_keys(line) == keys
    assert entry_times(json.loads(json.dumps(line))) == times


def test_a_large_call_is_split_into_lines_of_5000() -> None:
    times = list(range(12_000))
    keys = [[key_digest(str(i))] for i in times]
    lines = encode_lines(HOUR, times, keys)
    assert [(line["lo"], line["hi"]) for line in lines] == [(0, 4999), (5000, 9999), (10000, 11999)]
    assert [len(entry_times(line)) for line in lines] == [5000, 5000, 2000]
    assert [k for line in lines for k in entry_keys(line)] == keys


def test_version_1_lines_are_read() -> None:
    old = {"t0": HOUR_US, "t": [3, 4], "k": [texts("a"), texts("b", "c")]}
    assert entry_times(old) == [3, 4] and entry_keys(old) == [digests("a"), digests("b", "c")]
    assert entry_times({**old, "v": 1}) == [3, 4]
    seen = SeenKeys()
    data = (json.dumps(old) + "\n").encode()
    assert add_window_entries(seen, "b", data, HOUR_US + 3, HOUR_US + 4) == 1
    assert seen.digests() == set(digests("b", "c"))
    # An empty version 1 line adds nothing and is no error.
    assert add_window_entries(SeenKeys(), "b", b'{"t0": 1, "t": [], "k": []}\n', 0, 10) == 0


def _bucket(*lines: dict) -> bytes:
    return b"".join(json.dumps(line).encode() + b"\n" for line in lines)


@pytest.mark.parametrize(
    ("lo", "hi", "expected"),
    [
        # (lo, hi] in offsets from the hour; entries at 10, 20, 30.
        (0, 40, {"a", "b", "c"}),  # the whole line: the fast path
        (9, 30, {"a", "b", "c"}),  # still the whole line: 10 > 9 and 30 <= 30
        (10, 30, {"b", "c"}),  # the entry at exactly lo is outside
        (9, 29, {"a", "b"}),  # the entry past hi is outside
        (15, 25, {"b"}),
        (30, 40, set()),  # last <= lo: wholly before
        (0, 9, set()),  # hi < first: wholly after
        (-5, 10, {"a"}),  # hi == first: that entry only
    ],
)
def test_only_the_entries_inside_the_window_are_added(lo: int, hi: int, expected: set) -> None:
    line = encode_lines(HOUR, [10, 20, 30], [digests("a"), digests("b"), digests("c")])[0]
    seen = SeenKeys()
    added = add_window_entries(seen, "b", _bucket(line), HOUR_US + lo, HOUR_US + hi)
    assert added == len(expected)
    assert seen.digests() == {key_digest(k) for k in expected}


def test_several_lines_and_keys_per_entry() -> None:
    first = encode_lines(HOUR, [10, 20], [digests("a", "a2"), digests("b")])[0]
    second = encode_lines(HOUR, [30], [digests("c", "c2", "c3")])[0]
    seen = SeenKeys()
    assert add_window_entries(seen, "b", _bucket(first, second) + b"\n", HOUR_US, HOUR_US + 30) == 3
    assert len(seen) == 6 and seen.seen(["c3"]) and seen.seen(["a2"])
    seen = SeenKeys()
    assert add_window_entries(seen, "b", _bucket(first, second), HOUR_US + 15, HOUR_US + 30) == 2
    assert seen.digests() == set(digests("b", "c", "c2", "c3"))


def test_bad_lines_are_logged_and_skipped(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="pipeline.history")
    good = encode_lines(HOUR, [10], [digests("a")])[0]
    disagree = {**good, "d": good["d"] + "x"}  # one digest character too many
    not_ascii = {**good, "d": "\u00e9" + good["d"][1:]}  # the right length, not a digest
    not_text = {"t0": HOUR_US, "t": [10], "k": [[7]]}  # a version 1 line, a number for a digest
    bad = [b"{not json", json.dumps({**good, "t0": "7"}).encode(), json.dumps({"v": 2}).encode(),
           json.dumps(disagree).encode(), json.dumps(not_ascii).encode(),
           json.dumps(not_text).encode(),
           b"   "]  # fmt: skip
    data = b"\n".join([*bad, json.dumps(good).encode()]) + b"\n"
    seen = SeenKeys()
    assert add_window_entries(seen, "history/x.jsonl", data, HOUR_US, HOUR_US + 10) == 1
    assert seen.digests() == set(digests("a"))
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        f"history_bad_line blob=history/x.jsonl line={n} skipped" for n in (1, 2, 3, 4, 5, 6)
    ]
    # The same disagreeing line read entry by entry (window cuts it) is skipped too.
    partial = {**encode_lines(HOUR, [10, 20], [digests("a"), digests("b")])[0]}
    partial["n"] = b64(bytes([1, 2]))
    caplog.clear()
    assert add_window_entries(SeenKeys(), "h", _bucket(partial), HOUR_US + 15, HOUR_US + 20) == 0
    assert [r.getMessage() for r in caplog.records] == ["history_bad_line blob=h line=1 skipped"]
    # Offsets that do not unpack: skipped when the window needs them (a line wholly inside is
    # taken on its lo/hi without reading them).
    broken = {**encode_lines(HOUR, [10, 20], [digests("a"), digests("b")])[0], "t": "!!!"}
    assert add_window_entries(SeenKeys(), "h", _bucket(broken), HOUR_US + 15, HOUR_US + 20) == 0
    assert add_window_entries(SeenKeys(), "h", _bucket(broken), HOUR_US, HOUR_US + 20) == 2


def test_lines_are_read_past_empty_and_outside_ones(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="pipeline.history")
    empty_v1 = {"t0": HOUR_US, "t": [], "k": []}
    before = encode_lines(HOUR, [1, 2], [digests("old"), digests("older")])[0]
    inside = encode_lines(HOUR, [10], [digests("a")])[0]
    seen = SeenKeys()
    data = _bucket(empty_v1, before, inside)
    assert add_window_entries(seen, "b", data, HOUR_US + 5, HOUR_US + 10) == 1
    assert seen.digests() == set(digests("a"))
    # A version 1 line (no "v") wholly inside the window is read in full.
    old = {"t0": HOUR_US, "t": [3, 4], "k": [texts("x"), texts("y", "z")]}
    seen = SeenKeys()
    assert add_window_entries(seen, "b", _bucket(old), HOUR_US, HOUR_US + 10) == 2
    assert seen.digests() == set(digests("x", "y", "z"))
    # A line wholly outside is skipped unread: its broken offsets are never seen. Its last
    # entry at exactly the window's start is outside too.
    broken = {**encode_lines(HOUR, [1, 5], [digests("p"), digests("q")])[0], "t": "!!!"}
    assert add_window_entries(SeenKeys(), "b", _bucket(broken), HOUR_US + 5, HOUR_US + 9) == 0
    assert add_window_entries(SeenKeys(), "b", _bucket(broken), HOUR_US - 9, HOUR_US + 0) == 0
    assert caplog.records == []


def test_a_line_whose_offsets_and_counts_disagree_is_skipped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="pipeline.history")
    line = encode_lines(HOUR, [10, 20, 30], [digests("a"), digests("b"), digests("c")])[0]
    two = encode_lines(HOUR, [10, 20], [digests("a"), digests("b")])[0]
    mixed = {**line, "n": two["n"], "d": two["d"]}  # three offsets, two entries
    assert add_window_entries(SeenKeys(), "h", _bucket(mixed), HOUR_US + 15, HOUR_US + 30) == 0
    assert [r.getMessage() for r in caplog.records] == ["history_bad_line blob=h line=1 skipped"]

"""The one percentile definition and the t-intervals across replications (sim/_stats.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sim._stats import aggregate, percentile


def test_percentile_bounds_and_inputs() -> None:
    values = [4.0, 1.0, 3.0, 2.0]
    assert percentile(values, 0) == 1.0 and percentile(values, 100) == 4.0
    assert percentile(values, 0.5) == pytest.approx(1.015)  # 0.5 % of the way from 1 to 2 x 3
    assert percentile(iter(values), 50) == 2.5  # any iterable, read once
    assert percentile(np.array([1, 2, 3]), 50) == 2.0
    assert math.isnan(percentile([], 50))
    for q in (-0.1, 100.1):
        with pytest.raises(ValueError) as info:
            percentile(values, q)
        assert str(info.value) == f"percentile q must be within 0..100, got {q!r}"


def test_aggregate_edges() -> None:
    table = aggregate(
        [
            {"one": 5.0, "two": 1.0, "same": 2.0, "none": None},
            {"one": None, "two": 3.0, "same": 2.0, "none": None},
        ]
    )
    one, two, same, none = (table.loc[k] for k in ("one", "two", "same", "none"))
    # One value: a mean, no spread, no interval.
    assert one["n"] == 1 and one["mean"] == 5.0
    assert math.isnan(one["sd"]) and math.isnan(one["ci_low"]) and math.isnan(one["ci_high"])
    # Two values: sd = sqrt(2), half-width t(0.975, 1) x sd / sqrt(2) = 12.7062.
    assert two["n"] == 2 and two["mean"] == 2.0 and two["sd"] == pytest.approx(math.sqrt(2))
    assert (two["ci_low"], two["ci_high"]) == pytest.approx((2 - 12.7062, 2 + 12.7062), abs=1e-4)
    # No spread: an interval of no width, not NaN.
    assert (same["sd"], same["ci_low"], same["ci_high"]) == (0.0, 2.0, 2.0)
    # Nothing measured: all NaN (no warning about an empty mean).
    assert none["n"] == 0 and all(math.isnan(none[k]) for k in ("mean", "sd", "ci_low", "ci_high"))
    assert list(table.columns) == ["mean", "sd", "ci_low", "ci_high", "n"]

"""The statistics used everywhere: one percentile definition and means with t-intervals."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd
from scipy import stats


def percentile(values: Iterable[float], q: float) -> float:
    """The ``q``-th percentile (0..100) of ``values``, linearly interpolated between the two
    nearest ranks (numpy's default, method ``linear``); NaN when there are no values.

    The one definition for simulated and replayed latencies: p95 of ``[1, 2, ..., 10]`` is 9.55.
    """
    if not 0 <= q <= 100:
        raise ValueError(f"percentile q must be within 0..100, got {q!r}")
    array = np.asarray(values if isinstance(values, np.ndarray) else list(values), dtype=float)
    if array.size == 0:
        return math.nan
    return float(np.percentile(array, q))


def aggregate(rows: Sequence[dict[str, float]], confidence: float = 0.95) -> pd.DataFrame:
    """Mean, sd and a t-interval per metric across replications (NaNs ignored)."""
    frame = pd.DataFrame(list(rows))
    out: dict[str, dict[str, float]] = {}
    for name in frame.columns:
        values = frame[name].to_numpy(dtype=float)
        values = values[~np.isnan(values)]
        n = values.size
        mean = float(values.mean()) if n else math.nan
        sd = float(values.std(ddof=1)) if n > 1 else math.nan
        if n > 1 and sd > 0:
            half = float(stats.t.ppf(0.5 + confidence / 2, n - 1)) * sd / math.sqrt(n)
        elif n > 1:
            half = 0.0
        else:
            half = math.nan
        out[name] = {"mean": mean, "sd": sd, "ci_low": mean - half, "ci_high": mean + half, "n": n}
    return pd.DataFrame.from_dict(out, orient="index")

"""Arrival patterns: when messages are enqueued, in seconds from the start of the run."""

from __future__ import annotations

import csv
import json
import math
import re
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

COLLECTION_PERIOD_S = 8 * 3600.0


class Arrivals(ABC):
    """A pattern that yields sorted enqueue times for one replication."""

    @abstractmethod
    def times(self, rng: np.random.Generator) -> np.ndarray: ...


@dataclass(frozen=True)
class Times(Arrivals):
    """Enqueue times as plain data (seconds); kept sorted."""

    values: tuple[float, ...]

    def __init__(self, values: Iterable[float]) -> None:
        vals = tuple(sorted(float(v) for v in values))
        for v in vals:
            if not math.isfinite(v) or v < 0:
                raise ValueError(f"arrival times must be finite and >= 0, got {v!r}")
        object.__setattr__(self, "values", vals)

    def times(self, rng: np.random.Generator) -> np.ndarray:
        return np.asarray(self.values, dtype=float)

    def __str__(self) -> str:
        return f"times(n={len(self.values)})"


@dataclass(frozen=True)
class Burst(Arrivals):
    """``n`` messages sent from ``at_s`` on, at ``rate_per_s`` (None: all at the same instant)."""

    n: int
    at_s: float = 0.0
    rate_per_s: float | None = None

    def __post_init__(self) -> None:
        if int(self.n) != self.n or self.n < 0:
            raise ValueError(f"burst size must be a whole number >= 0, got {self.n!r}")
        if not math.isfinite(self.at_s) or self.at_s < 0:
            raise ValueError(f"burst time must be >= 0, got {self.at_s!r}")
        if self.rate_per_s is not None and not (self.rate_per_s > 0):
            raise ValueError(f"burst rate must be > 0 messages/s, got {self.rate_per_s!r}")

    def times(self, rng: np.random.Generator) -> np.ndarray:
        if self.rate_per_s is None:
            return np.full(int(self.n), float(self.at_s))
        return self.at_s + np.arange(int(self.n)) / self.rate_per_s

    def __str__(self) -> str:
        rate = "" if self.rate_per_s is None else f"/{self.rate_per_s:g}"
        return f"burst:{self.n}@{self.at_s:g}{rate}"


@dataclass(frozen=True)
class Poisson(Arrivals):
    """A Poisson process of ``rate_per_s`` from ``start_s`` for ``duration_s`` (or ``count`` arrivals)."""

    rate_per_s: float
    duration_s: float | None = None
    count: int | None = None
    start_s: float = 0.0

    def __post_init__(self) -> None:
        if not (self.rate_per_s > 0) or not math.isfinite(self.rate_per_s):
            raise ValueError(f"poisson rate must be > 0 per second, got {self.rate_per_s!r}")
        if (self.duration_s is None) == (self.count is None):
            raise ValueError("poisson arrivals need exactly one of duration_s and count")
        if self.duration_s is not None and not (0 <= self.duration_s < math.inf):
            raise ValueError(f"poisson duration must be >= 0 s, got {self.duration_s!r}")
        if self.count is not None and self.count < 0:
            raise ValueError(f"poisson count must be >= 0, got {self.count!r}")

    def times(self, rng: np.random.Generator) -> np.ndarray:
        if self.count is not None:
            gaps = rng.exponential(1 / self.rate_per_s, int(self.count))
            return self.start_s + np.cumsum(gaps)
        assert self.duration_s is not None
        n = int(rng.poisson(self.rate_per_s * self.duration_s))
        return np.sort(self.start_s + rng.uniform(0.0, self.duration_s, n))

    def __str__(self) -> str:
        if self.count is not None:
            return f"poisson:{self.rate_per_s:g}:n={self.count}"
        return f"poisson:{self.rate_per_s:g}:{self.duration_s:g}"


@dataclass(frozen=True)
class Repeat(Arrivals):
    """``pattern`` repeated ``count`` times, one every ``period_s`` (collections every 8 h)."""

    pattern: Arrivals
    count: int = 3
    period_s: float = COLLECTION_PERIOD_S

    def __post_init__(self) -> None:
        if self.count < 1:
            raise ValueError(f"repeat count must be >= 1, got {self.count!r}")
        if not (self.period_s > 0):
            raise ValueError(f"repeat period must be > 0 s, got {self.period_s!r}")

    def times(self, rng: np.random.Generator) -> np.ndarray:
        parts = [self.pattern.times(rng) + i * self.period_s for i in range(self.count)]
        return np.sort(np.concatenate(parts))

    def __str__(self) -> str:
        return f"repeat:{self.period_s:g}:{self.count}:{self.pattern}"


_BURST = re.compile(r"^burst:(\d+)@([0-9.eE+-]+)(?:/([0-9.eE+-]+))?$")
_POISSON = re.compile(r"^poisson:([0-9.eE+-]+):([0-9.eE+-]+)$")
_REPEAT = re.compile(r"^repeat:([0-9.eE+-]+):(\d+):(.+)$")


def parse_arrivals(spec: str) -> Arrivals:
    """Read ``burst:N@T[/RATE]``, ``poisson:RATE:DURATION``, ``repeat:PERIOD:COUNT:SPEC``, or a file.

    Files: ``.csv`` with an ``enqueued_at`` column, a replay ``.json`` with ``#MODE`` (all runs,
    one every 8 h) or ``#MODE/INDEX`` (one run), or text with one time per line.
    """
    spec = spec.strip()
    try:
        if m := _BURST.match(spec):
            return Burst(
                int(m.group(1)), float(m.group(2)), float(m.group(3)) if m.group(3) else None
            )
        if m := _POISSON.match(spec):
            return Poisson(float(m.group(1)), duration_s=float(m.group(2)))
        if m := _REPEAT.match(spec):
            return Repeat(parse_arrivals(m.group(3)), int(m.group(2)), float(m.group(1)))
    except (TypeError, OverflowError) as exc:  # pragma: no cover - regexes keep these out
        raise ValueError(f"arrivals {spec!r}: {exc}") from None
    if spec.startswith(("burst:", "poisson:", "repeat:")):
        raise ValueError(
            f"arrivals {spec!r} not understood; use burst:N@T, poisson:RATE:DURATION, "
            "repeat:PERIOD:COUNT:SPEC or a file"
        )
    return load_arrivals(spec)


def load_arrivals(path: str | Path, mode: str | None = None) -> Times:
    """Enqueue times from a CSV (``enqueued_at`` column), a replay JSON (``file.json#mode``) or text."""
    text_path = str(path)
    run_index: int | None = None
    if mode is None and "#" in text_path:
        text_path, _, mode = text_path.partition("#")
    if mode is not None and "/" in mode:
        mode, _, index = mode.partition("/")
        try:
            run_index = int(index)
        except ValueError:
            raise ValueError(f"arrivals {path}: run index {index!r} is not a number") from None
    file = Path(text_path)
    if not file.is_file():
        raise ValueError(f"arrivals file not found: {file}")
    suffix = file.suffix.lower()
    if suffix == ".json":
        return _from_replay(file, mode, run_index)
    if suffix == ".csv":
        return _from_csv(file)
    values = []
    for number, line in enumerate(file.read_text().splitlines(), 1):
        if line.strip() and not line.lstrip().startswith("#"):
            try:
                values.append(float(line))
            except ValueError:
                raise ValueError(f"{file}:{number}: {line.strip()!r} is not a time") from None
    return Times(values)


def _from_csv(file: Path) -> Times:
    with file.open(newline="") as handle:
        reader = csv.DictReader(handle)
        if not reader.fieldnames or "enqueued_at" not in reader.fieldnames:
            raise ValueError(f"{file}: needs an 'enqueued_at' column")
        values = []
        for number, row in enumerate(reader, 2):
            raw = (row.get("enqueued_at") or "").strip()
            if not raw:
                continue
            try:
                values.append(float(raw))
            except ValueError:
                raise ValueError(f"{file}:{number}: enqueued_at {raw!r} is not a number") from None
    return Times(values)


def _from_replay(file: Path, mode: str | None, run_index: int | None) -> Times:
    try:
        data = json.loads(file.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{file}: not valid JSON ({exc.msg}, line {exc.lineno})") from None
    modes = data.get("modes") if isinstance(data, dict) else None
    if not isinstance(modes, dict) or not modes:
        raise ValueError(f"{file}: not a replay file (no 'modes')")
    if mode is None:
        if len(modes) != 1:
            raise ValueError(f"{file}: name a mode with '#', one of {', '.join(sorted(modes))}")
        mode = next(iter(modes))
    if mode not in modes:
        raise ValueError(f"{file}: no mode {mode!r}; has {', '.join(sorted(modes))}")
    runs = modes[mode].get("runs") if isinstance(modes[mode], dict) else None
    if not isinstance(runs, list) or not runs:
        raise ValueError(f"{file}: mode {mode!r} has no runs")
    if run_index is not None:
        if not 0 <= run_index < len(runs):
            raise ValueError(f"{file}: mode {mode!r} has no run {run_index}")
        chosen = [(0, runs[run_index])]
    else:
        chosen = list(enumerate(runs))
    values = []
    for i, run in chosen:
        for message in run.get("messages", []) if isinstance(run, dict) else []:
            t = message.get("enqueued_at") if isinstance(message, dict) else None
            if t is None:
                continue
            values.append(float(t) + i * COLLECTION_PERIOD_S)
    return Times(values)

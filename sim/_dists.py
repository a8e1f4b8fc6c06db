"""Distributions: small frozen objects with ``mean``, ``sample(rng)`` and a string form.

``str(d)`` gives the form that :func:`parse_distribution` reads back, e.g. ``lognormal(mean=6,sd=2)``.
"""

from __future__ import annotations

import math
import re
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

_BLOCK = 1024


class Distribution(ABC):
    """A non-negative duration distribution, in seconds."""

    @property
    @abstractmethod
    def mean(self) -> float: ...

    @abstractmethod
    def sample_many(self, rng: np.random.Generator, n: int) -> np.ndarray: ...

    def sample(self, rng: np.random.Generator) -> float:
        return float(self.sample_many(rng, 1)[0])

    def sampler(self, rng: np.random.Generator) -> Callable[[], float]:
        """A fast zero-argument draw function that samples ``rng`` in blocks."""
        buffer: list[float] = []

        def draw() -> float:
            if not buffer:
                buffer.extend(reversed(self.sample_many(rng, _BLOCK).tolist()))
            return buffer.pop()

        return draw


def _fmt(x: float) -> str:
    return repr(int(x)) if float(x).is_integer() else repr(float(x))


def _check(name: str, value: float, *, positive: bool = False) -> float:
    value = float(value)
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        need = "> 0" if positive else ">= 0"
        raise ValueError(f"{name} must be a finite number {need}, got {value!r}")
    return value


@dataclass(frozen=True)
class Constant(Distribution):
    value: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "value", _check("constant value", self.value))

    @property
    def mean(self) -> float:
        return self.value

    def sample_many(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return np.full(n, self.value)

    def sampler(self, rng: np.random.Generator) -> Callable[[], float]:
        value = self.value
        return lambda: value

    def __str__(self) -> str:
        return f"constant({_fmt(self.value)})"


@dataclass(frozen=True)
class Exponential(Distribution):
    """Exponential with the given mean (rate = 1 / mean)."""

    mean_s: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "mean_s", _check("exponential mean", self.mean_s, positive=True))

    @property
    def mean(self) -> float:
        return self.mean_s

    def sample_many(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.exponential(self.mean_s, n)

    def __str__(self) -> str:
        return f"exponential(mean={_fmt(self.mean_s)})"


@dataclass(frozen=True)
class Lognormal(Distribution):
    """Lognormal given by the mean and standard deviation of the values (not of their log)."""

    mean_s: float
    sd_s: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "mean_s", _check("lognormal mean", self.mean_s, positive=True))
        object.__setattr__(self, "sd_s", _check("lognormal sd", self.sd_s))

    @property
    def mean(self) -> float:
        return self.mean_s

    def sample_many(self, rng: np.random.Generator, n: int) -> np.ndarray:
        sigma2 = math.log1p((self.sd_s / self.mean_s) ** 2)
        mu = math.log(self.mean_s) - sigma2 / 2
        return rng.lognormal(mu, math.sqrt(sigma2), n)

    def __str__(self) -> str:
        return f"lognormal(mean={_fmt(self.mean_s)},sd={_fmt(self.sd_s)})"


@dataclass(frozen=True)
class Uniform(Distribution):
    low: float
    high: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "low", _check("uniform low", self.low))
        object.__setattr__(self, "high", _check("uniform high", self.high))
        if self.high < self.low:
            raise ValueError(f"uniform needs low <= high, got ({self.low}, {self.high})")

    @property
    def mean(self) -> float:
        return (self.low + self.high) / 2

    def sample_many(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.uniform(self.low, self.high, n)

    def __str__(self) -> str:
        return f"uniform({_fmt(self.low)},{_fmt(self.high)})"


_CALL = re.compile(r"^\s*([a-z]+)\s*\((.*)\)\s*$", re.I)
_PARAMS: dict[str, tuple[str, ...]] = {
    "constant": ("value",),
    "exponential": ("mean",),
    "lognormal": ("mean", "sd"),
    "uniform": ("a", "b"),
}


def parse_distribution(text: str | float | Distribution) -> Distribution:
    """Read ``constant(10)``, ``exponential(mean=10)`` (or ``rate=0.1``), ``lognormal(mean=6,sd=2)``,
    ``uniform(a,b)``; a bare number is a constant."""
    if isinstance(text, Distribution):
        return text
    if isinstance(text, int | float):
        return Constant(float(text))
    try:
        return Constant(float(text))
    except ValueError:
        pass
    match = _CALL.match(text)
    if not match or match.group(1).lower() not in _PARAMS:
        raise ValueError(
            f"unknown distribution {text!r}; use constant(X), exponential(mean=X), "
            "lognormal(mean=X,sd=Y) or uniform(A,B)"
        )
    name = match.group(1).lower()
    names = _PARAMS[name]
    values: dict[str, float] = {}
    parts = [p.strip() for p in match.group(2).split(",") if p.strip()]
    for i, part in enumerate(parts):
        key, sep, raw = part.partition("=")
        if not sep:
            key, raw = (names[i] if i < len(names) else "?"), part
        key = key.strip().lower()
        key = {"low": "a", "high": "b"}.get(key, key)
        if name == "exponential" and key == "rate":
            rate = _number(text, raw)
            if rate <= 0:
                raise ValueError(f"distribution {text!r}: rate must be > 0")
            key, raw = "mean", str(1 / rate)
        if key not in names or key in values:
            raise ValueError(f"distribution {text!r}: unexpected parameter {key!r}")
        values[key] = _number(text, raw)
    missing = [n for n in names if n not in values]
    if missing:
        raise ValueError(f"distribution {text!r}: missing {', '.join(missing)}")
    if name == "constant":
        return Constant(values["value"])
    if name == "exponential":
        return Exponential(values["mean"])
    if name == "lognormal":
        return Lognormal(values["mean"], values["sd"])
    return Uniform(values["a"], values["b"])


def _number(text: str, raw: str) -> float:
    try:
        return float(raw)
    except ValueError:
        raise ValueError(f"distribution {text!r}: {raw.strip()!r} is not a number") from None

"""Distributions: small frozen objects with ``mean``, ``sample(rng)`` and a string form.

:func:`parse_distribution` is the project's only reader of distribution strings (the simulation's
pods and the replay's processors take the same parsed object); ``str(d)`` gives the form it reads
back, e.g. ``lognormal(mean=6,sd=2)``.
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
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a number, got {value!r}")
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


_FORMS = "constant(X), exponential(mean=X), lognormal(mean=X,sd=Y) or uniform(A,B)"
_CALL = re.compile(r"^\s*([A-Za-z]+)\s*\((.*)\)\s*$", re.DOTALL)
_PARAMS: dict[str, tuple[str, ...]] = {
    "constant": ("value",),
    "exponential": ("mean",),
    "lognormal": ("mean", "sd"),
    "uniform": ("a", "b"),
}
# Parameters that must be > 0 (the others must be >= 0).
_POSITIVE = {("exponential", "mean"), ("lognormal", "mean")}


def parse_distribution(spec: str | float | Distribution) -> Distribution:
    """The one grammar of duration distributions: ``constant(6)`` (or a bare number),
    ``exponential(mean=6)``, ``lognormal(mean=6,sd=2)`` (mean and sd of the values, not of their
    log), ``uniform(2,10)``; parameters by position or by name. A :class:`Distribution` is
    returned as is. A bad spec raises a one-line ``ValueError`` naming the spec and the problem."""
    if isinstance(spec, Distribution):
        return spec
    if isinstance(spec, bool) or not isinstance(spec, str | int | float):
        raise ValueError(f"distribution {spec!r}: expected a string such as {_FORMS}")
    if isinstance(spec, int | float):
        return Constant(_param(str(spec), "value", spec))
    text = spec.strip()
    try:
        number = float(text)
    except ValueError:
        pass
    else:
        return Constant(_param(spec, "value", number))
    match = _CALL.match(text)
    if not match:
        raise ValueError(f"distribution {spec!r}: not a distribution; use {_FORMS}")
    name = match.group(1).lower()
    if name not in _PARAMS:
        raise ValueError(f"distribution {spec!r}: unknown distribution {name!r}; use {_FORMS}")
    names = _PARAMS[name]
    values: dict[str, float] = {}
    raw_args = match.group(2).strip()
    for position, part in enumerate(raw_args.split(",") if raw_args else []):
        part = part.strip()
        if not part:
            raise ValueError(f"distribution {spec!r}: empty parameter")
        key, sep, raw = part.partition("=")
        if sep:
            key = key.strip().lower()
        elif position < len(names):
            key, raw = names[position], part
        else:
            raise ValueError(
                f"distribution {spec!r}: {name} takes {len(names)} parameter(s) "
                f"({', '.join(names)})"
            )
        if key not in names:
            raise ValueError(
                f"distribution {spec!r}: unknown parameter {key!r} for {name} "
                f"(expected {', '.join(names)})"
            )
        if key in values:
            raise ValueError(f"distribution {spec!r}: parameter {key!r} given twice")
        try:
            number = float(raw)
        except ValueError:
            raise ValueError(
                f"distribution {spec!r}: {key} = {raw.strip()!r} is not a number"
            ) from None
        values[key] = _param(spec, key, number, positive=(name, key) in _POSITIVE)
    missing = [n for n in names if n not in values]
    if missing:
        raise ValueError(f"distribution {spec!r}: missing {', '.join(missing)}")
    if name == "constant":
        return Constant(values["value"])
    if name == "exponential":
        return Exponential(values["mean"])
    if name == "lognormal":
        return Lognormal(values["mean"], values["sd"])
    if values["b"] < values["a"]:
        raise ValueError(f"distribution {spec!r}: uniform needs a <= b")
    return Uniform(values["a"], values["b"])


def _param(spec: str, key: str, value: float, *, positive: bool = False) -> float:
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        need = "> 0" if positive else ">= 0"
        raise ValueError(f"distribution {spec!r}: {key} must be a finite number {need}")
    return float(value)

"""Service-time distributions for the processor's simulated work, in recording seconds.

``parse_distribution("lognormal(mean=6,sd=2)")`` gives a small frozen object with ``mean``,
``sample(rng)`` (a ``numpy.random.Generator``, so a run is reproducible per seed) and a ``str``
that reads back as the same spec. Forms: ``constant(x)`` (or a bare number),
``exponential(mean=m)``, ``lognormal(mean=m,sd=s)`` (the mean and standard deviation of the
values, not of their log) and ``uniform(a,b)``. Parameters may be given by position or by name.
"""

from __future__ import annotations

import math
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

__all__ = [
    "Constant",
    "Distribution",
    "Exponential",
    "Lognormal",
    "Uniform",
    "parse_distribution",
]

_FORMS = "constant(X), exponential(mean=X), lognormal(mean=X,sd=Y) or uniform(A,B)"


def _fmt(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _check(spec: str, name: str, value: float, *, positive: bool = False) -> float:
    value = float(value)
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        need = "> 0" if positive else ">= 0"
        raise ValueError(f"service time {spec!r}: {name} must be a finite number {need}")
    return value


class Distribution(ABC):
    """A non-negative duration distribution, in seconds."""

    @property
    @abstractmethod
    def mean(self) -> float: ...

    @abstractmethod
    def sample(self, rng: np.random.Generator) -> float: ...


@dataclass(frozen=True, slots=True)
class Constant(Distribution):
    value: float

    def __post_init__(self) -> None:
        _check(f"constant({self.value})", "value", self.value)

    @property
    def mean(self) -> float:
        return float(self.value)

    def sample(self, rng: np.random.Generator) -> float:
        return float(self.value)

    def __str__(self) -> str:
        return f"constant({_fmt(self.value)})"


@dataclass(frozen=True, slots=True)
class Exponential(Distribution):
    mean_s: float

    def __post_init__(self) -> None:
        _check(f"exponential(mean={self.mean_s})", "mean", self.mean_s, positive=True)

    @property
    def mean(self) -> float:
        return float(self.mean_s)

    def sample(self, rng: np.random.Generator) -> float:
        return float(rng.exponential(self.mean_s))

    def __str__(self) -> str:
        return f"exponential(mean={_fmt(self.mean_s)})"


@dataclass(frozen=True, slots=True)
class Lognormal(Distribution):
    """Lognormal with the given mean and standard deviation of the values themselves."""

    mean_s: float
    sd_s: float

    def __post_init__(self) -> None:
        spec = f"lognormal(mean={self.mean_s},sd={self.sd_s})"
        _check(spec, "mean", self.mean_s, positive=True)
        _check(spec, "sd", self.sd_s)

    @property
    def mean(self) -> float:
        return float(self.mean_s)

    def sample(self, rng: np.random.Generator) -> float:
        sigma2 = math.log1p((self.sd_s / self.mean_s) ** 2)
        mu = math.log(self.mean_s) - sigma2 / 2
        return float(rng.lognormal(mu, math.sqrt(sigma2)))

    def __str__(self) -> str:
        return f"lognormal(mean={_fmt(self.mean_s)},sd={_fmt(self.sd_s)})"


@dataclass(frozen=True, slots=True)
class Uniform(Distribution):
    low: float
    high: float

    def __post_init__(self) -> None:
        spec = f"uniform({self.low},{self.high})"
        _check(spec, "a", self.low)
        _check(spec, "b", self.high)
        if self.high < self.low:
            raise ValueError(f"service time {spec!r}: needs a <= b")

    @property
    def mean(self) -> float:
        return (self.low + self.high) / 2

    def sample(self, rng: np.random.Generator) -> float:
        return float(rng.uniform(self.low, self.high))

    def __str__(self) -> str:
        return f"uniform({_fmt(self.low)},{_fmt(self.high)})"


_CALL = re.compile(r"^\s*([A-Za-z]+)\s*\((.*)\)\s*$", re.DOTALL)
_PARAMS: dict[str, tuple[str, ...]] = {
    "constant": ("value",),
    "exponential": ("mean",),
    "lognormal": ("mean", "sd"),
    "uniform": ("a", "b"),
}


def parse_distribution(spec: str | float | Distribution) -> Distribution:
    """Read a spec such as ``constant(6)`` or ``lognormal(mean=6,sd=2)``; a bare number is a
    constant. A bad spec raises ``ValueError`` naming the spec and what is wrong with it."""
    if isinstance(spec, Distribution):
        return spec
    if isinstance(spec, bool) or not isinstance(spec, str | int | float):
        raise ValueError(f"service time {spec!r}: expected a string such as {_FORMS}")
    if isinstance(spec, int | float):
        return Constant(_check(str(spec), "value", spec))
    text = spec.strip()
    try:
        number = float(text)
    except ValueError:
        pass
    else:
        return Constant(_check(spec, "value", number))
    match = _CALL.match(text)
    if not match:
        raise ValueError(f"service time {spec!r}: not a distribution; use {_FORMS}")
    name = match.group(1).lower()
    if name not in _PARAMS:
        raise ValueError(f"service time {spec!r}: unknown distribution {name!r}; use {_FORMS}")
    names = _PARAMS[name]
    values: dict[str, float] = {}
    raw_args = match.group(2).strip()
    parts = [p.strip() for p in raw_args.split(",")] if raw_args else []
    for position, part in enumerate(parts):
        if not part:
            raise ValueError(f"service time {spec!r}: empty parameter")
        key, sep, raw = part.partition("=")
        if sep:
            key = key.strip().lower()
        elif position < len(names):
            key, raw = names[position], part
        else:
            raise ValueError(
                f"service time {spec!r}: {name} takes {len(names)} parameter(s) "
                f"({', '.join(names)})"
            )
        if key not in names:
            raise ValueError(
                f"service time {spec!r}: unknown parameter {key!r} for {name} "
                f"(expected {', '.join(names)})"
            )
        if key in values:
            raise ValueError(f"service time {spec!r}: parameter {key!r} given twice")
        try:
            values[key] = float(raw)
        except ValueError:
            raise ValueError(
                f"service time {spec!r}: {key} = {raw.strip()!r} is not a number"
            ) from None
    missing = [n for n in names if n not in values]
    if missing:
        raise ValueError(f"service time {spec!r}: missing {', '.join(missing)}")
    for key, value in values.items():
        _check(spec, key, value, positive=name in ("exponential", "lognormal") and key == "mean")
    if name == "constant":
        return Constant(values["value"])
    if name == "exponential":
        return Exponential(values["mean"])
    if name == "lognormal":
        return Lognormal(values["mean"], values["sd"])
    if values["b"] < values["a"]:
        raise ValueError(f"service time {spec!r}: uniform needs a <= b")
    return Uniform(values["a"], values["b"])

"""Service-time specs: parsing, string round trip, seeded sampling means, and errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.service_time import (
    Constant,
    Exponential,
    Lognormal,
    Uniform,
    parse_distribution,
)


@pytest.mark.parametrize(
    ("spec", "expected", "text"),
    [
        ("constant(6)", Constant(6), "constant(6)"),
        ("6", Constant(6), "constant(6)"),
        (" constant( 0.5 ) ", Constant(0.5), "constant(0.5)"),
        ("constant(value=0)", Constant(0), "constant(0)"),
        ("exponential(mean=6)", Exponential(6), "exponential(mean=6)"),
        ("exponential(6)", Exponential(6), "exponential(mean=6)"),
        ("lognormal(mean=6,sd=2)", Lognormal(6, 2), "lognormal(mean=6,sd=2)"),
        ("LogNormal(sd=2, mean=6)", Lognormal(6, 2), "lognormal(mean=6,sd=2)"),
        ("uniform(2,10)", Uniform(2, 10), "uniform(2,10)"),
        ("uniform(a=2, b=2)", Uniform(2, 2), "uniform(2,2)"),
    ],
)
def test_parse_and_string_form(spec: str, expected: object, text: str):
    dist = parse_distribution(spec)
    assert dist == expected
    assert str(dist) == text
    assert parse_distribution(str(dist)) == dist
    assert parse_distribution(dist) is dist


def test_numbers_are_constants():
    assert parse_distribution(3) == Constant(3)
    assert parse_distribution(2.5).mean == 2.5


@pytest.mark.parametrize(
    ("spec", "mean", "sd"),
    [
        ("constant(6)", 6.0, 0.0),
        ("exponential(mean=6)", 6.0, 6.0),
        ("lognormal(mean=6,sd=2)", 6.0, 2.0),
        ("uniform(2,10)", 6.0, 8 / 12**0.5),
    ],
)
def test_seeded_samples_have_the_stated_mean_and_sd(spec: str, mean: float, sd: float):
    dist = parse_distribution(spec)
    assert dist.mean == pytest.approx(mean)
    rng = np.random.default_rng(42)
    samples = np.array([dist.sample(rng) for _ in range(20_000)])
    assert samples.min() >= 0
    assert samples.mean() == pytest.approx(mean, rel=0.03)
    assert samples.std() == pytest.approx(sd, rel=0.05, abs=1e-9)
    # The same seed gives the same draws.
    assert dist.sample(np.random.default_rng(7)) == dist.sample(np.random.default_rng(7))


@pytest.mark.parametrize(
    ("spec", "what"),
    [
        ("gamma(2,3)", "unknown distribution 'gamma'"),
        ("constant", "not a distribution"),
        ("", "not a distribution"),
        ("constant(-1)", "value must be a finite number >= 0"),
        ("constant(nan)", "value must be a finite number >= 0"),
        ("constant(x)", "value = 'x' is not a number"),
        ("exponential(mean=0)", "mean must be a finite number > 0"),
        ("exponential(rate=2)", "unknown parameter 'rate'"),
        ("lognormal(mean=6)", "missing sd"),
        ("lognormal(mean=6,sd=-2)", "sd must be a finite number >= 0"),
        ("lognormal(mean=6,mean=7,sd=1)", "parameter 'mean' given twice"),
        ("uniform(10,2)", "needs a <= b"),
        ("uniform(1,2,3)", "takes 2 parameter(s)"),
        ("uniform(1,,2)", "empty parameter"),
        ("constant()", "missing value"),
    ],
)
def test_bad_specs_name_the_spec_and_the_problem(spec: str, what: str):
    with pytest.raises(ValueError) as info:
        parse_distribution(spec)
    message = str(info.value)
    assert repr(spec) in message
    assert what in message


def test_non_string_specs_are_refused():
    with pytest.raises(ValueError, match="expected a string"):
        parse_distribution(None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="expected a string"):
        parse_distribution(True)


_positive = st.floats(min_value=1e-3, max_value=1e6, allow_nan=False)


@given(
    st.one_of(
        st.builds(Constant, st.floats(min_value=0, max_value=1e6)),
        st.builds(Exponential, _positive),
        st.builds(Lognormal, _positive, st.floats(min_value=0, max_value=1e6)),
        st.builds(lambda a, w: Uniform(a, a + w), _positive, _positive),
    ),
    st.integers(min_value=0, max_value=2**32),
)
def test_string_form_round_trips_and_samples_are_non_negative(dist, seed):
    assert parse_distribution(str(dist)) == dist
    assert dist.sample(np.random.default_rng(seed)) >= 0

"""The one distribution grammar (``sim.parse_distribution``): forms, string round trip, seeded
sampling, and a one-line error naming the spec for every bad form."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim import Constant, Exponential, Lognormal, Uniform, parse_distribution


@pytest.mark.parametrize(
    ("spec", "expected", "text"),
    [
        ("constant(6)", Constant(6), "constant(6)"),
        ("6", Constant(6), "constant(6)"),
        ("10", Constant(10), "constant(10)"),
        (" constant( 0.5 ) ", Constant(0.5), "constant(0.5)"),
        ("constant(value=0)", Constant(0), "constant(0)"),
        ("exponential(mean=6)", Exponential(6), "exponential(mean=6)"),
        ("exponential(6)", Exponential(6), "exponential(mean=6)"),
        ("lognormal(mean=6,sd=2)", Lognormal(6, 2), "lognormal(mean=6,sd=2)"),
        ("LogNormal(sd=2, mean=6)", Lognormal(6, 2), "lognormal(mean=6,sd=2)"),
        ("uniform(2,10)", Uniform(2, 10), "uniform(2,10)"),
        ("uniform(1, 3)", Uniform(1, 3), "uniform(1,3)"),
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
    draws = dist.sample_many(np.random.default_rng(42), 100_000)
    assert draws.min() >= 0
    assert draws.mean() == pytest.approx(mean, rel=0.02)
    assert draws.std() == pytest.approx(sd, rel=0.05, abs=1e-9)
    # The same seed gives the same draws, one at a time or from the block sampler.
    assert dist.sample(np.random.default_rng(7)) == dist.sample(np.random.default_rng(7))
    draw = dist.sampler(np.random.default_rng(7))
    assert [draw() for _ in range(3)] == list(dist.sample_many(np.random.default_rng(7), 3))


@pytest.mark.parametrize(
    ("spec", "what"),
    [
        ("gamma(2,3)", "unknown distribution 'gamma'"),
        ("normal(1)", "unknown distribution 'normal'"),
        ("constant", "not a distribution"),
        ("", "not a distribution"),
        ("   ", "not a distribution"),
        ("constant(-1)", "value must be a finite number >= 0"),
        ("-1", "value must be a finite number >= 0"),
        ("constant(nan)", "value must be a finite number >= 0"),
        ("constant(inf)", "value must be a finite number >= 0"),
        ("constant(x)", "value = 'x' is not a number"),
        ("constant(true)", "value = 'true' is not a number"),
        ("exponential(mean=0)", "mean must be a finite number > 0"),
        ("exponential(rate=2)", "unknown parameter 'rate'"),
        ("exponential(rate=0)", "unknown parameter 'rate'"),
        ("lognormal(mean=6)", "missing sd"),
        ("lognormal(mean=0,sd=1)", "mean must be a finite number > 0"),
        ("lognormal(mean=6,sd=-2)", "sd must be a finite number >= 0"),
        ("lognormal(mean=6,mean=7,sd=1)", "parameter 'mean' given twice"),
        ("lognormal(6,mean=6)", "parameter 'mean' given twice"),
        ("uniform(10,2)", "needs a <= b"),
        ("uniform(3,1)", "needs a <= b"),
        ("uniform(-1,2)", "a must be a finite number >= 0"),
        ("uniform(low=1,high=2)", "unknown parameter 'low'"),
        ("uniform(1,2,3)", "takes 2 parameter(s)"),
        ("uniform(1,,2)", "empty parameter"),
        ("uniform(1,2,)", "empty parameter"),
        ("constant()", "missing value"),
    ],
)
def test_bad_specs_name_the_spec_and_the_problem(spec: str, what: str):
    with pytest.raises(ValueError) as info:
        parse_distribution(spec)
    message = str(info.value)
    assert repr(spec) in message
    assert what in message
    assert "\n" not in message


@pytest.mark.parametrize("spec", [None, True, False, [1], {"mean": 6}])
def test_non_string_specs_are_refused(spec: object):
    with pytest.raises(ValueError, match="expected a string"):
        parse_distribution(spec)  # type: ignore[arg-type]


def test_constructors_check_their_parameters():
    for make in (
        lambda: Constant(-1),
        lambda: Constant(True),  # a boolean is not a duration
        lambda: Exponential(0),
        lambda: Lognormal(6, -1),
        lambda: Uniform(3, 1),
    ):
        with pytest.raises(ValueError):
            make()
    assert "mean_s=6" in repr(Lognormal(6, 2))


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

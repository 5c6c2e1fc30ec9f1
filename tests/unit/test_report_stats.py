"""Statistics of the A/B report against textbook values and by simulation (coverage)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.analytics.stats import (
    proportion,
    two_proportion_ztest,
    wilson_interval,
    z_quantile,
)


def test_z_test_matches_the_textbook_value() -> None:
    # 200/1000 vs 250/1000: pooled p = 0.225, se = sqrt(.225*.775*2/1000) = 0.018675.
    t = two_proportion_ztest(200, 1000, 250, 1000)
    assert t.z == pytest.approx(0.05 / math.sqrt(0.225 * 0.775 * 0.002), rel=1e-12)
    assert t.z == pytest.approx(2.6774, abs=1e-4)
    assert t.p_value == pytest.approx(0.007419, abs=1e-5)
    assert t.relative_uplift == pytest.approx(0.25)
    half = 1.959964 * math.sqrt(0.2 * 0.8 / 1000 + 0.25 * 0.75 / 1000)
    assert t.difference_ci.low == pytest.approx(0.05 - half, abs=1e-6)
    assert t.significant() and not two_proportion_ztest(50, 100, 52, 100).significant()


def test_z_test_is_antisymmetric_and_degenerate_cases_are_defined() -> None:
    a, b = two_proportion_ztest(30, 400, 45, 380), two_proportion_ztest(45, 380, 30, 400)
    assert a.z == pytest.approx(-b.z) and a.p_value == pytest.approx(b.p_value)
    same = two_proportion_ztest(0, 100, 0, 100)
    assert same.z == 0 and same.p_value == 1 and same.relative_uplift is None
    assert two_proportion_ztest(0, 0, 0, 0).p_value == 1


def test_wilson_matches_known_values() -> None:
    w = wilson_interval(10, 100)
    assert w.low == pytest.approx(0.0552, abs=1e-4)
    assert w.high == pytest.approx(0.1744, abs=1e-4)
    assert wilson_interval(0, 20).low == 0 and wilson_interval(20, 20).high == 1
    assert z_quantile(0.99) == pytest.approx(2.5758, abs=1e-4)


@given(st.integers(0, 10_000), st.integers(0, 10_000), st.sampled_from([0.8, 0.9, 0.95, 0.99]))
def test_wilson_interval_contains_the_estimate(a: int, b: int, confidence: float) -> None:
    successes, trials = min(a, b), max(a, b)
    w = wilson_interval(successes, trials, confidence)
    assert 0 <= w.low <= proportion(successes, trials) <= w.high <= 1


def test_bad_counts_are_refused() -> None:
    with pytest.raises(ValueError, match="successes"):
        wilson_interval(5, 3)
    with pytest.raises(ValueError, match="confidence"):
        z_quantile(1.0)


def test_interval_coverage_is_close_to_nominal() -> None:
    rng = np.random.default_rng(7)
    trials, p_c, p_t, runs = 400, 0.08, 0.11, 4000
    xc, xt = rng.binomial(trials, p_c, runs), rng.binomial(trials, p_t, runs)
    wilson = sum(p_c in wilson_interval(int(x), trials) for x in xc) / runs
    diff = (
        sum(
            (p_t - p_c) in two_proportion_ztest(int(c), trials, int(t), trials).difference_ci
            for c, t in zip(xc, xt, strict=True)
        )
        / runs
    )
    assert 0.93 <= wilson <= 0.97
    assert 0.93 <= diff <= 0.97


def test_false_positive_rate_under_the_null_is_alpha() -> None:
    rng = np.random.default_rng(11)
    runs = 4000
    xc, xt = rng.binomial(500, 0.1, runs), rng.binomial(500, 0.1, runs)
    rejected = (
        sum(
            two_proportion_ztest(int(c), 500, int(t), 500).p_value < 0.05
            for c, t in zip(xc, xt, strict=True)
        )
        / runs
    )
    assert 0.035 <= rejected <= 0.065

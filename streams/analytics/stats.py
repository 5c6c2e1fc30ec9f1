"""Statistics for A/B results: proportions, their intervals and the two-proportion z-test.

Pure Python (``statistics.NormalDist`` for the normal distribution), so the report needs no
SciPy. The z statistic uses the pooled proportion (the null hypothesis: both variants share one
rate); the confidence interval of the difference uses the unpooled (Wald) standard error, and
each single rate gets a Wilson score interval, which stays inside [0, 1] and behaves for small
counts where the Wald interval does not.

>>> t = two_proportion_ztest(200, 1000, 250, 1000)
>>> round(t.z, 3), round(t.p_value, 4)
(2.677, 0.0074)
>>> w = wilson_interval(10, 100)
>>> round(w.low, 4), round(w.high, 4)
(0.0552, 0.1744)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

_NORMAL = NormalDist()


@dataclass(frozen=True, slots=True)
class Interval:
    """A confidence interval ``[low, high]``."""

    low: float
    high: float

    def __contains__(self, value: float) -> bool:
        return self.low <= value <= self.high


@dataclass(frozen=True, slots=True)
class ProportionTest:
    """Treatment versus control for one rate (e.g. CTR or conversion rate).

    ``difference`` = treatment − control (absolute); ``relative_uplift`` = difference /
    control (``None`` when the control rate is 0); ``difference_ci`` is the interval of the
    difference at ``confidence``; ``p_value`` is two-sided.
    """

    control: float
    treatment: float
    difference: float
    relative_uplift: float | None
    z: float
    p_value: float
    difference_ci: Interval
    confidence: float

    def significant(self, alpha: float | None = None) -> bool:
        """True if the p-value is below ``alpha`` (default: 1 − confidence)."""
        return self.p_value < (1 - self.confidence if alpha is None else alpha)


def z_quantile(confidence: float) -> float:
    """The two-sided critical value: 1.96 for 95 %.

    >>> round(z_quantile(0.95), 3)
    1.96
    """
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    return _NORMAL.inv_cdf(0.5 + confidence / 2)


def proportion(successes: int, trials: int) -> float:
    """``successes / trials``, 0 for no trials."""
    _check(successes, trials)
    return successes / trials if trials else 0.0


def wilson_interval(successes: int, trials: int, confidence: float = 0.95) -> Interval:
    """Wilson score interval of a binomial proportion ([0, 1] when there are no trials)."""
    _check(successes, trials)
    if trials == 0:
        return Interval(0.0, 1.0)
    z = z_quantile(confidence)
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    # At 0 or n successes the bound is exactly 0 or 1; say so instead of rounding near it.
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == trials else min(1.0, centre + half)
    return Interval(min(low, p), max(high, p))


def two_proportion_ztest(
    control_successes: int,
    control_trials: int,
    treatment_successes: int,
    treatment_trials: int,
    confidence: float = 0.95,
) -> ProportionTest:
    """Two-sided two-proportion z-test of treatment against control."""
    _check(control_successes, control_trials)
    _check(treatment_successes, treatment_trials)
    p_c = proportion(control_successes, control_trials)
    p_t = proportion(treatment_successes, treatment_trials)
    difference = p_t - p_c
    z = 0.0
    if control_trials and treatment_trials:
        pooled = (control_successes + treatment_successes) / (control_trials + treatment_trials)
        se_pooled = math.sqrt(pooled * (1 - pooled) * (1 / control_trials + 1 / treatment_trials))
        z = difference / se_pooled if se_pooled > 0 else 0.0
    p_value = math.erfc(abs(z) / math.sqrt(2))
    se = math.sqrt(
        (p_c * (1 - p_c) / control_trials if control_trials else 0.0)
        + (p_t * (1 - p_t) / treatment_trials if treatment_trials else 0.0)
    )
    half = z_quantile(confidence) * se
    return ProportionTest(
        control=p_c,
        treatment=p_t,
        difference=difference,
        relative_uplift=difference / p_c if p_c > 0 else None,
        z=z,
        p_value=p_value,
        difference_ci=Interval(difference - half, difference + half),
        confidence=confidence,
    )


def _check(successes: int, trials: int) -> None:
    if trials < 0 or successes < 0 or successes > trials:
        raise ValueError(f"need 0 <= successes <= trials, got {successes} of {trials}")

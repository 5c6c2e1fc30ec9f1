"""Calibration of served click probabilities: fits what followed, never reorders, forgets."""

from __future__ import annotations

import math
import pickle
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from online_models.served_calibration import ServedCalibration


def _sigmoid(t: float) -> float:
    return 1.0 / (1.0 + math.exp(-t))


def _logit(p: float) -> float:
    return math.log(p / (1.0 - p))


def _feed(calibration: ServedCalibration, n: int, truth: object, seed: int = 0) -> None:
    """``n`` labels of served values uniform in [0.02, 0.8], clicked with ``truth(p)``."""
    rng = random.Random(seed)
    for _ in range(n):
        p = rng.uniform(0.02, 0.8)
        calibration.learn(p, rng.random() < truth(p))  # type: ignore[operator]


def test_the_click_rate_so_far_until_it_has_labels() -> None:
    """Before labels settle, whatever a model serves, the promise is clicks per item shown
    (with a prior of one in ten): 0.99 from a click model that has seen only clicks is not."""
    calibration = ServedCalibration()
    assert calibration.calibrate(0.99) == calibration.calibrate(0.0) == 0.1
    calibration.shown(990)
    for _ in range(49):
        calibration.clicked()
    assert calibration.calibrate(0.99) == calibration.calibrate(0.37) == 50 / 1000
    for _ in range(99):  # labels settle: the fit is not served yet
        calibration.learn(0.99, False)
    assert calibration.calibrate(0.99) == 50 / 1000
    calibration.learn(0.99, False)  # the hundredth: the fit takes over
    assert calibration.calibrate(0.99) < 0.04


def test_a_model_that_serves_zero_is_calibrated_to_the_click_rate() -> None:
    calibration = ServedCalibration()
    rng = random.Random(3)
    for _ in range(3_000):
        calibration.learn(0.0, rng.random() < 0.08)
    assert calibration.calibrate(0.0) == pytest.approx(0.08, abs=0.015)


def test_an_overconfident_model_is_flattened_and_lowered() -> None:
    """As measured in the closed loop: the click rate moves with the served value but far
    less than promised (slope 0.2 on the logit scale) and is lower."""
    calibration = ServedCalibration()
    _feed(calibration, 30_000, lambda p: _sigmoid(0.2 * _logit(p) - 1.1))
    assert calibration.a == pytest.approx(0.2, abs=0.08)
    assert calibration.b == pytest.approx(-1.1, abs=0.2)
    for p in (0.05, 0.3, 0.7):
        assert calibration.calibrate(p) == pytest.approx(_sigmoid(0.2 * _logit(p) - 1.1), abs=0.03)


def test_it_follows_a_model_whose_meaning_changes() -> None:
    calibration = ServedCalibration(memory=2_000)
    _feed(calibration, 10_000, lambda p: p)
    assert calibration.calibrate(0.5) == pytest.approx(0.5, abs=0.05)
    _feed(calibration, 10_000, lambda p: p / 4, seed=1)  # the same values now mean a quarter
    assert calibration.calibrate(0.5) == pytest.approx(0.125, abs=0.04)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.floats(0.0, 1.0), st.booleans()), min_size=0, max_size=400),
    st.floats(0.0, 1.0),
    st.floats(0.0, 1.0),
)
def test_never_reorders_and_stays_a_probability(
    labels: list[tuple[float, bool]], p: float, q: float
) -> None:
    calibration = ServedCalibration(refit_every=16)
    for value, clicked in labels:
        calibration.learn(value, clicked)
    low, high = sorted((p, q))
    assert 0.0 <= calibration.calibrate(low) <= calibration.calibrate(high) <= 1.0
    assert math.isfinite(calibration.a) and math.isfinite(calibration.b)


def test_pickle_round_trip_and_invalid_parameters() -> None:
    calibration = ServedCalibration()
    _feed(calibration, 500, lambda p: p / 2)
    copy = pickle.loads(pickle.dumps(calibration))
    assert [copy.calibrate(p) for p in (0.1, 0.5)] == [calibration.calibrate(p) for p in (0.1, 0.5)]
    with pytest.raises(ValueError, match="memory"):
        ServedCalibration(memory=0.5)
    with pytest.raises(ValueError, match="refit_every"):
        ServedCalibration(refit_every=0)
    with pytest.raises(ValueError, match="prior"):
        ServedCalibration(prior=0.0)

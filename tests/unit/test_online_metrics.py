"""The stream's prequential metrics of what it served: CTR log loss, ROC AUC, calibration."""

from __future__ import annotations

import math

import pytest

from streams.online_metrics import OnlineMetrics


def _rows(metrics: OnlineMetrics, window: bool = False) -> dict[tuple[str, str], float]:
    rows = metrics.take_window() if window else metrics.as_rows()
    return {(variant, metric): value for variant, metric, value, _ in rows}


def test_auc_says_whether_clicks_got_the_higher_p_click() -> None:
    metrics = OnlineMetrics()
    for p, clicked in [(0.30, True), (0.20, True), (0.10, False), (0.05, False), (0.02, False)]:
        metrics.label("full", p, clicked)  # every click ranked above every miss
    for p, clicked in [(0.02, True), (0.30, False), (0.20, False)]:
        metrics.label("popularity", p, clicked)  # the click ranked below both misses
    rows = _rows(metrics)
    assert rows[("full", "ctr_auc")] == 1.0
    assert rows[("popularity", "ctr_auc")] == 0.0
    assert rows[("full", "ctr")] == pytest.approx(0.4)
    assert rows[("full", "mean_p_click")] == pytest.approx(0.134)
    losses = [math.log(0.3), math.log(0.2), math.log(0.9), math.log(0.95), math.log(0.98)]
    assert rows[("full", "ctr_logloss")] == pytest.approx(-sum(losses) / 5)


def test_auc_is_one_half_without_both_outcomes_and_restarts_with_each_window() -> None:
    metrics = OnlineMetrics()
    metrics.label("full", 0.9, True)
    metrics.label("full", 0.1, False)
    assert _rows(metrics, window=True)[("full", "ctr_auc")] == 1.0
    metrics.label("full", 0.1, True)  # the new window has only a click
    assert _rows(metrics, window=True)[("full", "ctr_auc")] == 0.5
    # The running totals keep all three labels: one click below the miss's tie.
    assert _rows(metrics)[("full", "ctr_auc")] == pytest.approx(0.75)

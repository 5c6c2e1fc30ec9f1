"""Prequential quality of what the stream actually served, per A/B variant.

- hit rate @k: when a user clicks, buys or orders an item, was it in the last list served to
  them (computed *before* the event was learnt)? The online twin of replay's Recall@k.
- CTR log loss, ROC AUC and calibration: each labelled impression's served ``p_click``
  against whether it was clicked. Log loss and calibration (mean ``p_click`` vs click rate)
  say whether the probabilities are right; AUC, whether the clicked items got the higher
  ones (0.5: no better than chance), which log loss alone hides when clicks are rare.

Counters only (AUC from a fixed-bin histogram of ``p_click`` per outcome:
:class:`~online_models.metrics.RocAuc`), so totals add up across workers and over time.
Besides the running totals (for Prometheus) a window accumulates since the last
:meth:`OnlineMetrics.take_window`, which the worker calls once a minute to write per-minute
rows to ClickHouse.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

from online_models.metrics import RocAuc


@dataclass
class VariantMetrics:
    opportunities: int = 0
    hits: int = 0
    labels: int = 0
    clicks: int = 0
    logloss_sum: float = 0.0
    p_click_sum: float = 0.0
    auc: RocAuc = field(default_factory=RocAuc)

    @property
    def hit_rate(self) -> float:
        return self.hits / self.opportunities if self.opportunities else 0.0

    @property
    def logloss(self) -> float:
        return self.logloss_sum / self.labels if self.labels else 0.0

    @property
    def ctr(self) -> float:
        return self.clicks / self.labels if self.labels else 0.0

    @property
    def mean_p_click(self) -> float:
        return self.p_click_sum / self.labels if self.labels else 0.0


class OnlineMetrics:
    def __init__(self) -> None:
        self.by_variant: dict[str, VariantMetrics] = defaultdict(VariantMetrics)
        self.window: dict[str, VariantMetrics] = defaultdict(VariantMetrics)

    def engagement(self, variant: str, hit: bool) -> None:
        for m in (self.by_variant[variant], self.window[variant]):
            m.opportunities += 1
            m.hits += hit

    def label(self, variant: str, p_click: float, clicked: bool) -> None:
        p = min(max(p_click, 1e-6), 1 - 1e-6)
        loss = -math.log(p if clicked else 1 - p)
        for m in (self.by_variant[variant], self.window[variant]):
            m.labels += 1
            m.clicks += clicked
            m.p_click_sum += p
            m.logloss_sum += loss
            m.auc.update(clicked, p)

    def as_rows(self) -> list[tuple[str, str, float, int]]:
        """(variant, metric, value, count) of the running totals."""
        return _rows(self.by_variant)

    def take_window(self) -> list[tuple[str, str, float, int]]:
        """(variant, metric, value, count) since the last call; starts a new window."""
        rows = _rows(self.window)
        self.window = defaultdict(VariantMetrics)
        return rows


def _rows(metrics: dict[str, VariantMetrics]) -> list[tuple[str, str, float, int]]:
    rows = []
    for variant, m in sorted(metrics.items()):
        rows += [
            (variant, "hit_rate", m.hit_rate, m.opportunities),
            (variant, "ctr", m.ctr, m.labels),
            (variant, "ctr_logloss", m.logloss, m.labels),
            (variant, "ctr_auc", m.auc.get(), m.labels),
            (variant, "mean_p_click", m.mean_p_click, m.labels),
        ]
    return rows

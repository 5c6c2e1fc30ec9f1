"""Prequential (predict-then-learn) metrics: errors, ranking quality, click calibration.

Every metric has ``update(...)`` and ``get() -> float``; windowed variants keep only the last
``window`` observations (a ring), so dashboards see current quality, not the all-time mean.

>>> m = MAE(); m.update(3.0, 4.0); m.update(5.0, 5.0); m.get()
0.5
>>> r = RecallAtK(k=2); r.update("b", ["a", "b", "c"]); r.update("z", ["a", "b"]); r.get()
0.5
>>> round(NDCGAtK(k=3).update_get("b", ["a", "b"]), 4)
0.6309
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence


class _Mean:
    def __init__(self, window: int | None = None) -> None:
        self.window = window
        self._sum = 0.0
        self._n = 0
        self._ring: deque[float] = deque()

    def _add(self, x: float) -> None:
        self._sum += x
        self._n += 1
        if self.window is not None:
            self._ring.append(x)
            if len(self._ring) > self.window:
                self._sum -= self._ring.popleft()
                self._n -= 1

    @property
    def n(self) -> int:
        return self._n

    def get(self) -> float:
        return self._sum / self._n if self._n else 0.0


class MAE(_Mean):
    """Mean absolute error."""

    def update(self, y_true: float, y_pred: float) -> None:
        self._add(abs(y_true - y_pred))


class RMSE(_Mean):
    """Root mean squared error."""

    def update(self, y_true: float, y_pred: float) -> None:
        self._add((y_true - y_pred) ** 2)

    def get(self) -> float:
        return math.sqrt(super().get())


class RecallAtK(_Mean):
    """Share of events whose item is in the top ``k`` recommended before the event
    (with one relevant item per event this is also HitRate@k)."""

    def __init__(self, k: int = 10, window: int | None = None) -> None:
        super().__init__(window)
        self.k = k

    def update(self, relevant: str, ranked: Sequence[str]) -> None:
        self._add(1.0 if relevant in ranked[: self.k] else 0.0)


class NDCGAtK(_Mean):
    """NDCG@k with one relevant item: ``1 / log2(rank + 2)`` if ranked (0-based), else 0."""

    def __init__(self, k: int = 10, window: int | None = None) -> None:
        super().__init__(window)
        self.k = k

    def update(self, relevant: str, ranked: Sequence[str]) -> None:
        top = list(ranked[: self.k])
        self._add(1.0 / math.log2(top.index(relevant) + 2) if relevant in top else 0.0)

    def update_get(self, relevant: str, ranked: Sequence[str]) -> float:
        self.update(relevant, ranked)
        return self.get()


class LogLoss(_Mean):
    """Binary cross-entropy of predicted click probabilities (clipped to [1e-15, 1-1e-15])."""

    def update(self, clicked: bool, p: float) -> None:
        q = min(max(p, 1e-15), 1.0 - 1e-15)
        self._add(-math.log(q if clicked else 1.0 - q))


class RocAuc:
    """Streaming ROC AUC from a fixed-bin histogram of scores (``n_bins`` over [0, 1]).

    Exact up to ties within a bin; constant memory. 0.5 when a class is missing.

    >>> auc = RocAuc()
    >>> for y, p in [(True, 0.9), (False, 0.1), (True, 0.7), (False, 0.3)]:
    ...     auc.update(y, p)
    >>> auc.get()
    1.0
    """

    def __init__(self, n_bins: int = 1000) -> None:
        self.n_bins = n_bins
        self._pos = [0] * n_bins
        self._neg = [0] * n_bins

    def update(self, clicked: bool, p: float) -> None:
        b = min(self.n_bins - 1, max(0, int(p * self.n_bins)))
        if clicked:
            self._pos[b] += 1
        else:
            self._neg[b] += 1

    def get(self) -> float:
        n_pos, n_neg = sum(self._pos), sum(self._neg)
        if n_pos == 0 or n_neg == 0:
            return 0.5
        area = 0.0
        neg_below = 0
        for pos, neg in zip(self._pos, self._neg, strict=True):
            area += pos * (neg_below + 0.5 * neg)
            neg_below += neg
        return area / (n_pos * n_neg)

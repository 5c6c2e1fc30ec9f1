"""Blend weights learnt online from the stream's own next events (listwise softmax).

Why: the recommender's candidate features (MF, item-kNN, popularity, content, …) have to be
combined into one ranking, and the right mix depends on the traffic. Fixed weights tuned on one
stream lose on another: on the simulator's streams, where 60 % of every list the platform shows
comes from a small set of popular items, what a user engages with next is "popular *and* to
their taste", and popularity at a fixed small weight ranked below plain popularity.

How: each engagement is a labelled choice among the candidates the recommender would have
offered just before it (predict, then learn: the features come from the state *before* the
event is learnt). With scores ``s_j = w · x_j`` over the candidate set, the model is the
softmax ``P(j) = exp(s_j) / Σ exp(s)``, and one AdaGrad step on its cross-entropy moves
``w`` along ``x_pos - Σ_j P(j) x_j`` — the positive's features minus the expected features
under the current ranking (the gradient of a multinomial logit, i.e. a conditional-logit
choice model). Events whose item is not among the candidates teach nothing about ranking
and are skipped. The weights start at the hand-set blend, so a new model ranks as before.

State is a handful of floats per feature name: bounded, pickleable, deterministic (no
sampling: the softmax runs over the whole candidate set).

>>> import numpy as np
>>> blend = OnlineBlend({"a": 0.0, "b": 0.0}, learning_rate=0.5)
>>> feats = {"a": np.array([1.0, 0.0, 0.0]), "b": np.array([0.0, 1.0, 0.0])}
>>> for _ in range(20):
...     blend.learn(feats, positive=0)
>>> blend.weights["a"] > 0 > blend.weights["b"]
True
>>> int(np.argmax(blend.score(feats)))
0
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


class OnlineBlend:
    """Linear scores over named candidate features, trained as a softmax choice model.

    Parameters
    ----------
    initial
        Feature name → starting weight; only these features are scored and learnt.
    learning_rate
        AdaGrad step size.
    l2
        L2 pull of every weight towards its starting value (keeps rare features sane).
    max_abs_weight
        Weights are clipped to ``[-max_abs_weight, max_abs_weight]``.
    """

    def __init__(
        self,
        initial: Mapping[str, float],
        learning_rate: float = 0.05,
        l2: float = 1e-4,
        max_abs_weight: float = 20.0,
    ) -> None:
        self.initial = dict(initial)
        self.learning_rate = learning_rate
        self.l2 = l2
        self.max_abs_weight = max_abs_weight
        self.names: tuple[str, ...] = tuple(self.initial)
        self._w: FloatArray = np.array([self.initial[n] for n in self.names], dtype=np.float64)
        self._w0: FloatArray = self._w.copy()
        self._g2: FloatArray = np.zeros(len(self.names), dtype=np.float64)
        self.n_learnt = 0

    @property
    def weights(self) -> dict[str, float]:
        """Current weight of each feature (a fresh dict)."""
        return dict(zip(self.names, self._w.tolist(), strict=True))

    def _matrix(self, feats: Mapping[str, FloatArray]) -> FloatArray:
        return np.stack([np.asarray(feats[n], dtype=np.float64) for n in self.names], axis=1)

    def score(self, feats: Mapping[str, FloatArray]) -> FloatArray:
        """Score of every candidate (``w · x``); no side effects."""
        out: FloatArray = self._matrix(feats) @ self._w
        return out

    def learn(self, feats: Mapping[str, FloatArray], positive: int) -> None:
        """One AdaGrad step: candidate ``positive`` was the one chosen."""
        x = self._matrix(feats)
        if not 0 <= positive < x.shape[0] or x.shape[0] < 2:
            return None
        s = x @ self._w
        p = np.exp(s - s.max())
        p /= p.sum()
        grad = p @ x - x[positive] + self.l2 * (self._w - self._w0)
        self._g2 += grad * grad
        step = self.learning_rate * grad / (np.sqrt(self._g2) + 1e-8)
        self._w = np.clip(self._w - step, -self.max_abs_weight, self.max_abs_weight)
        self.n_learnt += 1
        return None

    def log_loss(self, feats: Mapping[str, FloatArray], positive: int) -> float:
        """Cross-entropy of choosing ``positive`` under the current weights (diagnostics)."""
        s = self.score(feats)
        top = float(s.max())
        return -(float(s[positive]) - top - math.log(float(np.exp(s - top).sum())))

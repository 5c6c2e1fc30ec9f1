"""The logistic function, written once for the models that turn a logit into a probability.

``1 / (1 + exp(-t))`` overflows ``exp`` for a very negative ``t``; for ``t < 0`` the same value
is computed as ``exp(t) / (1 + exp(t))``, so any finite logit gives a probability.

>>> sigmoid(0.0), sigmoid(-1000.0), sigmoid(1000.0)
(0.5, 0.0, 1.0)
"""

from __future__ import annotations

import math

__all__ = ["sigmoid"]


def sigmoid(t: float) -> float:
    if t >= 0.0:
        return 1.0 / (1.0 + math.exp(-t))
    e = math.exp(t)
    return e / (1.0 + e)

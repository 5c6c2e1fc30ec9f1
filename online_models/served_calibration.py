"""Calibration of the click probability a list promises, learnt from what followed such promises.

Why
---
A click model's own calibration is fitted on labels as they close, but the ``p_click`` a
list carries is read when the list is served, and the two differ. Measured in the closed
loop, full ranker: served ``p_click`` 0.317 on average against a click rate of 0.219 on the
same impressions (log loss 0.62, worse than the 0.52 of always answering the click rate),
while the same model's predictions at the moment each label closed averaged 0.206 against
0.223. Lists are served on clicks: the model is read at other moments than those it is
fitted in. (Those figures are from when clicks were labelled at once and non-clicks a window
later; a list's labels now come together, ``streams/label_join.py``.) Models without a click
model (MF only, popularity) serve a score or nothing in that field.

How
---
Platt scaling of the served value: the calibrated probability is
``sigmoid(a * logit(p) + b)``, the maximum likelihood fit to the labels so far. Each label
adds to a histogram of ``logit(p)`` (72 bins over [-9, 9]: labels and clicks per bin, older
labels decaying with a memory of ``memory`` labels), and every ``refit_every`` labels (early
on at 8, 16, 32, 64) a few Newton steps, each moving no bin's logit by more than 2, refit the
two parameters on the histogram (a weak pull towards the identity keeps the fit defined when
every served value is the same, as with a model that serves 0). When the best slope is flat
or negative, the slope stays at a small floor and the intercept is refitted alone: a clamp
alone had left a model serving 0.99 everywhere, clicked one time in twenty, promising 0.42.
Measured in the closed loop, the full ranker's best fit in hindsight is ``a = 0.19``: its
probabilities are far too spread as well as too high. Single-label gradient steps needed
tens of thousands of labels to get there, and online Newton steps diverged from a saturated
start.

Until the fit has a hundred labels, which takes a whole label window after the first list (30
minutes by default), a variant promises its click rate so far: clicks per item shown, both
known as they happen (:meth:`ServedCalibration.shown`, :meth:`ServedCalibration.clicked`),
with a prior of one click in ten. Serving the models' own values there (the identity) meant
a click model's untrained guess, an MF score and popularity's 0 — and, while clicks were
labelled a window before their non-clicks, ~0.99 from a click model that had learnt only
clicks: in the quick start's first minutes, a log loss of 5 against a click rate of 0.2.

It is monotone in ``p`` (``a`` stays positive), so it never reorders a list; it changes the
number a list promises, not the list. One per A/B variant, since each variant's
``p_click`` means something else before calibration.

>>> calibration = ServedCalibration()
>>> calibration.calibrate(0.3)  # nothing seen yet: the prior click rate
0.1
>>> calibration.shown(90); calibration.clicked()  # 2 clicks in 100 shown, prior included
>>> round(calibration.calibrate(0.3), 2)
0.02
>>> for _ in range(3_000):  # promised 0.3, clicked one time in ten
...     for clicked in (True, False, False, False, False, False, False, False, False, False):
...         calibration.learn(0.3, clicked)
>>> round(calibration.calibrate(0.3), 2)
0.1
"""

from __future__ import annotations

import math

from online_models.logistic import sigmoid

__all__ = ["ServedCalibration"]

_LOGIT_BOUND = 9.0
"""Served values are read as logits clipped to ±9 (p within ~1e-4 of 0 or 1): a model
that serves exactly 0 or 1 still gets a finite input."""
_N_BINS = 72
_BIN_WIDTH = 2 * _LOGIT_BOUND / _N_BINS
_CENTRES = [-_LOGIT_BOUND + (i + 0.5) * _BIN_WIDTH for i in range(_N_BINS)]
_NEWTON_STEPS = 5
_MAX_MOVE = 2.0
_MIN_SLOPE = 1e-3
_PRIOR_SHOWN, _PRIOR_CLICKS = 10, 1
"""Before the first labels: one click in ten items shown, worth ten items."""
_FITTED_AFTER = 100
"""Labels before the fit is served (it is refitted at 8, 16, 32, 64 meanwhile): on fewer,
the weak pull towards the identity still shows (8 unclicked labels of a served 0.99 fit to
0.19, a hundred to 0.03)."""


def _logit(p: float) -> float:
    if p <= 0.0:
        return -_LOGIT_BOUND
    if p >= 1.0:
        return _LOGIT_BOUND
    return min(max(math.log(p / (1.0 - p)), -_LOGIT_BOUND), _LOGIT_BOUND)


class ServedCalibration:
    """``sigmoid(a * logit(p) + b)`` over served click probabilities ``p``.

    Parameters
    ----------
    memory
        Labels after which an old label weighs ``1/e`` of a new one (the calibration follows
        a model that changes).
    refit_every
        Labels between two refits of ``(a, b)``.
    prior
        Labels' worth of pull towards the identity ``(a, b) = (1, 0)``.
    """

    __slots__ = (
        "_clicks",
        "_fitted_at",
        "_labels",
        "_shown",
        "_shown_clicked",
        "a",
        "b",
        "memory",
        "n_labels",
        "prior",
        "refit_every",
    )

    def __init__(self, memory: float = 5_000.0, refit_every: int = 100, prior: float = 1.0) -> None:
        if not memory >= 1.0:
            raise ValueError(f"memory must be at least 1 label, got {memory!r}")
        if refit_every < 1:
            raise ValueError(f"refit_every must be at least 1, got {refit_every!r}")
        if not prior > 0.0:
            raise ValueError(f"prior must be positive, got {prior!r}")
        self.memory = memory
        self.refit_every = refit_every
        self.prior = prior
        self.a = 1.0
        self.b = 0.0
        self.n_labels = 0
        self._fitted_at = 0  # n_labels at the last refit
        self._labels = [0.0] * _N_BINS
        self._clicks = [0.0] * _N_BINS
        self._shown = _PRIOR_SHOWN
        self._shown_clicked = _PRIOR_CLICKS

    def calibrate(self, p: float) -> float:
        """The calibrated probability of a served value ``p``; no side effects."""
        if self.n_labels < _FITTED_AFTER:  # the click rate so far
            return self._shown_clicked / self._shown
        return sigmoid(self.a * _logit(p) + self.b)

    def shown(self, n: int) -> None:
        """``n`` items of this variant's lists were shown (an impression, counted at once)."""
        self._shown += n

    def clicked(self) -> None:
        """One of them was clicked (counted at the click, before its label settles)."""
        self._shown_clicked += 1

    def learn(self, p: float, clicked: bool) -> None:
        """One label of an item served with value ``p`` (before calibration)."""
        i = min(int((_logit(p) + _LOGIT_BOUND) / _BIN_WIDTH), _N_BINS - 1)
        self._labels[i] += 1.0
        self._clicks[i] += float(clicked)
        self.n_labels += 1
        n, every = self.n_labels, self.refit_every
        # Early on, refit at 8, 16, 32, 64 labels: the fit is ready when it is served.
        if n % every == 0 or (n < every and n >= 8 and n & (n - 1) == 0):
            self._refit()

    def _refit(self) -> None:
        """Decay the histogram by the labels since the last refit, then refit ``(a, b)``
        by Newton steps on its log likelihood plus the pull towards the identity."""
        keep = math.exp(-(self.n_labels - self._fitted_at) / self.memory)
        self._fitted_at = self.n_labels
        bins = [
            (z, n * keep, c * keep)
            for z, n, c in zip(_CENTRES, self._labels, self._clicks, strict=True)
        ]
        self._labels = [n for _, n, _ in bins]
        self._clicks = [c for _, _, c in bins]
        bins = [b for b in bins if b[1] > 0.0]
        a, b, prior = self.a, self.b, self.prior
        for _ in range(_NEWTON_STEPS):
            ga, gb = prior * (a - 1.0), prior * b
            haa, hab, hbb = prior, 0.0, prior
            for z, n, c in bins:
                q = sigmoid(a * z + b)
                error, w = n * q - c, n * q * (1.0 - q)
                ga += error * z
                gb += error
                haa += w * z * z
                hab += w * z
                hbb += w
            det = haa * hbb - hab * hab
            da, db = (hbb * ga - hab * gb) / det, (haa * gb - hab * ga) / det
            # Trust region: from a saturated start a full step overshoots (the curvature
            # there is tiny), so no bin's logit moves by more than _MAX_MOVE per step.
            move = max(abs(da * z + db) for z, _, _ in bins) if bins else 0.0
            scale = min(1.0, _MAX_MOVE / move) if move > 0.0 else 1.0
            a -= scale * da
            b -= scale * db
        if a < _MIN_SLOPE:
            # The best slope is flat or negative (every served value far too high, or all
            # labels at one value): with the slope held at its floor, refit the intercept
            # alone, or the clamp alone would leave the promise near one half.
            a = _MIN_SLOPE
            for _ in range(_NEWTON_STEPS):
                gb, hbb = prior * b, prior
                for z, n, c in bins:
                    q = sigmoid(a * z + b)
                    gb += n * q - c
                    hbb += n * q * (1.0 - q)
                b -= max(-_MAX_MOVE, min(_MAX_MOVE, gb / hbb))
        self.a, self.b = a, b

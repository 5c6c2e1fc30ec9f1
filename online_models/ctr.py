"""Click-through-rate model: calibrated P(click | shown) from sparse features, learnt online.

Why this shape
--------------
The recommender blends several scores into one ranking; the click model turns a shown
(user, item, context) into a *probability* that can be compared across domains, logged
next to the label and audited. Three choices follow from that:

- **Sparse dict features, no encoder.** Categorical facts (segment, domain, partner, tags,
  hour, position, trigger-domain x item-domain cross) become one-hot keys of a plain
  ``dict``. River's ``OneHotEncoder`` was measured at ~1.5k events/s here; sparse dicts run
  an order of magnitude faster. High-cardinality keys (item id, partner, tag) are hashed
  into ``n_buckets`` buckets with CRC-32 (stable across processes, unlike ``hash``), which
  bounds the number of weights whatever the catalogue does.
- **A prior for the cold.** The intercept starts at ``logit(prior_ctr)`` and every item
  shares domain / partner / tag weights, so an item never seen before still gets the
  click rate of its kind instead of 0.5.
- **Calibration is measured, then corrected online.** A one-feature Platt layer
  (``sigmoid(a * logit(p_raw) + b)``, started at the identity) is trained on the raw model's
  *pre-update* prediction for every impression (progressive validation), so it corrects the
  systematic over/under-confidence of the online SGD model without ever seeing a label it
  was evaluated on. :func:`expected_calibration_error` and :func:`reliability_bins` are
  here so the worker can publish the same numbers the tests check.

Numeric features (``mf_score``, ``knn_score``, ``popularity``…) are standardised online
(Welford mean / variance; ``price`` goes through ``log1p`` first) and clipped to
``[-clip, clip]`` so a single outlier cannot blow the weights up. Missing keys count as the
running mean (they contribute nothing), as :mod:`online_models.scorers` requires.

Why not River's ``LogisticRegression`` object
---------------------------------------------
The recommender asks for ``p_click`` of ~20 shortlisted items per request, so a prediction
must cost a few microseconds. The model is the same math as River's
``LogisticRegression(optimizer=AdaGrad(lr), l2=l2, intercept_lr=0.2 * lr)`` (log loss,
lazy L2 on the active features, AdaGrad per weight, plain SGD on the intercept; a test
checks both give the same predictions on the same stream), written over a plain
``dict`` so that :meth:`CtrModel.predict_proba` is one pass of dictionary look-ups with
no intermediate feature dict: the per-item part of the features (domain, hashed item id,
partner and tags) is computed once per item and cached by item id (recomputed when the
item's domain, partner or tags change), and the per-request part (trigger, segment, hour,
position, numeric features) uses precomputed keys. The cache is bounded, never pickled,
and never changes a result.

>>> from online_models.types import Context, ItemInfo
>>> model = CtrModel(prior_ctr=0.05, seed=1)
>>> item = ItemInfo("f1", "fresh_food", partner="greengrocer", tags=("cooking",))
>>> ctx = Context(ts=0.0, trigger_domain="course", hour=19)
>>> round(model.predict_proba("p:1", item, ctx, {}), 3)   # cold: the prior
0.05
>>> model.learn_impression("p:1", item, ctx, {"mf_score": 0.3}, clicked=True)
>>> 0.05 < model.predict_proba("p:1", item, ctx, {"mf_score": 0.3}) < 1.0
True
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from online_models.types import Context, ItemInfo

__all__ = [
    "CALIBRATION_BINS",
    "CalibrationBin",
    "CtrModel",
    "expected_calibration_error",
    "reliability_bins",
]

CALIBRATION_BINS = 10
"""Default number of equal-width probability bins for reliability / ECE."""

_CATEGORICAL_NUMERIC = frozenset({"position", "cross_domain"})
"""Keys of ``features`` that are better one-hot than linear (position bias is not linear)."""

_LOG_SCALED = frozenset({"price"})
"""Heavy-tailed numeric features: ``log1p`` before standardising."""

_EPS = 1e-6
_ADAGRAD_EPS = 1e-8  # River's AdaGrad default
_ITEM_CACHE_SIZE = 100_000
"""Items whose feature keys are cached; the cache is emptied when it is full (cheap to refill)."""
_CACHES = ("_item_cache", "_position_keys", "_hour_keys")
"""Attributes derived from the parameters or the inputs: rebuilt on demand, never pickled."""


def _logit(p: float) -> float:
    p = min(max(p, _EPS), 1.0 - _EPS)
    return math.log(p / (1.0 - p))


def _river_sigmoid(z: float) -> float:
    """River's ``utils.math.sigmoid`` (saturates to exactly 0 / 1 beyond ±30)."""
    if z < -30.0:
        return 0.0
    if z > 30.0:
        return 1.0
    return 1.0 / (1.0 + math.exp(-z))


def _plus(dots: list[float], weights: Sequence[float | None]) -> list[float]:
    """``dots[j] + weights[j]``, skipping missing weights (the order of additions matters
    for bit-identical results, so each term is added separately)."""
    return [d if wt is None else d + wt for d, wt in zip(dots, weights, strict=True)]


def _sigmoid(z: float) -> float:
    if z >= 0.0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


class _RunningMoments:
    """Welford mean/variance of one numeric feature (pure reads), with the weight key it
    feeds (``num:<name>``) and whether values go through ``log1p`` first."""

    __slots__ = ("count", "key", "log_scaled", "m2", "mean", "std")

    def __init__(self, name: str) -> None:
        self.key = f"num:{name}"
        self.log_scaled = name in _LOG_SCALED
        self.count = 0
        self.mean = 0.0
        self.m2 = 0.0
        self.std = 0.0

    def update(self, value: float) -> None:
        self.count += 1
        delta = value - self.mean
        self.mean += delta / self.count
        self.m2 += delta * (value - self.mean)
        if self.count >= 2:
            self.std = math.sqrt(self.m2 / (self.count - 1))

    def standardise(self, value: float) -> float:
        if self.count < 2:
            return 0.0
        return (value - self.mean) / self.std if self.std > 1e-12 else 0.0


class _PlattLayer:
    """``sigmoid(a * z + b)`` on the raw model's logit ``z``, starting at the identity
    (``a = 1, b = 0``) and moved by plain SGD on log loss."""

    __slots__ = ("a", "b", "lr")

    def __init__(self, lr: float) -> None:
        self.lr = lr
        self.a = 1.0
        self.b = 0.0

    def predict(self, z: float) -> float:
        return _sigmoid(self.a * z + self.b)

    def learn(self, z: float, clicked: bool) -> None:
        error = self.predict(z) - float(clicked)
        self.a -= self.lr * error * z
        self.b -= self.lr * error


class CtrModel:
    """Online logistic regression over sparse crossed features, with online Platt calibration.

    Satisfies :class:`online_models.scorers.ClickModel`.

    Parameters
    ----------
    prior_ctr
        Click rate assumed before any data; sets the intercept, hence cold-item predictions.
    lr
        Learning rate of the AdaGrad optimiser of the main model (per-feature adaptive
        steps suit one-hot features with very different frequencies).
    l2
        L2 penalty of the main model.
    n_buckets
        Hash buckets for item ids, partners and tags (bounds memory).
    max_position
        Positions at or beyond this share one one-hot key.
    clip
        Standardised numeric features are clipped to ``[-clip, clip]``.
    calibrate
        Train and apply the online Platt layer.
    calibration_lr
        SGD learning rate of the Platt layer (small: it should move slowly).
    seed
        Kept for River's conventions; the model itself is deterministic.
    """

    def __init__(
        self,
        prior_ctr: float = 0.05,
        lr: float = 0.05,
        l2: float = 1e-5,
        n_buckets: int = 1 << 18,
        max_position: int = 10,
        clip: float = 5.0,
        calibrate: bool = True,
        calibration_lr: float = 0.005,
        seed: int | None = None,
    ) -> None:
        if not 0.0 < prior_ctr < 1.0:
            raise ValueError(f"prior_ctr must be in (0, 1), got {prior_ctr}")
        if n_buckets < 1:
            raise ValueError(f"n_buckets must be positive, got {n_buckets}")
        self.prior_ctr = prior_ctr
        self.lr = lr
        self.l2 = l2
        self.n_buckets = n_buckets
        self.max_position = max_position
        self.clip = clip
        self.calibrate = calibrate
        self.calibration_lr = calibration_lr
        self.seed = seed

        self._weights: dict[str, float] = {}
        self._g2: dict[str, float] = {}  # AdaGrad: running sum of squared gradients
        self._intercept = _logit(prior_ctr)
        self._moments: dict[str, _RunningMoments] = {}  # raw feature name -> moments
        self._platt = _PlattLayer(lr=calibration_lr)
        self._n_seen = 0
        self._n_clicks = 0
        self._clear_caches()

    def _clear_caches(self) -> None:
        self._item_cache: dict[str, tuple[ItemInfo, tuple[tuple[str, float], ...]]] = {}
        self._position_keys = tuple(f"pos={p}" for p in range(max(self.max_position, 0) + 1))
        self._hour_keys = tuple(f"hour={h}" for h in range(24))

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        for name in _CACHES:
            del state[name]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        if "_weights" not in state:
            raise ValueError("CtrModel state of an older layout (River model); retrain it")
        self.__dict__.update(state)
        self._clear_caches()

    # ------------------------------------------------------------------ features
    def _bucket(self, namespace: str, value: str) -> str:
        return f"{namespace}#{zlib.crc32(f'{namespace}={value}'.encode()) % self.n_buckets}"

    def _item_features(self, item: ItemInfo) -> tuple[tuple[str, float], ...]:
        """The per-item part of :meth:`featurise`, cached by item id."""
        cached = self._item_cache.get(item.item_id)
        if cached is not None:
            seen = cached[0]
            if seen is item or (
                seen.domain == item.domain
                and seen.partner == item.partner
                and seen.tags == item.tags
            ):
                return cached[1]
        x: dict[str, float] = {
            f"dom={item.domain}": 1.0,
            self._bucket("item", item.item_id): 1.0,
        }
        if item.partner is not None:
            x[self._bucket("partner", item.partner)] = 1.0
        if item.tags:
            tag_weight = 1.0 / math.sqrt(len(item.tags))
            for tag in item.tags:
                x[self._bucket("tag", tag)] = tag_weight
        pairs = tuple(x.items())
        if len(self._item_cache) >= _ITEM_CACHE_SIZE:
            self._item_cache.clear()
        self._item_cache[item.item_id] = (item, pairs)
        return pairs

    def _position_key(self, features: Mapping[str, float]) -> str | None:
        position = features.get("position")
        if position is None or not math.isfinite(position):
            return None
        return self._position_keys[min(max(int(position), 0), max(self.max_position, 0))]

    def featurise(
        self, item: ItemInfo, context: Context, features: Mapping[str, float]
    ) -> dict[str, float]:
        """The sparse feature dict the model sees (pure; exposed for inspection and tests).

        ``user`` is deliberately absent: per-user taste reaches this model only through
        ``mf_score`` / ``knn_score`` and the segment, which keeps the weight table small and
        holds no per-user state to forget. :meth:`predict_proba` computes the same dot
        product without building this dict.
        """
        x = dict(self._item_features(item))
        if context.trigger_domain is not None:
            x[f"trig={context.trigger_domain}|dom={item.domain}"] = 1.0
        if context.segment is not None:
            x[f"seg={context.segment}"] = 1.0
            x[f"seg={context.segment}|dom={item.domain}"] = 1.0
        if context.hour is not None:
            x[self._hour_keys[context.hour % 24]] = 1.0
        position_key = self._position_key(features)
        if position_key is not None:
            x[position_key] = 1.0
        if features.get("cross_domain", 0.0) >= 0.5:
            x["cross_domain"] = 1.0
        moments = self._moments
        if moments:
            for name, value in features.items():
                m = moments.get(name)
                if m is None or not math.isfinite(value):
                    continue  # never seen in training (or categorical): its weight is zero
                x[m.key] = self._standardised(m, value)
        return x

    def _standardised(self, moments: _RunningMoments, value: float) -> float:
        if moments.log_scaled:
            value = math.copysign(math.log1p(abs(value)), value)
        return min(max(moments.standardise(float(value)), -self.clip), self.clip)

    def _numeric(self, features: Mapping[str, float]) -> dict[str, float]:
        numeric: dict[str, float] = {}
        for name, value in features.items():
            if name in _CATEGORICAL_NUMERIC or not math.isfinite(value):
                continue
            if name in _LOG_SCALED:
                value = math.copysign(math.log1p(abs(value)), value)
            numeric[name] = float(value)
        return numeric

    # ------------------------------------------------------------------ predict / learn
    def _dot(self, x: Mapping[str, float]) -> float:
        weights = self._weights
        dot = 0.0
        for key, value in x.items():
            weight = weights.get(key)
            if weight is not None:
                dot += weight * value
        return dot

    def _calibrated(self, raw: float) -> float:
        if not self.calibrate:
            return raw
        return self._platt.predict(_logit(raw))

    def predict_proba(
        self, user: str, item: ItemInfo, context: Context, features: Mapping[str, float]
    ) -> float:
        """Calibrated probability in [0, 1] that ``item`` is clicked if shown; no side effects
        (beyond filling the per-item feature cache, which is not model state).

        A shortlist of one: the terms of ``self._dot(self.featurise(...))`` summed without
        building that dict, by the same code that scores a whole shortlist."""
        columns = {name: (value,) for name, value in features.items()}
        return self.predict_proba_many(user, (item,), context, columns)[0]

    def predict_proba_many(
        self,
        user: str,
        items: Sequence[ItemInfo],
        context: Context,
        columns: Mapping[str, Sequence[float]],
    ) -> list[float]:
        """Calibrated click probabilities of a shortlist: ``columns[name][j]`` is feature
        ``name`` of ``items[j]``. Each is the sum of the terms of
        ``self._dot(self.featurise(...))`` in the same order, with the per-request keys and
        the numeric standardisation constants computed once for the whole list; no side
        effects."""
        w = self._weights.get
        m = len(items)
        dots = [0.0] * m
        for j, item in enumerate(items):
            dot = 0.0
            for key, value in self._item_features(item):
                weight = w(key)
                if weight is not None:
                    dot += weight * value
            dots[j] = dot
        domains = [item.domain for item in items]
        trigger, segment = context.trigger_domain, context.segment
        if trigger is not None:
            by_domain = {d: w(f"trig={trigger}|dom={d}") for d in set(domains)}
            dots = _plus(dots, [by_domain[d] for d in domains])
        if segment is not None:
            dots = _plus(dots, [w(f"seg={segment}")] * m)
            by_domain = {d: w(f"seg={segment}|dom={d}") for d in set(domains)}
            dots = _plus(dots, [by_domain[d] for d in domains])
        if context.hour is not None:
            dots = _plus(dots, [w(self._hour_keys[context.hour % 24])] * m)
        positions = columns.get("position")
        if positions is not None:
            keys, top = self._position_keys, max(self.max_position, 0)
            dots = _plus(
                dots,
                [
                    w(keys[min(max(int(p), 0), top)]) if math.isfinite(p) else None
                    for p in positions
                ],
            )
        cross = columns.get("cross_domain")
        if cross is not None:
            weight = w("cross_domain")
            dots = _plus(dots, [weight if c >= 0.5 else None for c in cross])
        moments = self._moments
        if moments:
            clip = self.clip
            for name, values in columns.items():
                mo = moments.get(name)
                if mo is None or mo.std <= 1e-12 or mo.count < 2:
                    continue
                weight = w(mo.key)
                if weight is None:
                    continue
                mean, std, log_scaled = mo.mean, mo.std, mo.log_scaled
                for j, value in enumerate(values):
                    if not math.isfinite(value):
                        continue
                    if log_scaled:
                        value = math.copysign(math.log1p(abs(value)), value)
                    z = (value - mean) / std
                    dots[j] += weight * (clip if z > clip else -clip if z < -clip else z)
        intercept = self._intercept
        return [self._calibrated(_river_sigmoid(dot + intercept)) for dot in dots]

    def learn_impression(
        self,
        user: str,
        item: ItemInfo,
        context: Context,
        features: Mapping[str, float],
        clicked: bool,
    ) -> None:
        """Learn from one labelled impression (predict first, so calibration stays honest)."""
        for name, value in self._numeric(features).items():
            moments = self._moments.get(name)
            if moments is None:
                moments = self._moments[name] = _RunningMoments(name)
            moments.update(value)
        x = self.featurise(item, context, features)
        z = self._dot(x) + self._intercept
        if self.calibrate:
            self._platt.learn(_logit(_river_sigmoid(z)), bool(clicked))
        self._step(x, z, bool(clicked))
        self._n_seen += 1
        self._n_clicks += int(bool(clicked))

    def _step(self, x: Mapping[str, float], z: float, clicked: bool) -> None:
        """One AdaGrad step on log loss, exactly as River's ``LogisticRegression.learn_one``
        with ``optim.AdaGrad(lr)``: lazy L2 on the features present, intercept by SGD."""
        y = 1.0 if clicked else -1.0
        margin = z * y
        if margin > 18.0:
            loss_gradient = math.exp(-margin) * -y
        elif margin < -18.0:
            loss_gradient = -y
        else:
            loss_gradient = -y / (math.exp(margin) + 1.0)
        self._intercept -= self.lr * 0.2 * loss_gradient
        weights, g2, lr, l2 = self._weights, self._g2, self.lr, self.l2
        for key, value in x.items():
            weight = weights.get(key, 0.0)
            gradient = value * loss_gradient
            if l2:
                gradient += l2 * weight
            total = g2.get(key, 0.0) + gradient**2
            g2[key] = total
            weights[key] = weight - lr / (total + _ADAGRAD_EPS) ** 0.5 * gradient

    def forget_user(self, user: str) -> None:
        """Nothing to erase: the model holds no per-user state (see :meth:`featurise`)."""
        return None

    # ------------------------------------------------------------------ introspection
    @property
    def n_seen(self) -> int:
        """Labelled impressions learnt so far."""
        return self._n_seen

    @property
    def observed_ctr(self) -> float:
        """Click rate over all impressions learnt (``prior_ctr`` before any)."""
        return self._n_clicks / self._n_seen if self._n_seen else self.prior_ctr

    @property
    def n_weights(self) -> int:
        """Number of weights the main model holds (bounded by the feature space)."""
        return len(self._weights)


# ---------------------------------------------------------------------- calibration metrics
@dataclass(frozen=True, slots=True)
class CalibrationBin:
    """One bin of a reliability diagram: predictions in ``[lower, upper)``."""

    lower: float
    upper: float
    count: int
    mean_predicted: float
    observed_rate: float


def reliability_bins(
    probabilities: Sequence[float], labels: Iterable[bool], n_bins: int = CALIBRATION_BINS
) -> list[CalibrationBin]:
    """Equal-width reliability bins (empty bins are omitted).

    >>> [(b.count, b.mean_predicted, b.observed_rate) for b in reliability_bins(
    ...     [0.1, 0.1, 0.9, 0.9], [False, False, True, False], n_bins=2)]
    [(2, 0.1, 0.0), (2, 0.9, 0.5)]
    """
    if n_bins < 1:
        raise ValueError(f"n_bins must be positive, got {n_bins}")
    counts = [0] * n_bins
    sums = [0.0] * n_bins
    positives = [0] * n_bins
    for p, y in zip(probabilities, labels, strict=True):
        index = min(int(p * n_bins), n_bins - 1)
        counts[index] += 1
        sums[index] += p
        positives[index] += int(y)
    return [
        CalibrationBin(
            lower=i / n_bins,
            upper=(i + 1) / n_bins,
            count=counts[i],
            mean_predicted=sums[i] / counts[i],
            observed_rate=positives[i] / counts[i],
        )
        for i in range(n_bins)
        if counts[i]
    ]


def expected_calibration_error(
    probabilities: Sequence[float], labels: Iterable[bool], n_bins: int = CALIBRATION_BINS
) -> float:
    """Count-weighted mean gap between predicted and observed click rate over the bins.

    >>> expected_calibration_error([0.1, 0.1, 0.9, 0.9], [False, False, True, False], n_bins=2)
    0.25
    """
    bins = reliability_bins(probabilities, labels, n_bins)
    total = sum(b.count for b in bins)
    if total == 0:
        return 0.0
    return sum(b.count * abs(b.mean_predicted - b.observed_rate) for b in bins) / total

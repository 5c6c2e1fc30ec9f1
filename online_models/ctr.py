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
``dict`` so that :meth:`CtrModel.predict_proba_many` (a shortlist of ~20 in one call) is
a few passes of dictionary look-ups with no intermediate feature dict: the per-item part
of the features (hashed item id, partner and tags) is computed once per item and cached by
item id (recomputed when the item's domain, partner or tags change), the weights of the
per-request keys (domain, trigger, segment, hour, positions) are looked up once per call,
and each numeric column is standardised in one list pass. The cache is bounded, never
pickled, and never changes a result. numpy does not pay at this size (see
:meth:`CtrModel.predict_proba_many`).

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
import sys
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from online_models.logistic import sigmoid
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
_CACHES = ("_item_cache", "_value_tuples", "_position_keys", "_hour_keys")
"""Attributes derived from the parameters or the inputs: rebuilt on demand, never pickled."""
_NumericColumn = tuple[Sequence[float], float, float, float]
"""A numeric column to add to the scores: values, mean, standard deviation and weight."""
_WHOLE_POSITIONS = [float(p) for p in range(1024)]
"""``[0.0, 1.0, ...]``: a shortlist's ``position`` column is a prefix of it (fast path)."""
_ItemEntry = tuple[ItemInfo, tuple[tuple[str, float], ...], tuple[str, ...], tuple[float, ...]]
"""A cached item, its feature pairs, and the keys and the values of those pairs but the
leading ``dom=`` one (whose weight :meth:`CtrModel.predict_proba_many` looks up once per
domain, not once per item) as two flat tuples (fewer objects to fetch from memory)."""


def _logit(p: float) -> float:
    p = min(max(p, _EPS), 1.0 - _EPS)
    return math.log(p / (1.0 - p))


_LOGIT_LOW = _logit(_EPS)
_LOGIT_HIGH = _logit(1.0 - _EPS)
"""Bounds of ``_logit(_river_sigmoid(z))``: below / above them the probability is clipped."""


def _calibration_input(z: float) -> float:
    """``_logit(_river_sigmoid(z))`` without the round trip through a probability.

    Inside ``[_LOGIT_LOW, _LOGIT_HIGH]`` the round trip is ``z`` up to rounding (this is the
    exact value, the round trip loses up to ~1e-10 near the upper bound where ``1 - p`` is
    tiny); outside, both the ``_EPS`` clip and River's saturation beyond ±30 give the bound
    itself. NaN stays NaN.

    >>> [_calibration_input(z) == _logit(_river_sigmoid(z)) for z in (-50.0, 40.0, 0.0)]
    [True, True, True]
    >>> abs(_calibration_input(-2.5) - _logit(_river_sigmoid(-2.5))) < 1e-15
    True
    """
    return _LOGIT_LOW if z < _LOGIT_LOW else _LOGIT_HIGH if z > _LOGIT_HIGH else z


def _river_sigmoid(z: float) -> float:
    """River's ``utils.math.sigmoid`` (saturates to exactly 0 / 1 beyond ±30)."""
    if z < -30.0:
        return 0.0
    if z > 30.0:
        return 1.0
    return 1.0 / (1.0 + math.exp(-z))


def _log_scaled(values: Sequence[float], finite: bool) -> list[float]:
    """``copysign(log1p(|v|), v)`` of each value (NaN and inf stay so); ``finite`` says that
    no value is NaN or inf, which allows the shortcut for the usual non-negative prices
    (``-0.0`` included: ``log1p(-0.0)`` is ``-0.0`` too)."""
    if finite and min(values, default=0.0) >= 0.0:
        return list(map(math.log1p, values))
    return [math.copysign(math.log1p(abs(v)), v) for v in values]


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
        return sigmoid(self.a * z + self.b)

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
        self._item_cache: dict[str, _ItemEntry] = {}
        self._value_tuples: dict[tuple[float, ...], tuple[float, ...]] = {}
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
        # One string object per key, shared with the item cache (see _item_entry).
        self._weights = {sys.intern(key): value for key, value in self._weights.items()}
        self._g2 = {sys.intern(key): value for key, value in self._g2.items()}
        self._clear_caches()

    # ------------------------------------------------------------------ features
    def _bucket(self, namespace: str, value: str) -> str:
        return f"{namespace}#{zlib.crc32(f'{namespace}={value}'.encode()) % self.n_buckets}"

    def _item_features(self, item: ItemInfo) -> tuple[tuple[str, float], ...]:
        """The per-item part of :meth:`featurise`, cached by item id."""
        return self._item_entry(item)[1]

    def _item_entry(self, item: ItemInfo) -> _ItemEntry:
        """``(item, pairs, keys, values)`` of the per-item features (see ``_ItemEntry``),
        cached by item id and recomputed when the item's domain, partner or tags change.

        Keys are interned: the weight table holds the same string objects (see
        ``__setstate__``), so a look-up is an identity hit on a string already in cache
        rather than a comparison with a copy."""
        cached = self._item_cache.get(item.item_id)
        if cached is not None:
            seen = cached[0]
            if seen is item or (
                seen.domain == item.domain
                and seen.partner == item.partner
                and seen.tags == item.tags
            ):
                return cached
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
        pairs = tuple((sys.intern(key), value) for key, value in x.items())
        own = pairs[1:]
        values = tuple(value for _, value in own)
        if len(self._item_cache) >= _ITEM_CACHE_SIZE:
            self._item_cache.clear()
            self._value_tuples.clear()
        # Few distinct value tuples exist (1.0s, then 1/sqrt(#tags) per tag): share them.
        values = self._value_tuples.setdefault(values, values)
        entry = (item, pairs, tuple(key for key, _ in own), values)
        self._item_cache[item.item_id] = entry
        return entry

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

    # ------------------------------------------------------------------ predict / learn
    def _dot(self, x: Mapping[str, float]) -> float:
        weights = self._weights
        dot = 0.0
        for key, value in x.items():
            weight = weights.get(key)
            if weight is not None:
                dot += weight * value
        return dot

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
        ``name`` of ``items[j]``; no side effects.

        Each is ``self._dot(self.featurise(...))`` (equal up to rounding: the terms are
        grouped differently) pushed through the sigmoid and the Platt layer. Everything that
        does not depend on the item is looked up once per call: the weights of the context
        keys (summed once per domain), of the position keys, of ``cross_domain`` and of
        each numeric column with its standardisation constants. Plain Python lists beat
        numpy at shortlist sizes (~20): on 2 cores, the 5 numeric columns of 20 items took
        ~20 us as one 2-D array (building it alone ~3-5 us, then ~1 us per ufunc call) and
        ~14 us as one list pass per column, and two columns per pass (as here) saves
        another ~20 %."""
        w = self._weights.get
        context_terms: dict[str, float] = {}  # item domain -> _context_term
        shared = self._shared_context_term(context)
        base_of = context_terms.get
        cache_get = self._item_cache.get
        dots: list[float] = []
        append = dots.append
        for item in items:
            entry = cache_get(item.item_id)
            if entry is None or entry[0] is not item:
                entry = self._item_entry(item)
            dot = 0.0
            for key, value in zip(entry[2], entry[3], strict=True):
                weight = w(key)
                if weight is not None:
                    dot += weight * value
            base = base_of(item.domain)
            if base is None:
                base = context_terms[item.domain] = self._context_term(context, item.domain, shared)
            append(dot + base)
        positions = columns.get("position")
        if positions is not None:
            dots = self._plus_positions(dots, positions)
        cross = columns.get("cross_domain")
        if cross is not None:
            weight = w("cross_domain")
            if weight is not None:
                dots = [d + weight if c >= 0.5 else d for d, c in zip(dots, cross, strict=True)]
        if self._moments:
            dots = self._plus_numeric(dots, columns)
        intercept = self._intercept
        if not self.calibrate:
            return [_river_sigmoid(dot + intercept) for dot in dots]
        low, high = _LOGIT_LOW, _LOGIT_HIGH
        a, b = self._platt.a, self._platt.b
        exp = math.exp
        out: list[float] = []
        for dot in dots:
            z = dot + intercept
            # _PlattLayer.predict(_calibration_input(z)), inlined (the hot path)
            t = a * (low if z < low else high if z > high else z) + b
            if t >= 0.0:
                out.append(1.0 / (1.0 + exp(-t)))
            else:
                e = exp(t)
                out.append(e / (1.0 + e))
        return out

    def _shared_context_term(self, context: Context) -> float:
        """Sum of the weights of the per-request keys that do not depend on the item:
        segment and hour (missing weights count as zero)."""
        w = self._weights.get
        total = 0.0
        if context.segment is not None:
            total += w(f"seg={context.segment}", 0.0)
        if context.hour is not None:
            total += w(self._hour_keys[context.hour % 24], 0.0)
        return total

    def _context_term(self, context: Context, domain: str, shared: float) -> float:
        """Sum of the weights of the keys every item of ``domain`` has in this request: the
        domain, trigger x domain, segment x domain, then ``shared`` (see
        :meth:`_shared_context_term`); missing weights count as zero."""
        w = self._weights.get
        total = w(f"dom={domain}", 0.0)
        if context.trigger_domain is not None:
            total += w(f"trig={context.trigger_domain}|dom={domain}", 0.0)
        if context.segment is not None:
            total += w(f"seg={context.segment}|dom={domain}", 0.0)
        return total + shared

    def _plus_positions(self, dots: list[float], positions: Sequence[float]) -> list[float]:
        """Add the one-hot position weight of each item (non-finite positions have none),
        with the weights of the position keys looked up once per call. The recommender
        sends positions ``0.0, 1.0, ..., n - 1``: those need no per-item arithmetic."""
        w = self._weights.get
        keys, top = self._position_keys, max(self.max_position, 0)
        by_index = [w(key, 0.0) for key in keys]
        n = len(dots)
        if isinstance(positions, list) and positions == _WHOLE_POSITIONS[:n]:  # the usual case
            if n > top + 1:
                by_index += [by_index[top]] * (n - top - 1)
            return [d + weight for d, weight in zip(dots, by_index, strict=False)]  # n first
        isfinite = math.isfinite
        return [
            d + by_index[min(max(int(p), 0), top)] if isfinite(p) else d
            for d, p in zip(dots, positions, strict=True)
        ]

    def _plus_numeric(
        self, dots: list[float], columns: Mapping[str, Sequence[float]]
    ) -> list[float]:
        """Add ``weight * clip(standardised(value))`` of every numeric column, column after
        column; non-finite values contribute nothing (as in :meth:`featurise`).

        Two columns in a row without a non-finite value are added in one pass (``d + a + b``
        is ``(d + a) + b``, so the sums are those of one pass per column, whatever else is
        in the shortlist): the loop overhead, not the arithmetic, is most of the cost."""
        w = self._weights.get
        moments = self._moments
        pending: _NumericColumn | None = None  # a finite column waiting for a partner
        for name, values in columns.items():
            mo = moments.get(name)
            if mo is None or mo.std <= 1e-12 or mo.count < 2:
                continue
            weight = w(mo.key)
            if weight is None:
                continue
            finite = math.isfinite(sum(values))
            if mo.log_scaled:
                values = _log_scaled(values, finite)
            column = (values, mo.mean, mo.std, weight)
            if not finite:
                if pending is not None:
                    dots, pending = self._plus_standardised(dots, *pending), None
                dots = self._plus_standardised_finite_only(dots, *column)
            elif pending is None:
                pending = column
            else:
                dots, pending = self._plus_two_standardised(dots, pending, column), None
        if pending is not None:
            dots = self._plus_standardised(dots, *pending)
        return dots

    def _plus_standardised(
        self, dots: list[float], values: Sequence[float], mean: float, std: float, weight: float
    ) -> list[float]:
        """One numeric column without non-finite values."""
        clip = self.clip
        low = -clip
        return [
            d + weight * (clip if (z := (v - mean) / std) > clip else low if z < low else z)
            for d, v in zip(dots, values, strict=True)
        ]

    def _plus_standardised_finite_only(
        self, dots: list[float], values: Sequence[float], mean: float, std: float, weight: float
    ) -> list[float]:
        """One numeric column, skipping its non-finite values."""
        clip = self.clip
        low = -clip
        isfinite = math.isfinite
        return [
            d + weight * (clip if (z := (v - mean) / std) > clip else low if z < low else z)
            if isfinite(v)
            else d
            for d, v in zip(dots, values, strict=True)
        ]

    def _plus_two_standardised(
        self, dots: list[float], first: _NumericColumn, second: _NumericColumn
    ) -> list[float]:
        """Two numeric columns without non-finite values, in one pass."""
        clip = self.clip
        low = -clip
        values_a, mean_a, std_a, weight_a = first
        values_b, mean_b, std_b, weight_b = second
        return [
            d
            + weight_a * (clip if (y := (a - mean_a) / std_a) > clip else low if y < low else y)
            + weight_b * (clip if (z := (b - mean_b) / std_b) > clip else low if z < low else z)
            for d, a, b in zip(dots, values_a, values_b, strict=True)
        ]

    def learn_impression(
        self,
        user: str,
        item: ItemInfo,
        context: Context,
        features: Mapping[str, float],
        clicked: bool,
    ) -> None:
        """Learn from one labelled impression (predict first, so calibration stays honest)."""
        self._update_moments(features)
        x = self.featurise(item, context, features)
        z = self._dot(x) + self._intercept
        if self.calibrate:
            self._platt.learn(_calibration_input(z), bool(clicked))
        self._step(x, z, bool(clicked))
        self._n_seen += 1
        self._n_clicks += int(bool(clicked))

    def _update_moments(self, features: Mapping[str, float]) -> None:
        """Feed each finite numeric feature (``log1p``-ed if heavy-tailed) to its moments;
        ``position`` and ``cross_domain`` are one-hot, not standardised."""
        all_moments = self._moments
        for name, value in features.items():
            if name in _CATEGORICAL_NUMERIC or not math.isfinite(value):
                continue
            moments = all_moments.get(name)
            if moments is None:
                moments = all_moments[name] = _RunningMoments(name)
            if moments.log_scaled:
                value = math.copysign(math.log1p(abs(value)), value)
            moments.update(float(value))

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

"""CtrModel: calibrated click probabilities learnt online on a stream whose truth is known."""

from __future__ import annotations

import doctest
import math
import pickle
import random
from types import MappingProxyType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import online_models.ctr
from online_models.ctr import CtrModel, expected_calibration_error, reliability_bins
from online_models.scorers import ClickModel
from online_models.types import DOMAINS, Context, Domain, ItemInfo

Impression = tuple[str, ItemInfo, Context, dict[str, float], float, bool]

# True per-domain base logits: course items are clicked far more than fashion items.
DOMAIN_LOGIT: dict[Domain, float] = {
    "course": -1.6,
    "restaurant_deal": -2.6,
    "fresh_food": -3.0,
    "food_delivery": -2.8,
    "fashion": -4.0,
}


def synthetic_stream(n: int, seed: int, n_items: int = 300) -> list[Impression]:
    """Impressions with a known click probability (a logistic function of the features).

    The truth mixes a per-domain rate, a per-item quality, a segment x domain taste, a
    position penalty, a cross-domain bonus and one informative numeric feature.
    """
    rng = random.Random(seed)
    items = [
        ItemInfo(
            f"i{i}",
            DOMAINS[i % len(DOMAINS)],
            partner=f"p{i % 11}",
            tags=(f"t{i % 7}", f"t{i % 5 + 7}"),
        )
        for i in range(n_items)
    ]
    quality = {it.item_id: rng.gauss(0.0, 0.5) for it in items}
    taste = [[rng.gauss(0.0, 0.7) for _ in DOMAINS] for _ in range(4)]
    stream: list[Impression] = []
    for t in range(n):
        segment = rng.randrange(4)
        item = items[min(int(rng.expovariate(1 / 60)), n_items - 1)]
        trigger = rng.choice(DOMAINS)
        position = rng.randrange(10)
        z = rng.gauss(0.0, 1.0)
        context = Context(ts=float(t), trigger_domain=trigger, hour=t % 24, segment=segment)
        features = {
            "mf_score": 3.0 * z + 2.0,  # informative, but needs standardising
            "position": float(position),
            "cross_domain": float(trigger != item.domain),
            "popularity": rng.random(),  # pure noise
        }
        logit = (
            DOMAIN_LOGIT[item.domain]
            + quality[item.item_id]
            + taste[segment][DOMAINS.index(item.domain)]
            - 0.12 * position
            + 0.5 * (trigger != item.domain)
            + 0.7 * z
        )
        p_true = 1.0 / (1.0 + math.exp(-logit))
        stream.append((f"u{t % 500}", item, context, features, p_true, rng.random() < p_true))
    return stream


def log_loss(p: float, y: bool) -> float:
    p = min(max(p, 1e-12), 1.0 - 1e-12)
    return -math.log(p if y else 1.0 - p)


def progressive(model: CtrModel, stream: list[Impression]) -> list[float]:
    """Predict, then learn, on every impression (River's progressive validation)."""
    predictions = []
    for user, item, context, features, _, clicked in stream:
        predictions.append(model.predict_proba(user, item, context, features))
        model.learn_impression(user, item, context, features, clicked)
    return predictions


@pytest.fixture(scope="module")
def stream() -> list[Impression]:
    return synthetic_stream(30_000, seed=7)


@pytest.fixture(scope="module")
def trained(stream: list[Impression]) -> tuple[CtrModel, list[float]]:
    model = CtrModel(seed=1)
    return model, progressive(model, stream)


def test_satisfies_click_model_protocol() -> None:
    assert isinstance(CtrModel(), ClickModel)


def test_beats_constant_rate_and_is_calibrated(
    stream: list[Impression], trained: tuple[CtrModel, list[float]]
) -> None:
    _, predictions = trained
    half = len(stream) // 2
    labels = [s[5] for s in stream]
    truth = [s[4] for s in stream]
    rate = sum(labels[:half]) / half
    model_ll = sum(map(log_loss, predictions[half:], labels[half:])) / (len(stream) - half)
    constant_ll = sum(log_loss(rate, y) for y in labels[half:]) / (len(stream) - half)
    oracle_ll = sum(map(log_loss, truth[half:], labels[half:])) / (len(stream) - half)
    assert model_ll < 0.93 * constant_ll
    assert model_ll < oracle_ll + 0.02
    assert expected_calibration_error(predictions[half:], labels[half:]) < 0.01
    # Every populated reliability bin with enough mass is close to the diagonal.
    for b in reliability_bins(predictions[half:], labels[half:]):
        if b.count >= 500:
            assert abs(b.mean_predicted - b.observed_rate) < 0.03, b


def test_calibration_layer_fixes_a_biased_start(stream: list[Impression]) -> None:
    """A badly wrong prior (50 % instead of ~6 %) is corrected, and Platt helps doing so."""
    half = len(stream) // 2
    labels = [s[5] for s in stream[:half]]
    eces = {}
    for calibrate in (False, True):
        model = CtrModel(prior_ctr=0.5, calibrate=calibrate, calibration_lr=0.01)
        predictions = progressive(model, stream[:half])
        eces[calibrate] = expected_calibration_error(predictions[-5000:], labels[-5000:])
    assert eces[True] < 0.02
    assert eces[True] <= eces[False] + 0.005


def test_cold_item_gets_its_domain_prior(trained: tuple[CtrModel, list[float]]) -> None:
    model, _ = trained
    context = Context(ts=0.0, trigger_domain="course", hour=12, segment=0)
    features = {"mf_score": 2.0, "position": 3.0, "cross_domain": 1.0, "popularity": 0.5}
    cold_course = ItemInfo("never-seen-1", "course", partner="new-partner", tags=("new",))
    cold_fashion = ItemInfo("never-seen-2", "fashion", partner="new-partner", tags=("new",))
    p_course = model.predict_proba("u1", cold_course, context, features)
    p_fashion = model.predict_proba("u1", cold_fashion, context, features)
    assert 0.0 < p_fashion < p_course < 0.5
    assert CtrModel(prior_ctr=0.04).predict_proba("u1", cold_course, context, {}) == (
        pytest.approx(0.04)
    )


def test_deterministic_and_pickle_round_trip(stream: list[Impression]) -> None:
    first, second = CtrModel(seed=3), CtrModel(seed=3)
    assert progressive(first, stream[:2000]) == progressive(second, stream[:2000])
    restored = pickle.loads(pickle.dumps(first))
    assert progressive(restored, stream[2000:3000]) == progressive(first, stream[2000:3000])


def test_predict_has_no_side_effects_and_does_not_mutate_features(
    trained: tuple[CtrModel, list[float]],
) -> None:
    model, _ = trained
    before = pickle.dumps(model)
    item = ItemInfo("brand-new", "fresh_food", partner="x", tags=("y", "z"))
    context = Context(ts=0.0, trigger_domain="fashion", hour=3, segment=99)
    features = MappingProxyType({"mf_score": 1.0, "unknown_feature": 4.0, "position": 2.0})
    model.predict_proba("u-new", item, context, features)
    model.featurise(item, context, features)
    assert pickle.dumps(model) == before


def test_memory_is_bounded_by_hash_buckets() -> None:
    model = CtrModel(n_buckets=64)
    context = Context(ts=0.0)
    for i in range(2000):
        item = ItemInfo(f"item-{i}", "fashion", partner=f"partner-{i}", tags=(f"tag-{i}",))
        model.learn_impression("u", item, context, {}, clicked=i % 9 == 0)
    assert model.n_weights <= 3 * 64 + 1  # item, partner, tag namespaces + the domain key


@settings(max_examples=60, deadline=None)
@given(
    features=st.dictionaries(
        st.sampled_from(["mf_score", "knn_score", "position", "price", "blend", "other"]),
        st.floats(allow_nan=True, allow_infinity=True),
        max_size=6,
    ),
    clicked=st.booleans(),
    hour=st.none() | st.integers(-100, 100),
)
def test_probabilities_stay_in_unit_interval(
    features: dict[str, float], clicked: bool, hour: int | None
) -> None:
    model = CtrModel()
    item = ItemInfo("a", "restaurant_deal", partner="b", tags=("c",))
    context = Context(ts=0.0, hour=hour, segment=1, trigger_domain="course")
    for _ in range(3):
        model.learn_impression("u", item, context, features, clicked)
        p = model.predict_proba("u", item, context, features)
        assert 0.0 <= p <= 1.0
        assert math.isfinite(p)


def test_forget_user_keeps_predictions(trained: tuple[CtrModel, list[float]]) -> None:
    model = pickle.loads(pickle.dumps(trained[0]))
    item = ItemInfo("i1", "course")
    before = model.predict_proba("u1", item, Context(ts=0.0), {})
    model.forget_user("u1")
    assert model.predict_proba("u1", item, Context(ts=0.0), {}) == before


def test_rejects_invalid_parameters() -> None:
    with pytest.raises(ValueError, match="prior_ctr"):
        CtrModel(prior_ctr=0.0)
    with pytest.raises(ValueError, match="n_bins"):
        reliability_bins([0.5], [True], n_bins=0)


def test_docstring_examples() -> None:
    assert doctest.testmod(online_models.ctr).failed == 0


def _categorical_only(stream: list[Impression]) -> list[Impression]:
    keep = ("position", "cross_domain")
    return [(u, it, c, {k: f[k] for k in keep}, p, y) for u, it, c, f, p, y in stream]


def test_same_math_as_river_logistic_regression(stream: list[Impression]) -> None:
    """Our sparse AdaGrad logistic regression predicts what River's would, step by step."""
    from river import linear_model, optim

    ours = CtrModel(calibrate=False, prior_ctr=0.05, lr=0.05, l2=1e-5)
    river = linear_model.LogisticRegression(
        optimizer=optim.AdaGrad(lr=0.05),
        l2=1e-5,
        intercept_init=math.log(0.05 / 0.95),
        intercept_lr=0.05 * 0.2,
    )
    for user, item, context, features, _, clicked in _categorical_only(stream[:3000]):
        x = ours.featurise(item, context, features)
        expected = river.predict_proba_one(x)[True]  # type: ignore[no-untyped-call]
        assert ours.predict_proba(user, item, context, features) == pytest.approx(
            expected, rel=1e-9, abs=1e-12
        )
        ours.learn_impression(user, item, context, features, clicked)
        river.learn_one(x, clicked)
    assert ours.n_weights == len(river.weights)


def test_fast_prediction_equals_the_feature_dict_path(
    stream: list[Impression], trained: tuple[CtrModel, list[float]]
) -> None:
    """predict_proba skips building the feature dict; it must score exactly that dict."""
    model, _ = trained
    for user, item, context, features, _, _ in stream[:500]:
        x = model.featurise(item, context, {**features, "price": 12.5})
        z = model._intercept + sum(model._weights.get(k, 0.0) * v for k, v in x.items())
        expected = model._platt.predict(online_models.ctr._logit(1.0 / (1.0 + math.exp(-z))))
        got = model.predict_proba(user, item, context, {**features, "price": 12.5})
        assert got == pytest.approx(expected, rel=1e-12)


def test_item_cache_follows_catalogue_changes(trained: tuple[CtrModel, list[float]]) -> None:
    """The same item id with new tags or partner is featurised anew (as a fresh copy does)."""
    model = pickle.loads(pickle.dumps(trained[0]))
    context = Context(ts=0.0, trigger_domain="course", hour=12, segment=0)
    before = ItemInfo("i1", "course", partner="p1", tags=("t1", "t8"))
    after = ItemInfo("i1", "course", partner="p3", tags=("t2", "t3", "t9"))
    p_before = model.predict_proba("u", before, context, {})
    p_after = model.predict_proba("u", after, context, {})
    fresh = pickle.loads(pickle.dumps(model))  # caches are not pickled
    assert p_after == fresh.predict_proba("u", after, context, {})
    assert p_before == fresh.predict_proba("u", before, context, {})
    assert p_before != p_after
    assert set(model.featurise(after, context, {})) == set(fresh.featurise(after, context, {}))


def test_refuses_state_of_the_older_river_layout() -> None:
    model = CtrModel()
    with pytest.raises(ValueError, match="older layout"):
        model.__setstate__({"prior_ctr": 0.05, "_model": object()})


# ---------------------------------------------------------------- the shortlist fast path
SHORTLIST_POOL = [
    ItemInfo(f"i{i}", DOMAINS[i % len(DOMAINS)], partner=f"p{i % 11}", tags=(f"t{i % 7}",))
    for i in range(12)
] + [  # never seen in training: unseen item, partner and tag keys
    ItemInfo("cold-1", "fashion", partner="nobody", tags=("new", "odd")),
    ItemInfo("cold-2", "course"),
]

odd_floats = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from(
    [-1e308, 1e308, -0.0, 0.0, 5e-324, 0.5, 3.0, 1e6]
)


@pytest.fixture(scope="module")
def trained_on_all_columns(stream: list[Impression]) -> CtrModel:
    """A model with moments for every numeric column, the log-scaled ``price`` included."""
    rng = random.Random(3)
    model = CtrModel(seed=1)
    for user, item, context, features, _, clicked in stream[:3000]:
        extra = {
            "knn_score": rng.random(),
            "blend": rng.gauss(0.0, 1.0),
            "price": rng.choice([-1.0, 1.0]) * rng.expovariate(0.02),
        }
        model.learn_impression(user, item, context, {**features, **extra}, clicked)
    model._platt.a, model._platt.b = 0.8, -0.3  # away from the identity: the layer counts
    return model


def _feature_dict_probability(
    model: CtrModel, item: ItemInfo, context: Context, features: dict[str, float]
) -> float:
    """The reference: score the dict :meth:`CtrModel.featurise` builds, the slow way."""
    x = model.featurise(item, context, features)
    z = model._intercept + sum(model._weights.get(k, 0.0) * v for k, v in x.items())
    raw = online_models.ctr._river_sigmoid(z)
    return model._platt.predict(online_models.ctr._logit(raw)) if model.calibrate else raw


@settings(max_examples=120, deadline=None)
@given(
    data=st.data(),
    n=st.integers(1, 8),
    intercept_shift=st.sampled_from([0.0, -45.0, -20.0, -13.0, 13.0, 14.0, 20.0, 45.0]),
    calibrate=st.booleans(),
    canonical_positions=st.booleans(),
    segment=st.none() | st.integers(0, 5),
    hour=st.none() | st.integers(-30, 30),
    trigger=st.none() | st.sampled_from(DOMAINS),
)
def test_shortlist_scores_the_feature_dict_on_hostile_inputs(
    trained_on_all_columns: CtrModel,
    data: st.DataObject,
    n: int,
    intercept_shift: float,
    calibrate: bool,
    canonical_positions: bool,
    segment: int | None,
    hour: int | None,
    trigger: Domain | None,
) -> None:
    """NaN / inf / huge features, odd positions, unseen keys, clipped and saturated logits:
    the shortlist path gives what the feature dict gives (to 1e-12) and the one-item path
    gives exactly what the shortlist gives."""
    model = pickle.loads(pickle.dumps(trained_on_all_columns))
    model._intercept += intercept_shift
    model.calibrate = calibrate
    items = data.draw(st.lists(st.sampled_from(SHORTLIST_POOL), min_size=n, max_size=n))
    columns: dict[str, list[float]] = {
        name: data.draw(st.lists(odd_floats, min_size=n, max_size=n))
        for name in ("mf_score", "knn_score", "popularity", "blend", "price", "cross_domain")
    }
    columns["position"] = (
        [float(j) for j in range(n)]
        if canonical_positions
        else data.draw(
            st.lists(odd_floats | st.integers(-3, 15).map(float), min_size=n, max_size=n)
        )
    )
    context = Context(ts=0.0, trigger_domain=trigger, segment=segment, hour=hour)
    many = model.predict_proba_many("u", items, context, columns)
    for j, item in enumerate(items):
        features = {name: column[j] for name, column in columns.items()}
        expected = _feature_dict_probability(model, item, context, features)
        assert many[j] == pytest.approx(expected, rel=1e-12, abs=0.0), (j, features)
        assert model.predict_proba("u", item, context, features) == many[j]


def test_shortlist_accepts_tuples_and_arrays_alike(trained_on_all_columns: CtrModel) -> None:
    """The position fast path (a list 0, 1, ...) and the general path agree exactly."""
    np = pytest.importorskip("numpy")
    model = trained_on_all_columns
    items = SHORTLIST_POOL * 2  # longer than max_position: positions past it share a key
    rng = random.Random(5)
    columns = {
        "mf_score": [rng.gauss(2.0, 3.0) for _ in items],
        "price": [rng.expovariate(0.05) for _ in items],
        "position": [float(j) for j in range(len(items))],
        "cross_domain": [float(j % 2) for j in range(len(items))],
    }
    context = Context(ts=0.0, trigger_domain="course", segment=1, hour=8)
    as_lists = model.predict_proba_many("u", items, context, columns)
    as_tuples = model.predict_proba_many(
        "u", items, context, {k: tuple(v) for k, v in columns.items()}
    )
    as_arrays = model.predict_proba_many(
        "u", items, context, {k: np.asarray(v) for k, v in columns.items()}
    )
    assert as_lists == as_tuples == as_arrays
    assert len(set(as_lists)) > 1


def test_calibration_input_is_the_clipped_round_trip() -> None:
    """``_logit(_river_sigmoid(z))`` is ``z`` inside the clip range, the bound outside it."""
    calibration_input = online_models.ctr._calibration_input

    def round_trip(z: float) -> float:
        return online_models.ctr._logit(online_models.ctr._river_sigmoid(z))

    for z in (-1e9, -45.0, -30.5, -20.0, -13.9, -13.8, -5.0, 0.0, 1e-300, 3.0, 13.8, 13.9, 31.0):
        assert calibration_input(z) == pytest.approx(round_trip(z), rel=1e-9, abs=1e-15), z
    assert calibration_input(-20.0) == round_trip(-20.0)
    assert calibration_input(45.0) == round_trip(45.0)
    assert math.isnan(calibration_input(math.nan))
    assert math.isnan(round_trip(math.nan))


def test_shortlist_rejects_a_column_of_the_wrong_length(trained_on_all_columns: CtrModel) -> None:
    items = SHORTLIST_POOL[:3]
    with pytest.raises(ValueError, match=r"shorter|longer"):
        trained_on_all_columns.predict_proba_many(
            "u", items, Context(ts=0.0), {"mf_score": [0.1, 0.2]}
        )

"""The online blend (softmax choice model) and its use inside the recommender."""

from __future__ import annotations

import pickle

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from online_models.blend_learner import OnlineBlend
from online_models.recommender import CrossDomainRecommender
from online_models.types import Context, Interaction, ItemInfo


def test_learns_the_feature_that_marks_the_chosen_candidate() -> None:
    rng = np.random.default_rng(0)
    blend = OnlineBlend({"signal": 0.0, "noise": 0.0})
    for _ in range(300):
        signal, noise = rng.random(20), rng.random(20)
        blend.learn({"signal": signal, "noise": noise}, positive=int(np.argmax(signal)))
    w = blend.weights
    assert w["signal"] > 1.0
    assert abs(w["noise"]) < w["signal"] / 4
    assert blend.n_learnt == 300


def test_learning_lowers_the_loss_of_a_repeated_choice() -> None:
    feats = {"a": np.array([0.2, 0.9, 0.1]), "b": np.array([1.0, 0.0, 0.5])}
    blend = OnlineBlend({"a": 0.0, "b": 1.0})
    before = blend.log_loss(feats, 1)
    for _ in range(10):
        blend.learn(feats, 1)
    assert blend.log_loss(feats, 1) < before


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.floats(-1e3, 1e3), min_size=1, max_size=30),
    st.integers(-5, 40),
)
def test_weights_stay_finite_and_bounded(values: list[float], positive: int) -> None:
    blend = OnlineBlend({"x": 0.5}, learning_rate=10.0, max_abs_weight=3.0)
    feats = {"x": np.array(values)}
    blend.learn(feats, positive)
    w = blend.weights["x"]
    assert np.isfinite(w) and abs(w) <= 3.0
    if not 0 <= positive < len(values) or len(values) < 2:
        assert blend.n_learnt == 0 and w == 0.5  # nothing to learn from


def test_score_is_pure_and_the_blend_pickles() -> None:
    blend = OnlineBlend({"a": 1.0, "b": -0.5})
    feats = {"a": np.array([1.0, 2.0]), "b": np.array([4.0, 0.0])}
    first = blend.score(feats).tolist()
    assert blend.score(feats).tolist() == first == [-1.0, 2.0]
    copy = pickle.loads(pickle.dumps(blend))
    assert copy.weights == blend.weights


def _stream(rec: CrossDomainRecommender, n_events: int) -> None:
    """Users who always pick the most popular unseen item: the blend must favour popularity."""
    for i in range(30):
        rec.upsert_item(ItemInfo(f"c{i}", "course"))
    rng = np.random.default_rng(1)
    ts = 0.0
    for _ in range(n_events):
        ts += 1.0
        user = f"u{int(rng.integers(0, 200))}"
        item = f"c{min(29, int(rng.exponential(3.0)))}"
        rec.learn(Interaction(user, item, "click", ts))


def test_recommender_learns_its_blend_from_the_stream_and_stays_deterministic() -> None:
    learnt = CrossDomainRecommender(seed=3)
    fixed = CrossDomainRecommender(seed=3, learn_blend=False)
    _stream(learnt, 1500)
    _stream(fixed, 1500)
    assert learnt.blend.n_learnt > 100
    assert fixed.blend.n_learnt == 0
    w = learnt.blend.weights
    assert w["pop"] + w["log_pop"] > 0.15  # popularity decides this stream: it gained weight
    ctx = Context(ts=2000.0)
    once = learnt.recommend("u1", 5, ctx)
    assert learnt.recommend("u1", 5, ctx) == once
    assert learnt.blend.weights == w  # recommend does not train
    again = pickle.loads(pickle.dumps(learnt))
    assert again.recommend("u1", 5, ctx) == once

"""One contract, every model: the checks River runs over all its estimators, for ours."""

from __future__ import annotations

import pickle
from collections.abc import Callable
from typing import Any

import pytest

from online_models.item_knn import ItemKNN
from online_models.matrix_factorisation import MatrixFactorisation
from online_models.popularity import Popularity
from online_models.recommender import CrossDomainRecommender
from online_models.types import DOMAINS, Context, Interaction, InteractionKind, ItemInfo

FACTORIES: dict[str, Callable[[int], Any]] = {
    "mf": lambda seed: MatrixFactorisation(n_factors=8, seed=seed),
    "mf_popularity_negatives": lambda seed: MatrixFactorisation(
        n_factors=8, negative_sampling="popularity", seed=seed
    ),
    "item_knn": lambda seed: ItemKNN(history_size=5, n_neighbours=4, seed=seed),
    "popularity": lambda seed: Popularity(seed=seed),
    "recommender": lambda seed: CrossDomainRecommender(n_factors=8, seed=seed),
}

ITEMS = [
    ItemInfo(f"{d}-{i}", d, partner=None if d == "course" else "p1", active=(i != 3))
    for d in DOMAINS
    for i in range(6)
]
KINDS: tuple[InteractionKind, ...] = ("click", "course_purchase", "partner_order")


def stream(n: int = 300) -> list[Interaction]:
    out = []
    for t in range(n):
        item = ITEMS[(t * 7 + (t // 5) * 3) % len(ITEMS)]
        kind: InteractionKind = (
            "course_purchase" if item.domain == "course" and t % 4 == 0 else KINDS[t % 2]
        )
        if kind == "course_purchase" and item.domain != "course":
            kind = "partner_order"
        out.append(Interaction(f"u{t % 13}", item.item_id, kind, float(t * 60)))
    return out


def trained(name: str, seed: int = 0) -> Any:
    model = FACTORIES[name](seed)
    for item in ITEMS:
        model.upsert_item(item)
    for it in stream():
        assert model.learn(it) is None
    return model


CTX = Context(ts=1e6, exclude=frozenset({"course-1"}))
USERS = ["u0", "u5", "u12"]


@pytest.fixture(params=sorted(FACTORIES))
def name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def ids(model: Any, user: str, k: int = 5, ctx: Context = CTX) -> list[tuple[str, float, str]]:
    return [(s.item_id, round(s.score, 6), s.reason) for s in model.recommend(user, k, ctx)]


def test_pickle_round_trip_gives_identical_recommendations(name: str) -> None:
    model = trained(name)
    clone = pickle.loads(pickle.dumps(model))
    for user in [*USERS, "stranger"]:
        assert ids(clone, user) == ids(model, user)
    # ... and they keep learning identically.
    extra = Interaction("u0", "fashion-2", "click", 1e6)
    model.learn(extra)
    clone.learn(extra)
    assert ids(clone, "u0") == ids(model, "u0")


def test_same_seed_same_result(name: str) -> None:
    a, b = trained(name, seed=7), trained(name, seed=7)
    assert pickle.dumps(a) == pickle.dumps(b)
    for user in USERS:
        assert ids(a, user) == ids(b, user)


def test_recommend_changes_no_state_and_does_not_mutate_inputs(name: str) -> None:
    model = trained(name)
    before = pickle.dumps(model)
    ctx = Context(ts=5.0, trigger_domain="course", exclude=frozenset({"fresh_food-0"}))
    ctx_copy = pickle.loads(pickle.dumps(ctx))
    for user in [*USERS, "stranger"]:
        model.recommend(user, 7, ctx)
    assert pickle.dumps(model) == before
    assert ctx == ctx_copy


def test_unknown_user_and_item_do_not_grow_the_model(name: str) -> None:
    model = trained(name)
    before = pickle.dumps(model)
    model.recommend("nobody-knows-me", 5, CTX)
    assert not model.knows_user("nobody-knows-me")
    if hasattr(model, "predict_rating"):
        model.predict_rating("nobody-knows-me", "no-such-item")
    assert "no-such-item" not in model.catalogue
    assert pickle.dumps(model) == before


@pytest.mark.parametrize("k", [0, 1, 3, 10, 100])
def test_at_most_k_distinct_active_catalogue_items(name: str, k: int) -> None:
    model = trained(name)
    for user in [*USERS, "stranger"]:
        recs = model.recommend(user, k, CTX)
        got = [s.item_id for s in recs]
        assert len(got) <= k
        assert len(set(got)) == len(got)
        for s in recs:
            item = model.catalogue.get(s.item_id)
            assert item is not None
            assert item.active
            assert s.item_id not in CTX.exclude
            assert 0.0 <= s.p_click <= 1.0
            assert s.reason


def test_forget_user_removes_the_user(name: str) -> None:
    model = trained(name)
    model.forget_user("u0")
    assert not model.knows_user("u0")
    fresh = trained(name)
    # Forgetting makes the user indistinguishable from a stranger.
    assert ids(model, "u0") == ids(fresh, "stranger")


def test_learn_on_unknown_item_without_domain_is_ignored(name: str) -> None:
    model = trained(name)
    before = len(model.catalogue)
    model.learn(Interaction("u0", "mystery", "click", 0.0))
    assert "mystery" not in model.catalogue
    assert len(model.catalogue) == before
    model.learn(Interaction("u0", "new-course", "click", 0.0, domain="course"))
    assert "new-course" in model.catalogue

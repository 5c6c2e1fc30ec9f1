"""Explorer: new items get shown quickly, click-less items stop being favoured, all pure."""

from __future__ import annotations

import doctest
import pickle
import random
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import online_models.exploration
from online_models.exploration import Explorer
from online_models.scorers import CandidateSource, ClickModel, Reranker
from online_models.types import DOMAINS, Context, ItemInfo


def catalogue(n: int) -> list[ItemInfo]:
    return [ItemInfo(f"i{i}", DOMAINS[i % len(DOMAINS)], tags=(f"t{i % 4}",)) for i in range(n)]


def serve(
    explorer: Explorer, step: int, k: int, click_rate: dict[str, float], rng: random.Random
) -> list[str]:
    """One request: show the explorer's picks, then report each impression's label."""
    shown = [
        item_id for item_id, _, _ in explorer.candidates(f"u{step % 7}", k, Context(ts=float(step)))
    ]
    for item_id in shown:
        explorer.update(item_id, rng.random() < click_rate.get(item_id, 0.0))
    return shown


def test_satisfies_protocols() -> None:
    explorer = Explorer()
    assert isinstance(explorer, CandidateSource)
    assert isinstance(explorer, Reranker)
    assert isinstance(explorer, ClickModel) is False  # no predict_proba: not a click model


def test_never_shown_item_gets_impressions_quickly() -> None:
    explorer = Explorer(seed=3, max_impressions=1_000)
    rng = random.Random(0)
    for item in catalogue(200):
        explorer.upsert_item(item)
    for step in range(300):  # the existing pool has been explored for a while
        serve(explorer, step, 3, {}, rng)
    newcomer = ItemInfo("fresh-offer", "restaurant_deal")
    explorer.upsert_item(newcomer)
    first_shown = next(
        (step for step in range(300, 340) if "fresh-offer" in serve(explorer, step, 3, {}, rng)),
        None,
    )
    assert first_shown is not None, "a never-shown item was not explored within 40 requests"


def test_stops_favouring_items_that_never_get_clicks() -> None:
    explorer = Explorer(seed=1, max_impressions=10_000)
    for item in catalogue(10):
        explorer.upsert_item(item)
    click_rate = {"i3": 0.3, "i7": 0.25}  # every other item is never clicked
    rng = random.Random(2)
    shown: Counter[str] = Counter()
    for step in range(600):
        picks = serve(explorer, step, 1, click_rate, rng)
        if step >= 300:
            shown.update(picks)
    assert shown["i3"] + shown["i7"] > 0.8 * 300
    mean_dud = explorer.posterior_mean("i0")
    assert mean_dud is not None
    assert mean_dud < 0.1


def test_items_graduate_after_max_impressions() -> None:
    explorer = Explorer(seed=0, max_impressions=5)
    explorer.upsert_item(ItemInfo("a", "fashion"))
    for _ in range(5):
        explorer.update("a", clicked=False)
    assert explorer.impressions("a") is None
    assert explorer.candidates("u", 5, Context(ts=0.0)) == []
    explorer.upsert_item(ItemInfo("a", "fashion", price=9.0))  # catalogue update
    assert explorer.n_tracked == 0


def test_candidates_respect_exclude_inactive_and_k() -> None:
    explorer = Explorer(seed=0)
    for item in catalogue(6):
        explorer.upsert_item(item)
    explorer.upsert_item(ItemInfo("i5", "fashion", active=False))
    picks = explorer.candidates("u", 10, Context(ts=1.0, exclude=frozenset({"i0"})))
    ids = [item_id for item_id, _, _ in picks]
    assert sorted(ids) == ["i1", "i2", "i3", "i4"]
    assert all(0.0 <= score <= 1.0 for _, score, _ in picks)
    assert [s for _, s, _ in picks] == sorted((s for _, s, _ in picks), reverse=True)
    assert picks[0][2].startswith("new in ")
    assert picks[0][2].endswith("give it a try")
    assert len(explorer.candidates("u", 2, Context(ts=1.0))) == 2
    assert explorer.candidates("u", 0, Context(ts=1.0)) == []


def test_memory_is_bounded() -> None:
    explorer = Explorer(pool_size=50, max_graduated=10, max_impressions=1)
    for item in catalogue(500):
        explorer.upsert_item(item)
        explorer.update(item.item_id, clicked=False)
    assert explorer.n_tracked == 0
    assert len(explorer._graduated) == 10
    for item in catalogue(500):
        explorer.upsert_item(ItemInfo("x" + item.item_id, item.domain))
    assert explorer.n_tracked == 50


def test_rerank_swaps_in_under_exposed_items_from_ranked_only() -> None:
    explorer = Explorer(seed=4, explore_slots=2)
    explorer.upsert_item(ItemInfo("new1", "fresh_food"))
    explorer.upsert_item(ItemInfo("new2", "fashion"))
    explorer.upsert_item(ItemInfo("not-ranked", "fashion"))
    ranked = [(f"old{i}", 1.0 - i / 10) for i in range(6)] + [("new1", 0.1), ("new2", 0.05)]
    context = Context(ts=5.0)
    result = explorer.rerank("u", ranked, 4, context)
    assert len(result) == 4
    assert len(set(result)) == 4
    assert result[0] == "old0"  # the best item keeps the first slot
    assert {"new1", "new2"} <= set(result)
    assert "not-ranked" not in result
    assert explorer.rerank("u", ranked, 4, context) == result  # repeatable
    assert explorer.rerank("u", ranked[:3], 4, context) == ["old0", "old1", "old2"]
    assert explorer.rerank("u", ranked, 1, context) == ["old0"]


def test_deterministic_pure_and_pickle_round_trip() -> None:
    def run(explorer: Explorer) -> list[list[str]]:
        rng = random.Random(9)
        return [serve(explorer, step, 3, {"i2": 0.5}, rng) for step in range(100)]

    first, second = Explorer(seed=11), Explorer(seed=11)
    for item in catalogue(30):
        first.upsert_item(item)
        second.upsert_item(item)
    assert run(first) == run(second)
    before = pickle.dumps(first)
    context = Context(ts=123.0)
    a = first.candidates("u", 5, context)
    first.rerank("u", [(f"i{i}", 1.0) for i in range(30)], 5, context)
    assert pickle.dumps(first) == before
    assert first.candidates("u", 5, context) == a
    assert first.candidates("v", 5, context) != a or first.candidates("u", 5, Context(ts=1.0)) != a
    restored = pickle.loads(before)
    assert restored.candidates("u", 5, context) == a
    assert Explorer(seed=12).candidates("u", 5, context) == []


def test_forget_user_is_a_no_op() -> None:
    explorer = Explorer(seed=0)
    explorer.upsert_item(ItemInfo("a", "course"))
    before = pickle.dumps(explorer)
    explorer.forget_user("u")
    assert pickle.dumps(explorer) == before


@settings(max_examples=50, deadline=None)
@given(
    k=st.integers(0, 12),
    n_items=st.integers(0, 15),
    labels=st.lists(st.tuples(st.integers(0, 20), st.booleans()), max_size=60),
    ts=st.floats(allow_nan=False),
)
def test_candidates_are_valid_for_any_history(
    k: int, n_items: int, labels: list[tuple[int, bool]], ts: float
) -> None:
    explorer = Explorer(seed=0, max_impressions=4)
    for item in catalogue(n_items):
        explorer.upsert_item(item)
    for index, clicked in labels:
        explorer.update(f"i{index}", clicked)
    picks = explorer.candidates("u", k, Context(ts=ts))
    ids = [item_id for item_id, _, _ in picks]
    assert len(ids) == len(set(ids)) <= k
    assert all(explorer.impressions(item_id) is not None for item_id in ids)
    assert all(0.0 <= score <= 1.0 for _, score, _ in picks)


def test_rejects_invalid_parameters() -> None:
    with pytest.raises(ValueError, match="max_impressions"):
        Explorer(max_impressions=0)


def test_docstring_examples() -> None:
    assert doctest.testmod(online_models.exploration, optionflags=doctest.ELLIPSIS).failed == 0

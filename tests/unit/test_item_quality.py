"""ItemQuality: per-item click rate corrected for position, shrunk to the domain; and the
full ranker ranking by it."""

from __future__ import annotations

import pickle
import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from online_models.full_ranker import FullRanker
from online_models.item_quality import ItemQuality
from online_models.types import Context, Interaction, ItemInfo, LabelledImpression

DOM = np.zeros(1, dtype=np.int8)


def score(model: ItemQuality, row: int, domain: int = 0) -> float:
    return float(model.scores(np.array([row]), np.array([domain], dtype=np.int8))[0])


def rate(model: ItemQuality, row: int, domain: int = 0) -> float:
    return float(model.rates(np.array([row]), np.array([domain], dtype=np.int8))[0])


def test_often_clicked_item_scores_above_rarely_clicked_one() -> None:
    model = ItemQuality()
    rng = random.Random(0)
    for _ in range(400):
        model.learn(0, 0, rng.randrange(10), rng.random() < 0.20)
        model.learn(1, 0, rng.randrange(10), rng.random() < 0.05)
    assert score(model, 0) > 0.5 > score(model, 1)
    assert rate(model, 0) / rate(model, 1) > 2.0


def test_position_is_corrected_for() -> None:
    """Same true quality, shown at different positions: the raw click rates differ 4x, the
    relative rates agree (both close to average)."""
    model = ItemQuality(prior_impressions=5)
    rng = random.Random(1)
    for _ in range(3000):
        model.learn(0, 0, 0, rng.random() < 0.20)  # always first, where clicks are frequent
        model.learn(1, 0, 9, rng.random() < 0.05)  # always tenth
    assert rate(model, 0) == pytest.approx(1.0, abs=0.15)
    assert rate(model, 1) == pytest.approx(1.0, abs=0.15)


def test_taste_is_corrected_for() -> None:
    """Two items of equal quality; one is shown only to users who love its theme (and who
    click a lot whatever the item), the other only to indifferent users. Credited with
    their taste bin's click rate, both are average; credited with the position only, the
    first looks 4x better than the second."""
    with_taste, without = ItemQuality(prior_impressions=5), ItemQuality(prior_impressions=5)
    rng = random.Random(3)
    for _ in range(3000):
        for model, known in ((with_taste, True), (without, False)):
            model.learn(0, 0, 2, rng.random() < 0.20, 0.9 if known else None)
            model.learn(1, 0, 2, rng.random() < 0.05, 0.1 if known else None)
    assert rate(with_taste, 0) == pytest.approx(1.0, abs=0.15)
    assert rate(with_taste, 1) == pytest.approx(1.0, abs=0.15)
    assert rate(without, 0) > 2.5 * rate(without, 1)


def test_little_data_is_shrunk_towards_the_domain() -> None:
    model = ItemQuality(prior_impressions=20)
    rng = random.Random(2)
    for _ in range(2000):  # the domain's items in general: an average click rate
        model.learn(rng.randrange(10, 50), 0, 0, rng.random() < 0.1)
    for _ in range(2):  # row 0: two impressions, both clicked (raw relative rate ~10)
        model.learn(0, 0, 0, True)
    domain = float(model.domain_rates()[0])
    raw = 2 / (2 * model.mean_ctr())  # two clicks over the clicks two impressions predict
    assert domain < rate(model, 0) < raw  # two clicks do not make a star:
    assert rate(model, 0) - domain < raw - rate(model, 0)  # nearer the domain than the raw
    for _ in range(200):  # row 1: the same perfect record over 200 impressions
        model.learn(1, 0, 0, True)
    assert rate(model, 0) < rate(model, 1)


def test_unseen_items_get_their_domains_rate() -> None:
    model = ItemQuality()
    for row in range(20):
        for _ in range(50):
            model.learn(row, 1, 0, True)  # domain 1 is clicked a lot
            model.learn(100 + row, 2, 0, False)  # domain 2 never
    domains = np.array([1, 2], dtype=np.int8)
    unseen = model.rates(np.array([5000, 5001]), domains)  # rows beyond anything learnt
    assert unseen.tolist() == pytest.approx(model.domain_rates()[[1, 2]].tolist())
    assert unseen[0] > 1.0 > unseen[1]


def test_memory_halves_counts_so_the_estimate_follows_a_change() -> None:
    model = ItemQuality(memory=20.0, prior_impressions=5)
    for _ in range(3000):
        model.learn(0, 0, 0, True)
        model.learn(1, 0, 0, False)
    good = rate(model, 0)
    for _ in range(3000):  # row 0 turns bad
        model.learn(0, 0, 0, False)
        model.learn(1, 0, 0, False)
    assert rate(model, 0) < 0.5 * good
    assert model._expected.max() <= 20.0 + 1.0


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 30), st.integers(0, 4), st.integers(-3, 40), st.booleans()),
        max_size=200,
    )
)
def test_scores_stay_in_unit_interval(labels: list[tuple[int, int, int, bool]]) -> None:
    model = ItemQuality()
    for row, domain, position, clicked in labels:
        model.learn(row, domain, position, clicked)
    rows = np.arange(-1, 40)
    out = model.scores(rows, np.zeros(rows.shape[0], dtype=np.int8))
    assert out.shape == rows.shape
    assert np.all((out >= 0.0) & (out <= 1.0))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"prior_impressions": 0},
        {"span": 1.0},
        {"max_position": -1},
        {"memory": 0},
        {"prior_ctr": 1.0},
    ],
)
def test_invalid_parameters_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="must be"):
        ItemQuality(**kwargs)  # type: ignore[arg-type]


# ---------------------------------------------------------------- inside the full ranker
ITEMS = [ItemInfo(f"f{i}", "fresh_food", tags=("cooking",)) for i in range(6)]


def ranker_with_labels(w_quality: float = 1.0) -> FullRanker:
    """Six look-alike items (same domain, tags, popularity); labels say f5 gets clicked
    and f0 never, whatever position they were shown at."""
    ranker = FullRanker(n_factors=4, explore=False, w_quality=w_quality, seed=0)
    for item in ITEMS:
        ranker.upsert_item(item)
    for u in range(12):
        for item in ITEMS:
            ranker.learn(Interaction(f"p:{u}", item.item_id, "click", ts=float(u)))
    rng = random.Random(0)
    for step in range(300):
        order = rng.sample(ITEMS, len(ITEMS))
        shown = [
            LabelledImpression(
                item.item_id,
                Context(ts=100.0 + step),
                item.item_id == "f5" or (item.item_id != "f0" and rng.random() < 0.1),
                position,
            )
            for position, item in enumerate(order)
        ]
        ranker.learn_impressions(f"p:{step % 12}", shown)
    return ranker


def test_full_ranker_learns_quality_from_labelled_impressions() -> None:
    ranker = ranker_with_labels()
    rec = ranker.recommender
    found = rec.candidates("p:0", 6, Context(ts=1000.0))
    assert found is not None
    rows, feats, _ = found
    quality = dict(zip((rec.catalogue.id_at(int(r)) for r in rows), feats["quality"], strict=True))
    assert quality["f5"] > 0.5 > quality["f0"]
    assert max(quality, key=quality.__getitem__) == "f5"
    assert min(quality, key=quality.__getitem__) == "f0"


def test_quality_moves_the_blend_only_with_a_weight() -> None:
    on = ranker_with_labels(w_quality=1.0).recommender
    off = ranker_with_labels(w_quality=0.0).recommender
    ctx = Context(ts=1000.0)
    found_on, found_off = on.candidates("p:0", 6, ctx), off.candidates("p:0", 6, ctx)
    assert found_on is not None and found_off is not None
    assert "quality" not in found_off.feats
    diff = on.blend_scores(found_on.feats) - off.blend_scores(found_off.feats)
    assert np.allclose(diff, found_on.feats["quality"])


def test_full_ranker_with_quality_pickles_and_recommends_the_same() -> None:
    ranker = ranker_with_labels()
    clone = pickle.loads(pickle.dumps(ranker))
    ctx = Context(ts=1000.0)
    assert [s.item_id for s in clone.recommend("p:3", 4, ctx)] == [
        s.item_id for s in ranker.recommend("p:3", 4, ctx)
    ]
    assert clone.quality.n_seen == ranker.quality.n_seen > 0

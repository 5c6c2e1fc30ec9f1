"""The fast paths of the recommend hot path give the same answers as the plain ones."""

from __future__ import annotations

import pickle

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from online_models.catalogue import DOMAIN_CODE
from online_models.ctr import CtrModel
from online_models.popularity import Popularity
from online_models.retrieval import top_k
from online_models.types import DOMAINS, Context, Interaction, ItemInfo


def _brute_top_values(
    scores: np.ndarray, k: int, mask: np.ndarray, excluded: list[int]
) -> list[float]:
    allowed = scores.astype(np.float64).copy()
    allowed[~mask] = -np.inf
    allowed[excluded] = -np.inf
    finite = np.sort(allowed[np.isfinite(allowed)])[::-1]
    out: list[float] = finite[:k].tolist()
    return out


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(2_000, 6_000),
    k=st.integers(1, 60),
    seed=st.integers(0, 2**32 - 1),
    inactive_share=st.floats(0.0, 0.99),
    n_excluded=st.integers(0, 300),
    ties=st.booleans(),
)
def test_sampled_top_k_equals_exact_top_k(
    n: int, k: int, seed: int, inactive_share: float, n_excluded: int, ties: bool
) -> None:
    rng = np.random.default_rng(seed)
    scores = rng.normal(size=n).astype(np.float32)
    if ties:
        scores = np.round(scores, 1)
    mask = rng.random(n) >= inactive_share
    excluded = rng.integers(0, n, n_excluded).tolist()
    rows = top_k(scores, k, mask=mask, exclude_rows=excluded)
    assert len(set(rows.tolist())) == rows.shape[0]
    assert all(mask[r] and r not in excluded for r in rows.tolist())
    assert scores[rows].astype(np.float64).tolist() == _brute_top_values(scores, k, mask, excluded)


def _trained_popularity(n_items: int, n_events: int, seed: int) -> Popularity:
    rng = np.random.default_rng(seed)
    pop = Popularity(half_life=3600.0)
    for i in range(n_items):
        active = bool(rng.random() > 0.2)
        pop.upsert_item(ItemInfo(f"i{i}", DOMAINS[i % len(DOMAINS)], active=active))
    pop.top_rows(5)  # build the leaderboard early, so learning has to maintain it
    for step in range(n_events):
        item = int((rng.zipf(1.2) - 1) % n_items)
        weight = 1.0 if step % 3 else 3.0
        pop.learn(
            Interaction("u", f"i{item}", "click", float(step // 4), weight=weight)
        )  # many equal times
    return pop


def _brute_top_rows(pop: Popularity, k: int, domain: str | None, excluded: list[int]) -> list[int]:
    n = len(pop.catalogue)
    values = pop._long[:n]
    ok = (values > 0) & pop.catalogue.active
    if domain is not None:
        ok &= pop.catalogue.domain_codes == DOMAIN_CODE[domain]  # type: ignore[index]
    ok[excluded] = False
    rows = np.flatnonzero(ok)
    return sorted(rows.tolist(), key=lambda r: (-values[r], r))[:k]


def test_popularity_leaderboard_equals_a_full_scan() -> None:
    for n_items, n_events in [(300, 2_000), (5_000, 30_000)]:
        pop = _trained_popularity(n_items, n_events, seed=n_items)
        rng = np.random.default_rng(1)
        for k in (1, 10, 200, 2_000):
            for domain in (None, "course", "fashion"):
                excluded = rng.integers(0, n_items, 40).tolist()
                got = pop.top_rows(k, domain=domain, exclude_rows=excluded).tolist()
                assert got == _brute_top_rows(pop, k, domain, excluded)


def test_popularity_leaderboard_survives_pickling() -> None:
    pop = _trained_popularity(3_000, 20_000, seed=3)
    before = pop.top_rows(200).tolist()
    back = pickle.loads(pickle.dumps(pop))
    assert back.top_rows(200).tolist() == before
    event = Interaction("u", "i7", "click", 10_000.0)
    pop.learn(event)
    back.learn(event)
    assert back.top_rows(200).tolist() == pop.top_rows(200).tolist()


def test_batch_ctr_prediction_equals_one_by_one() -> None:
    rng = np.random.default_rng(0)
    model = CtrModel(seed=0)
    items = [
        ItemInfo(f"x{i}", DOMAINS[i % 5], partner=f"p{i % 3}", tags=(f"t{i % 7}",), price=i)
        for i in range(30)
    ]
    for step in range(2_000):
        item = items[int(rng.integers(0, len(items)))]
        ctx = Context(ts=float(step), trigger_domain=DOMAINS[step % 5], segment=step % 3)
        feats = {"mf_score": float(rng.normal()), "position": float(step % 12), "price": 3.0}
        model.learn_impression("u", item, ctx, feats, clicked=bool(rng.random() < 0.2))
    ctx = Context(ts=1.0, trigger_domain="course", segment=1, hour=19)
    columns = {
        "mf_score": rng.normal(size=len(items)).tolist(),
        "knn_score": [0.0] * len(items),
        "popularity": rng.random(len(items)).tolist(),
        "blend": rng.random(len(items)).tolist(),
        "position": [float(j) for j in range(len(items))],
        "cross_domain": [float(it.domain != "course") for it in items],
        "price": [it.price for it in items],
    }
    many = model.predict_proba_many("u", items, ctx, columns)
    one_by_one = [
        model.predict_proba("u", item, ctx, {name: col[j] for name, col in columns.items()})
        for j, item in enumerate(items)
    ]
    assert many == one_by_one

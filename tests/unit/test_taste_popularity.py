"""Taste x popularity in the blend: content similarity of *every* candidate plus log popularity.

The content source scores only the items it reaches itself; its picks'
``SourcePicks.similarity`` scores any items (by the source's rows) against the same profile,
so a popular candidate found by the popularity pool gets a taste score too, and
``CrossDomainRecommender(w_taste=..., w_log_pop=...)`` ranks "popular among what you like".
"""

from __future__ import annotations

import numpy as np

from online_models.content import ContentSimilarity
from online_models.recommender import CrossDomainRecommender
from online_models.types import Context, Interaction, ItemInfo

COOKING = [ItemInfo(f"cook-{i}", "fresh_food", tags=("cooking", f"dish{i}")) for i in range(6)]
FASHION = [ItemInfo(f"wear-{i}", "fashion", tags=("style", f"cut{i}")) for i in range(6)]


def _content() -> ContentSimilarity:
    content = ContentSimilarity()
    for item in COOKING + FASHION:
        content.upsert_item(item)
    content.observe(Interaction("u", "cook-0", "click", ts=0.0))
    return content


def test_similarity_agrees_with_picks_and_covers_items_picks_leave_out() -> None:
    content = _content()
    picks = content.picks("u", 3, Context(ts=1.0))
    assert picks.similarity is not None and picks.rows is not None
    assert [content.ids[r] for r in picks.rows.tolist()] == picks.item_ids
    np.testing.assert_array_equal(picks.similarity(picks.rows), picks.scores)
    # Items picks did not return still get their cosine (0 when nothing is shared).
    every = content.rows_or_missing([i.item_id for i in COOKING + FASHION])
    all_sims = picks.similarity(every)
    assert all(s > 0 for s in all_sims[1:6]) and not all_sims[6:].any()
    assert picks.similarity(content.rows_or_missing(["unknown"])).tolist() == [0.0]
    assert content.picks("stranger", 3, Context(ts=1.0)).similarity is None  # no profile


def _recommender(w_taste: float, w_log_pop: float) -> CrossDomainRecommender:
    rec = CrossDomainRecommender(
        w_mf=0.0,
        w_knn=0.0,
        w_pop=0.0,
        w_source=0.0,
        w_taste=w_taste,
        w_log_pop=w_log_pop,
        learn_blend=False,
        candidate_source=_content(),
        n_candidates=50,
        seed=1,
    )
    for item in COOKING + FASHION:
        rec.upsert_item(item)
    # Others make fashion the most popular and cook-5 the most popular cooking item.
    for n in range(36):
        rec.learn(Interaction(f"o{n}", FASHION[n % 6].item_id, "click", ts=float(n)))
    for n in range(4):
        rec.learn(Interaction(f"p{n}", "cook-5", "click", ts=float(n)))
    rec.learn(Interaction("p9", "cook-4", "click", ts=9.0))
    return rec


def test_taste_and_log_popularity_rank_popular_items_the_user_likes_first() -> None:
    rec = _recommender(w_taste=1.0, w_log_pop=1.0)
    # The user's taste: cooking (the content source's history); one click, shown again is ok.
    ranked = [s.item_id for s in rec.recommend("u", 4, Context(ts=40.0))]
    assert ranked[0] == "cook-5"  # liked and popular beats more popular, not liked
    found = rec.candidates("u", 4, Context(ts=40.0))
    assert found is not None
    rows, feats, _ = found
    popular_only = [
        j for j, r in enumerate(rows.tolist()) if rec.catalogue.id_at(r).startswith("cook")
    ]
    # Every cooking candidate has a taste score, not only those the source proposed.
    assert all(feats["taste"][j] > 0 for j in popular_only)


def test_log_popularity_alone_is_global_popularity() -> None:
    rec = _recommender(w_taste=0.0, w_log_pop=1.0)
    ranked = [s.item_id for s in rec.recommend("u", 3, Context(ts=40.0))]
    assert all(i.startswith("wear") for i in ranked)  # 6 clicks each, cook-5 only 4

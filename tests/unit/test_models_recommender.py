"""Focused tests: the blended cross-domain recommender, its hooks, snapshots, replay."""

from __future__ import annotations

import dataclasses
import json
import pickle
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from online_models import replay_command
from online_models.full_ranker import FullRanker
from online_models.popularity import Popularity
from online_models.recommender import CrossDomainRecommender
from online_models.replay import ReplayInputError, parse_record, read_events
from online_models.scorers import CandidateSource, ClickModel, Reranker
from online_models.snapshot import (
    FORMAT_VERSION,
    MAGIC,
    SnapshotError,
    dumps,
    load,
    loads,
    save,
)
from online_models.types import (
    PARTNER_DOMAINS,
    Context,
    Interaction,
    InteractionKind,
    ItemInfo,
    LabelledImpression,
)
from tests.unit.snapshot_framing import in_format


def catalogue_items() -> list[ItemInfo]:
    items = [ItemInfo(f"course-{i}", "course", tags=("cooking",)) for i in range(10)]
    for d in PARTNER_DOMAINS:
        items += [ItemInfo(f"{d}-{i}", d, partner="p") for i in range(10)]
    return items


def model(**kw: object) -> CrossDomainRecommender:
    rec = CrossDomainRecommender(n_factors=8, **kw)  # type: ignore[arg-type]
    for it in catalogue_items():
        rec.upsert_item(it)
    t = 0.0
    for u in range(30):
        for item in ("course-1", "fresh_food-1", "restaurant_deal-2", "fresh_food-3"):
            t += 1
            kind: InteractionKind = "course_purchase" if item.startswith("course") else "click"
            rec.learn(Interaction(f"u{u}", item, kind, t))
    return rec


def test_course_trigger_favours_partner_domains_with_a_reason() -> None:
    rec = model()
    rec.learn(Interaction("me", "course-1", "course_purchase", 1000.0))
    recs = rec.recommend("me", 5, Context(ts=1000.0, trigger_domain="course"))
    domains = [rec.catalogue.get(s.item_id).domain for s in recs]  # type: ignore[union-attr]
    assert sum(d != "course" for d in domains) >= 3
    assert "course-1" not in [s.item_id for s in recs]  # bought: never again
    assert "because you bought a course in cooking" in {s.reason for s in recs}


def test_the_reason_names_the_course_being_bought_not_the_one_before() -> None:
    """A list answers its event before the event is learnt (predict, then learn)."""
    rec = model()
    rec.upsert_item(ItemInfo("fit-1", "course", tags=("fitness",)))
    rec.learn(Interaction("me", "course-1", "course_purchase", 1000.0))  # cooking, earlier
    context = Context(
        ts=1001.0, trigger_domain="course", trigger_kind="course_purchase", trigger_item="fit-1"
    )
    reasons = {s.reason for s in rec.recommend("me", 5, context)}
    assert "because you bought a course in fitness" in reasons
    assert "because you bought a course in cooking" not in reasons
    # A course click still recalls the last course bought.
    clicked = dataclasses.replace(context, trigger_kind="click", trigger_item="fit-1")
    assert "because you bought a course in cooking" in {
        s.reason for s in rec.recommend("me", 5, clicked)
    }


def test_partner_trigger_favours_courses() -> None:
    rec = model()
    for n in range(2, 6):  # a few more courses with some (low) popularity
        rec.learn(Interaction("someone", f"course-{n}", "click", 500.0))
    recs = rec.recommend("stranger", 5, Context(ts=0.0, trigger_domain="fresh_food"))
    domains = [rec.catalogue.get(s.item_id).domain for s in recs]  # type: ignore[union-attr]
    assert domains.count("course") >= 3


def test_not_personalised_is_popularity_only() -> None:
    rec = model()
    a = rec.recommend("u1", 5, Context(ts=0.0, personalised=False))
    b = rec.recommend("stranger", 5, Context(ts=0.0, personalised=False))
    assert [s.item_id for s in a if s.item_id not in rec.knn.history("u1")] or a == []
    assert all(s.reason.startswith("popular in ") for s in a + b)


def test_inactive_items_are_never_recommended() -> None:
    rec = model()
    rec.upsert_item(ItemInfo("fresh_food-3", "fresh_food", partner="p", active=False))
    for user in ("stranger", "u1", "me"):
        assert "fresh_food-3" not in [s.item_id for s in rec.recommend(user, 50, Context(ts=0))]


class FixedCtr:
    def __init__(self) -> None:
        self.seen: list[tuple[str, bool]] = []
        self.features: list[Mapping[str, float]] = []

    def predict_proba(
        self, user: str, item: ItemInfo, context: Context, features: Mapping[str, float]
    ) -> float:
        return 0.9 if item.domain == "fashion" else 0.1

    def learn_impression(
        self,
        user: str,
        item: ItemInfo,
        context: Context,
        features: Mapping[str, float],
        clicked: bool,
    ) -> None:
        assert "knn_score" in features
        self.seen.append((item.item_id, clicked))
        self.features.append(features)


class Content:
    def candidates(self, user: str, k: int, context: Context) -> list[tuple[str, float, str]]:
        return [("fashion-9", 1.0, "matches your style"), ("unknown", 1.0, "x")]


class Reverse:
    def rerank(
        self, user: str, ranked: Sequence[tuple[str, float]], k: int, context: Context
    ) -> list[str]:
        return [i for i, _ in reversed(ranked)][:k]


def test_hooks_are_used() -> None:
    ctr, content, rev = FixedCtr(), Content(), Reverse()
    assert isinstance(ctr, ClickModel) and isinstance(content, CandidateSource)
    assert isinstance(rev, Reranker)
    rec = model(click_model=ctr, candidate_source=content, ctr_weight=1.0)
    recs = rec.recommend("u1", 3, Context(ts=0.0))
    assert "fashion-9" in [s.item_id for s in recs]
    assert recs[0].p_click == 0.9
    rec.learn_impression("u1", "fashion-9", Context(ts=0.0), clicked=True)
    assert ctr.seen == [("fashion-9", True)]
    plain = [s.item_id for s in model(reranker=None).recommend("u1", 6, Context(ts=0.0))]
    reranked = model(reranker=rev).recommend("u1", 3, Context(ts=0.0))
    assert [s.item_id for s in reranked] == plain[:6][::-1][:3]


def test_a_batch_of_labelled_impressions_learns_like_one_at_a_time() -> None:
    base = FullRanker(seed=3)
    for i in range(30):
        base.upsert_item(ItemInfo(f"i{i}", PARTNER_DOMAINS[i % 4], tags=(f"t{i % 5}",)))
    for t in range(200):
        base.learn(Interaction(f"u{t % 7}", f"i{(t * 7) % 30}", "click", float(t)))
    shown = [
        LabelledImpression(f"i{j}", Context(ts=200.0, trigger_domain="course"), j % 3 == 0, j)
        for j in (*range(12), 99)  # i99 is unknown: skipped by both
    ]
    one_by_one, batched = pickle.loads(pickle.dumps(base)), pickle.loads(pickle.dumps(base))
    # The user's domain click rates count a batch (a list) once it is learnt, so one label
    # at a time would see them move within the list: compared apart, below.
    one_by_one.recommender.domain_clicks = batched.recommender.domain_clicks = None
    for s in shown:
        one_by_one.learn_impression("u1", s.item_id, s.context, s.clicked, s.position)
    batched.learn_impressions("u1", shown)
    # Equal up to float32 rounding: BLAS sums a 12-row MF score in another order than 1 row.
    want = one_by_one.ctr._weights
    assert batched.ctr._weights.keys() == want.keys()
    assert all(
        v == pytest.approx(want[key], rel=1e-6, abs=1e-9) for key, v in batched.ctr._weights.items()
    )
    assert batched.explorer.impressions("i3") == one_by_one.explorer.impressions("i3") == 1
    ctx = Context(ts=201.0, trigger_domain="course")
    assert [s.item_id for s in batched.recommend("u1", 5, ctx)] == [
        s.item_id for s in one_by_one.recommend("u1", 5, ctx)
    ]


def test_the_click_model_learns_and_predicts_with_the_users_taste() -> None:
    """Clicks that follow the user's tags teach the click model a taste weight, and a list
    is ranked with it: the item that matches the user's tags gets the higher p_click."""
    ranker = FullRanker(seed=1, explore=False)
    for i in range(40):
        ranker.upsert_item(ItemInfo(f"i{i}", "fresh_food", tags=(("cooking", "shoes")[i % 2],)))
    for t in range(6):  # the user likes cooking
        ranker.learn(Interaction("u", f"i{2 * t}", "click", float(t)))
    ctx = Context(ts=10.0)
    assert ranker.recommender.features_for("u", "i20", ctx)["taste"] > 0.9
    assert ranker.recommender.features_for("u", "i21", ctx)["taste"] < 0.1  # domain only
    _learns_to_prefer_even_items(ranker, ctx, "taste", first=12)  # cooking clicked, shoes not


def _learns_to_prefer_even_items(
    ranker: FullRanker, ctx: Context, feature: str, first: int
) -> None:
    """300 labels of items ``first``..39 for "u", the even ones clicked: the click model
    learns a positive weight for ``feature`` and ranks the even ``i20`` above ``i21``."""
    for n in range(300):
        item = f"i{first + n % (40 - first)}"
        ranker.learn_impression("u", item, ctx, clicked=int(item[1:]) % 2 == 0, position=n % 10)
    assert ranker.ctr._weights[f"num:{feature}"] > 0.0
    p_click = {s.item_id: s.p_click for s in ranker.recommend("u", 40, ctx)}
    assert p_click["i20"] > p_click["i21"]


def test_max_users_bounds_memory() -> None:
    rec = CrossDomainRecommender(n_factors=4, max_users=50)
    rec.upsert_item(ItemInfo("course-0", "course"))
    for u in range(500):
        rec.learn(Interaction(f"u{u}", "course-0", "course_purchase", float(u)))
    assert rec.mf.n_users <= 50 and rec.knn.n_users <= 50
    assert len(rec._purchased) <= 51
    assert rec.knows_user("u499") and not rec.knows_user("u0")


def test_the_full_rankers_parts_share_one_user_index() -> None:
    """One row per user across MF, kNN and segments: the cap holds for all of them, an
    evicted user is gone from every part, and a forgotten one too; content reads the kNN's
    history."""
    ranker = FullRanker(n_factors=4, max_users=50, seed=0)
    for i in range(5):
        ranker.upsert_item(ItemInfo(f"course-{i}", "course", tags=("cooking",)))
    for u in range(500):
        ranker.learn(Interaction(f"u{u}", f"course-{u % 5}", "click", float(u)))
    parts = (ranker.recommender.mf, ranker.recommender.knn, ranker.segments)
    assert all(0 < part.n_users <= 50 for part in parts) and ranker.content.n_users == 0
    assert ranker.recommender.mf._users is ranker.segments._users
    assert ranker.content.recent_items("u0") == [] and ranker.segments.affinity("u0") == {}
    assert ranker.recommender.mf.user_vector("u0") is None
    assert ranker.content.recent_items("u499") == ["course-4"]
    ranker.forget_user("u499")
    assert not ranker.knows_user("u499") and ranker.content.recent_items("u499") == []
    assert ranker.segments.affinity("u499") == {}
    restored = pickle.loads(pickle.dumps(ranker))
    assert restored.recommender.knn._users is restored.segments._users  # still one index
    assert restored.content.history_source is restored.recommender.knn


# ---------------------------------------------------------------------- snapshots
def test_snapshot_round_trip_and_refusals(tmp_path: Path) -> None:
    rec = model()
    path = tmp_path / "m.snap"
    header = save(rec, path)
    assert header["libraries"]["numpy"]
    back = load(path, CrossDomainRecommender)
    ctx = Context(ts=0.0, trigger_domain="course")
    assert back.recommend("u1", 5, ctx) == rec.recommend("u1", 5, ctx)
    data = path.read_bytes()
    with pytest.raises(SnapshotError, match="magic"):
        loads(pickle.dumps(rec), CrossDomainRecommender)
    with pytest.raises(SnapshotError, match="expected"):
        loads(data, Popularity)
    with pytest.raises(SnapshotError, match=r"truncated|digest"):
        loads(data[:-10], CrossDomainRecommender)
    another = in_format(data, FORMAT_VERSION + 1)
    with pytest.raises(SnapshotError, match="incompatible"):
        loads(another, CrossDomainRecommender)
    assert dumps(rec).startswith(MAGIC)
    assert [p.name for p in tmp_path.iterdir()] == ["m.snap"]  # no temp files left


# ---------------------------------------------------------------------- replay
@given(
    st.dictionaries(
        st.sampled_from(["user_id", "item_id", "timestamp", "rating", "event_type", "domain"]),
        st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=8)),
    )
)
def test_parse_record_accepts_or_rejects_cleanly(record: dict[str, object]) -> None:
    try:
        ev = parse_record(record)
    except (ValueError, TypeError):
        return
    assert ev.user and ev.item and ev.ts == ev.ts


def test_read_events_sorts_stably_and_reports_bad_lines(tmp_path: Path) -> None:
    p = tmp_path / "e.jsonl"
    p.write_text(
        '{"user_id": "a", "item_id": "1", "timestamp": 5}\n'
        '{"user_id": "b", "item_id": "2", "timestamp": "1970-01-01T00:00:05Z"}\n'
        '{"user_id": "c", "item_id": "3", "timestamp": 1}\n'
    )
    assert [e.user for e in read_events(p)] == ["c", "a", "b"]
    p.write_text('{"user_id": "a", "item_id": "1"}\n')
    with pytest.raises(ReplayInputError, match="line 1"):
        read_events(p)


def _run(
    tmp_path: Path, text: str, capsys: pytest.CaptureFixture[str], *extra: str
) -> dict[str, object]:
    p = tmp_path / "e.csv"
    p.write_text(text)
    assert replay_command.main(["--input", str(p), "--quiet", *extra]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    result: dict[str, object] = json.loads(out[-1])
    return result


def test_replay_ratings_reports_both_models(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = ["user_id,item_id,timestamp,rating"]
    rows += [f"u{n % 7},i{n % 11},{n},{1 + n % 5}" for n in range(200)]
    res = _run(tmp_path, "\n".join(rows) + "\n", capsys)
    assert res["events"] == 200 and res["mode"] == "ratings"
    for name in ("crossrec", "river_biasedmf"):
        assert set(res[name]) == {"mae", "rmse"}  # type: ignore[call-overload]


@pytest.mark.parametrize("model", ["recommender", "full"])
def test_replay_implicit_reports_recall_and_ndcg(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], model: str
) -> None:
    rows = ["user_id,item_id,timestamp,event_type,domain"]
    rows += [f"u{n % 9},fresh_food-{(n * 3) % 17},{n},click,fresh_food" for n in range(300)]
    res = _run(tmp_path, "\n".join(rows) + "\n", capsys, "--model", model)
    assert res["mode"] == "implicit"
    for name in ("crossrec", "popularity"):
        assert set(res[name]) == {"recall@10", "ndcg@10"}  # type: ignore[call-overload]
    assert 0 < res["evaluated"] <= 300  # type: ignore[operator]


def test_replay_rejects_bad_input(tmp_path: Path) -> None:
    p = tmp_path / "bad.csv"
    p.write_text("user_id,item_id,timestamp\nu,i,notatime\n")
    assert replay_command.main([str(p), "--quiet"]) == 2
    assert replay_command.main(["--quiet"]) == 2  # no file at all
    assert replay_command.main(["--input", str(p), str(p), "--quiet"]) == 2  # two of them


def test_the_click_model_learns_and_predicts_with_the_users_domain_share() -> None:
    """A user who engages with one domain: the click model sees each item's share of the
    user's recent history, learns its weight from labels and ranks with it (same tags in
    both domains, so taste cannot tell them apart)."""
    ranker = FullRanker(seed=1, explore=False)
    for i in range(40):
        ranker.upsert_item(ItemInfo(f"i{i}", ("fashion", "fresh_food")[i % 2], tags=("style",)))
    for t in range(4):  # three fashion clicks, one fresh-food click
        ranker.learn(Interaction("u", f"i{2 * t + (t == 3)}", "click", float(t)))
    ctx = Context(ts=10.0)
    features = ranker.recommender.features_for
    assert features("u", "i20", ctx)["domain_share"] == 0.75
    assert features("u", "i21", ctx)["domain_share"] == 0.25
    assert features("stranger", "i20", ctx)["domain_share"] == 0.0
    _learns_to_prefer_even_items(ranker, ctx, "domain_share", first=10)  # fashion clicked


def test_a_users_domain_click_rates_count_a_list_once_it_is_learnt() -> None:
    """The click model's ``domain_lift``: a user's clicks in a domain above everyone's rate
    there, read before the list's own labels count (predict, then learn)."""
    ranker = FullRanker(seed=1, explore=False)
    for i in range(40):
        ranker.upsert_item(ItemInfo(f"i{i}", ("fashion", "fresh_food")[i % 2], tags=("style",)))
    ctx = Context(ts=10.0)
    features = ranker.recommender.features_for
    assert features("u", "i0", ctx)["domain_lift"] == 0.0
    for first in range(0, 40, 10):  # u clicks every fashion item, never fresh food; v none
        for user in ("u", "v"):
            shown = [
                LabelledImpression(f"i{j}", ctx, user == "u" and j % 2 == 0, j - first)
                for j in range(first, first + 10)
            ]
            before = features(user, "i0", ctx)["domain_lift"]
            ranker.learn_impressions(user, shown)
            assert features(user, "i0", ctx)["domain_lift"] != before  # counted after the list
    fashion, food = features("u", "i0", ctx)["domain_lift"], features("u", "i1", ctx)["domain_lift"]
    assert fashion > 0.5 > 0.0 > food
    assert features("v", "i0", ctx)["domain_lift"] < 0.0
    assert features("stranger", "i0", ctx)["domain_lift"] == 0.0
    assert ranker.ctr._weights["num:domain_lift"] > 0.0
    ranker.forget_user("u")
    assert features("u", "i0", ctx)["domain_lift"] == 0.0


def test_a_lists_labels_never_inform_their_own_domain_lift() -> None:
    ctr = FixedCtr()
    rec = model(click_model=ctr)
    ctx = Context(ts=0.0)
    for _ in range(2):  # two lists of five fashion items, all clicked
        rec.learn_impressions(
            "u1", [LabelledImpression(f"fashion-{j}", ctx, True, j) for j in range(5)]
        )
    lifts = [f["domain_lift"] for f in ctr.features]
    assert lifts[:5] == [0.0] * 5  # nothing counted before the first list
    assert len(set(lifts[5:])) == 1 and lifts[5] > 0.0  # the first list only


def test_the_domain_lift_moves_candidates_in_the_blend_by_its_weight() -> None:
    rec = model(click_model=FixedCtr(), learn_blend=False, w_domain_lift=0.5)
    ctx = Context(ts=0.0)
    rec.learn_impressions(
        "me", [LabelledImpression(f"fresh_food-{j}", ctx, True, j) for j in range(5)]
    )
    found = rec.candidates("me", 5, ctx)
    assert found is not None
    lift = found.feats["domain_lift"]
    assert lift.max() > 0.0
    without = {**found.feats, "domain_lift": 0.0 * lift}
    moved = rec.blend_scores(found.feats) - rec.blend_scores(without)
    assert moved == pytest.approx(0.5 * lift)

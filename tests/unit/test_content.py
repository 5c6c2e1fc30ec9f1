"""ContentSimilarity: tag TF-IDF links a cooking course to cooking-tagged fresh food."""

from __future__ import annotations

import doctest
import math
import pickle
import random
from collections.abc import Mapping

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import online_models.content
from online_models.content import ContentSimilarity
from online_models.scorers import CandidateSource, PicksSource
from online_models.types import DOMAINS, Context, Domain, Interaction, ItemInfo

CATALOGUE = [
    ItemInfo("course-pasta", "course", tags=("cooking", "italian", "pasta")),
    ItemInfo("course-baking", "course", tags=("cooking", "baking")),
    ItemInfo("course-yoga", "course", tags=("yoga", "fitness")),
    ItemInfo("course-python", "course", tags=("coding", "python")),
    ItemInfo(
        "fresh-pasta-kit", "fresh_food", partner="greengrocer", tags=("cooking", "italian", "pasta")
    ),
    ItemInfo("fresh-herbs", "fresh_food", partner="greengrocer", tags=("cooking", "herbs")),
    ItemInfo("fresh-salad", "fresh_food", partner="greengrocer", tags=("healthy", "vegan")),
    ItemInfo("deal-trattoria", "restaurant_deal", partner="trattoria", tags=("italian", "pasta")),
    ItemInfo("deal-sushi", "restaurant_deal", partner="sushi-bar", tags=("japanese",)),
    ItemInfo("fashion-leggings", "fashion", partner="sportco", tags=("fitness", "yoga")),
    ItemInfo("fashion-apron", "fashion", partner="kitchenwear", tags=("cooking",)),
    ItemInfo("delivery-burger", "food_delivery", partner="burgers", tags=("burger",)),
]


def filler(n: int, seed: int) -> list[ItemInfo]:
    """Unrelated items that make IDF realistic (common domain tokens, rare tags)."""
    rng = random.Random(seed)
    return [
        ItemInfo(
            f"filler-{i}",
            rng.choice(DOMAINS),
            partner=f"partner-{i % 17}",
            tags=tuple(f"misc{rng.randrange(40)}" for _ in range(2)),
        )
        for i in range(n)
    ]


def build() -> ContentSimilarity:
    model = ContentSimilarity()
    for item in [*CATALOGUE, *filler(300, seed=1)]:
        model.upsert_item(item)
    return model


def buy_course(model: ContentSimilarity, user: str = "p:1") -> None:
    model.observe(
        Interaction(
            user=user,
            item="course-pasta",
            kind="course_purchase",
            ts=0.0,
            weight=3.0,
            domain="course",
        )
    )


def model_with(
    items: list[tuple[Domain, str | None, list[str], bool]], history: list[int]
) -> ContentSimilarity:
    """Items ``i0, i1, ...`` as generated (domain, partner, tags, active); user ``u`` clicked
    the ``history`` indices in that order."""
    model = ContentSimilarity()
    for index, (domain, partner, item_tags, active) in enumerate(items):
        model.upsert_item(
            ItemInfo(f"i{index}", domain, partner=partner, tags=tuple(item_tags), active=active)
        )
    for index in history:
        model.observe(Interaction(user="u", item=f"i{index}", kind="click", ts=0.0))
    return model


def ids(rows: list[tuple[str, float, str]]) -> list[str]:
    return [item_id for item_id, _, _ in rows]


def test_satisfies_candidate_source_protocol() -> None:
    assert isinstance(ContentSimilarity(), CandidateSource)


def test_cooking_course_leads_to_cooking_fresh_food() -> None:
    model = build()
    buy_course(model)
    rows = model.candidates("p:1", 5, Context(ts=1.0, trigger_domain="course"))
    top = ids(rows)
    assert top[0] == "fresh-pasta-kit"
    assert "deal-trattoria" in top
    assert "course-pasta" not in top  # what the user already has
    assert not {"fresh-salad", "deal-sushi", "course-python", "delivery-burger"} & set(top)
    assert not any(item.startswith("filler") for item in top)
    reasons = dict((item, reason) for item, _, reason in rows)
    assert reasons["fresh-pasta-kit"].startswith("matches your interest in ")
    assert reasons["fresh-pasta-kit"].removeprefix("matches your interest in ") in {
        "cooking",
        "italian",
        "pasta",
    }
    scores = [score for _, score, _ in rows]
    assert scores == sorted(scores, reverse=True)
    assert all(0.0 < s <= 1.0 for s in scores)


def test_trigger_domain_favours_other_domains() -> None:
    """After a course purchase, a cooking apron (fashion) beats an equally tagged course;
    without a trigger domain the shared domain token puts the course first."""
    model = build()
    model.upsert_item(ItemInfo("course-basics", "course", tags=("cooking",)))
    model.observe(Interaction(user="u", item="course-baking", kind="course_purchase", ts=0.0))
    cross = ids(model.candidates("u", 10, Context(ts=1.0, trigger_domain="course")))
    same = ids(model.candidates("u", 10, Context(ts=1.0)))
    assert cross.index("fashion-apron") < cross.index("course-basics")
    assert same.index("course-basics") < same.index("fashion-apron")


def test_new_item_is_reachable_at_once_and_new_user_via_trigger_item() -> None:
    model = build()
    buy_course(model)
    model.upsert_item(
        ItemInfo("fresh-parmesan", "fresh_food", partner="dairy", tags=("italian", "cheese"))
    )
    assert "fresh-parmesan" in ids(model.candidates("p:1", 6, Context(ts=1.0)))
    # A brand-new user: nothing observed yet, but the trigger item is known.
    assert model.candidates("stranger", 5, Context(ts=1.0)) == []
    assert ids(model.similar_to(["course-yoga"], 1, Context(ts=1.0))) == ["fashion-leggings"]


def test_excludes_inactive_and_context_exclusions() -> None:
    model = build()
    buy_course(model)
    model.upsert_item(
        ItemInfo(
            "fresh-pasta-kit",
            "fresh_food",
            partner="greengrocer",
            tags=("cooking", "italian", "pasta"),
            active=False,
        )
    )
    context = Context(ts=1.0, exclude=frozenset({"deal-trattoria"}))
    top = ids(model.candidates("p:1", 20, context))
    assert "fresh-pasta-kit" not in top
    assert "deal-trattoria" not in top
    assert "fresh-herbs" in top
    model.upsert_item(CATALOGUE[4])  # back in stock
    assert ids(model.candidates("p:1", 1, Context(ts=1.0)))[0] == "fresh-pasta-kit"


def test_rare_tags_weigh_more_than_common_ones() -> None:
    model = ContentSimilarity(domain_weight=0.0, partner_weight=0.0, same_domain_factor=1.0)
    for i in range(50):
        model.upsert_item(ItemInfo(f"common-{i}", "fashion", tags=("sale",)))
    model.upsert_item(ItemInfo("seed", "fashion", tags=("sale", "linen")))
    model.upsert_item(ItemInfo("rare", "fashion", tags=("linen",)))
    assert ids(model.similar_to(["seed"], 1, Context(ts=0.0))) == ["rare"]


def test_long_postings_are_not_walked() -> None:
    model = ContentSimilarity(max_postings=10)
    for item in filler(100, seed=2):
        model.upsert_item(item)
    model.upsert_item(ItemInfo("seed", "fashion", tags=("unique",)))
    # Only the domain token is shared and its postings list is long: nothing is walked.
    assert model.similar_to(["seed"], 5, Context(ts=0.0)) == []


def test_memory_is_bounded_and_forget_user() -> None:
    model = ContentSimilarity(max_users=10, history_size=3)
    for j in range(5):
        model.upsert_item(ItemInfo(f"it{j}", "course", tags=(f"t{j}",)))
    model.observe(Interaction(user="u0", item="never-upserted", kind="click", ts=0.0))
    assert model.n_users == 0  # an item without tokens is not remembered
    for i in range(50):
        for j in range(5):
            model.observe(Interaction(user=f"u{i}", item=f"it{j}", kind="click", ts=0.0))
    assert model.n_users == 10
    assert model.recent_items("u49") == ["it4", "it3", "it2"]
    assert model.recent_items("u0") == []
    model.forget_user("u49")
    assert model.recent_items("u49") == []
    assert model.n_users == 9


def test_deterministic_pure_and_pickle_round_trip() -> None:
    first, second = build(), build()
    buy_course(first)
    buy_course(second)
    context = Context(ts=1.0, trigger_domain="course")
    rows = first.candidates("p:1", 8, context)
    assert rows == second.candidates("p:1", 8, context)
    before = pickle.dumps(first)
    first.candidates("p:1", 8, context)
    first.similar_to({"course-yoga": 2.0}, 3, context)
    first.recent_items("p:1")
    first.vector("fresh-herbs")
    assert pickle.dumps(first) == before
    assert pickle.loads(before).candidates("p:1", 8, context) == rows


tags = st.lists(st.sampled_from(["a", "b", "c", " D ", "", "e f"]), max_size=3)


@settings(max_examples=50, deadline=None)
@given(
    items=st.lists(
        st.tuples(
            st.sampled_from(DOMAINS), st.none() | st.sampled_from(["p", "q"]), tags, st.booleans()
        ),
        max_size=25,
    ),
    history=st.lists(st.integers(0, 30), max_size=6),
    k=st.integers(0, 10),
    excluded=st.frozensets(st.integers(0, 30).map(lambda i: f"i{i}"), max_size=5),
)
def test_candidates_are_valid_for_any_catalogue(
    items: list[tuple[Domain, str | None, list[str], bool]],
    history: list[int],
    k: int,
    excluded: frozenset[str],
) -> None:
    model = model_with(items, history)
    rows = model.candidates("u", k, Context(ts=0.0, exclude=excluded))
    found = ids(rows)
    assert len(found) == len(set(found)) <= k
    assert not set(found) & (excluded | {f"i{i}" for i in history})
    active_ids = {f"i{i}" for i, row in enumerate(items) if row[3]}
    assert set(found) <= active_ids
    assert all(0.0 < score <= 1.0 for _, score, _ in rows)


def test_rejects_invalid_parameters() -> None:
    with pytest.raises(ValueError, match="history_size"):
        ContentSimilarity(history_size=0)


def test_docstring_examples() -> None:
    assert doctest.testmod(online_models.content).failed == 0


def reference_similar_to(
    catalogue: Mapping[str, ItemInfo],
    seeds: Mapping[str, float],
    context: Context,
    model: ContentSimilarity | None = None,
) -> dict[str, tuple[float, str]]:
    """The plain-Python definition of the module docstring, every item scored (no cut-off):
    item -> (score, reason). Used to check the vectorised index gives the same answers.
    ``model`` only lends its parameters, token weights and reason wording (default ones)."""
    model = model or ContentSimilarity()
    active = [it for it in catalogue.values() if it.active]
    tokens = {i: model._item_tokens(it) for i, it in catalogue.items()}
    postings: dict[str, set[str]] = {}
    for it in active:
        for token in tokens[it.item_id]:
            postings.setdefault(token, set()).add(it.item_id)

    def idf(token: str) -> float:
        return math.log((1 + len(active)) / (1 + len(postings.get(token, ())))) + 1

    profile: dict[str, float] = {}
    for item_id, weight in seeds.items():
        for token, w in tokens.get(item_id, {}).items():
            profile[token] = profile.get(token, 0.0) + weight * w * idf(token)
    profile = {t: w for t, w in profile.items() if w > 0}
    if not profile:
        return {}
    norm = math.sqrt(sum(w * w for w in profile.values()))
    excluded = set(seeds) | context.exclude
    reached: set[str] = set()
    for token in sorted(profile, key=lambda t: (-profile[t], t)):
        if len(postings.get(token, ())) <= model.max_postings:
            reached |= postings.get(token, set()) - excluded
            if len(reached) >= model.max_candidates:
                break
    out: dict[str, tuple[float, str]] = {}
    for item_id in reached:
        values = {t: w * idf(t) for t, w in tokens[item_id].items()}
        dot = sum(v * profile.get(t, 0.0) for t, v in values.items())
        if dot <= 0:
            continue
        best = max(values, key=lambda t: values[t] * profile.get(t, 0.0))
        score = dot / (math.sqrt(sum(v * v for v in values.values())) * norm)
        if catalogue[item_id].domain == context.trigger_domain:
            score *= model.same_domain_factor
        out[item_id] = (min(score, 1.0), online_models.content._reason(best))
    return out


def assert_matches_reference(
    rows: list[tuple[str, float, str]], expected: dict[str, tuple[float, str]], k: int
) -> None:
    assert len(rows) == min(k, len(expected))
    best_scores = sorted((s for s, _ in expected.values()), reverse=True)[: len(rows)]
    for (item_id, score, reason), want in zip(rows, best_scores, strict=True):
        assert score == pytest.approx(want, rel=1e-9)
        assert score == pytest.approx(expected[item_id][0], rel=1e-9)
        assert reason == expected[item_id][1]


@settings(max_examples=60, deadline=None)
@given(
    items=st.lists(
        st.tuples(
            st.sampled_from(DOMAINS), st.none() | st.sampled_from(["p", "q"]), tags, st.booleans()
        ),
        min_size=1,
        max_size=40,
    ),
    updates=st.lists(st.tuples(st.integers(0, 39), tags, st.booleans()), max_size=15),
    seeds=st.dictionaries(st.integers(0, 45), st.floats(0.1, 3.0), max_size=5),
    k=st.integers(1, 12),
    trigger=st.none() | st.sampled_from(DOMAINS),
)
def test_same_answers_as_the_plain_definition(
    items: list[tuple[Domain, str | None, list[str], bool]],
    updates: list[tuple[int, list[str], bool]],
    seeds: dict[int, float],
    k: int,
    trigger: Domain | None,
) -> None:
    model = ContentSimilarity()
    catalogue: dict[str, ItemInfo] = {}
    for index, (domain, partner, item_tags, active) in enumerate(items):
        catalogue[f"i{index}"] = ItemInfo(
            f"i{index}", domain, partner=partner, tags=tuple(item_tags), active=active
        )
        model.upsert_item(catalogue[f"i{index}"])
    for index, item_tags, active in updates:  # re-upserts move tokens around in the index
        old = catalogue.get(f"i{index}")
        if old is not None:
            catalogue[old.item_id] = ItemInfo(
                old.item_id, old.domain, partner=old.partner, tags=tuple(item_tags), active=active
            )
            model.upsert_item(catalogue[old.item_id])
    context = Context(ts=0.0, trigger_domain=trigger)
    weighted = {f"i{i}": w for i, w in seeds.items()}
    rows = model.similar_to(weighted, k, context)
    assert_matches_reference(rows, reference_similar_to(catalogue, weighted, context), k)
    for item_id, item in catalogue.items():
        assert set(model.vector(item_id)) == set(model._item_tokens(item))


def test_heavy_churn_leaves_the_same_index_as_a_fresh_build() -> None:
    """Thousands of tag changes (stale slots compacted on the way) answer like a fresh build."""
    rng = random.Random(5)
    base = [*CATALOGUE, *filler(300, seed=3)]
    churned = ContentSimilarity()
    final: dict[str, ItemInfo] = {}
    for _ in range(8):
        for item in base:
            n_tags = rng.randrange(0, 6)
            tags_now = tuple(f"misc{rng.randrange(40)}" for _ in range(n_tags)) + item.tags
            final[item.item_id] = ItemInfo(
                item.item_id, item.domain, item.partner, tags=tags_now, active=rng.random() < 0.9
            )
            churned.upsert_item(final[item.item_id])
    fresh = ContentSimilarity()
    for item in sorted(final.values(), key=lambda it: it.item_id):
        fresh.upsert_item(item)
    for seed in ["course-pasta", "fresh-herbs", "filler-7", "filler-150"]:
        context = Context(ts=0.0, trigger_domain="course")
        got, want = churned.similar_to([seed], 20, context), fresh.similar_to([seed], 20, context)
        assert [(i, r) for i, _, r in got] == [(i, r) for i, _, r in want]
        assert [s for _, s, _ in got] == pytest.approx([s for _, s, _ in want], rel=1e-12)
        assert got == sorted(got, key=lambda row: (-row[1], row[0]))


def test_ties_are_broken_by_item_id_whatever_the_insertion_order() -> None:
    model = ContentSimilarity()
    for i in reversed(range(30)):
        model.upsert_item(ItemInfo(f"twin-{i:02d}", "fashion", tags=("linen",)))
    model.upsert_item(ItemInfo("seed", "course", tags=("linen",)))
    assert ids(model.similar_to(["seed"], 3, Context(ts=0.0))) == ["twin-00", "twin-01", "twin-02"]


def test_same_tags_in_another_order_tie_and_are_broken_by_id() -> None:
    """Found by the equivalence property test: ``i4`` and ``i5`` hold the same tags listed in
    different orders; summed in that order their cosines came out a rounding apart, so
    ``i5`` ranked first (and a rebuilt model ranked them the other way)."""
    model = ContentSimilarity()
    for item_id, tags in [
        ("i0", ("t1",)),
        ("i2", ("t1", "t3", "t4")),
        ("i1", ("t3",)),
        ("i5", ("t0", "t3", "t4", "t5", "t1")),
        ("i3", ()),
        ("i4", ("t0", "t1", "t3", "t5", "t4")),
    ]:
        domain: Domain = "fresh_food" if len(tags) > 1 else "course"
        model.upsert_item(ItemInfo(item_id, domain, tags=tags))
    got = model.similar_to(["i2"], 2, Context(ts=0.0, trigger_domain="course"))
    assert ids(got) == ["i4", "i5"]
    assert got[0][1] == got[1][1]


def test_refuses_state_of_an_older_layout() -> None:
    with pytest.raises(ValueError, match="older layout"):
        ContentSimilarity().__setstate__({"_items": {}, "_tokens": {}})


# --------------------------------------------------------------------------- SourcePicks form
def test_satisfies_picks_source_protocol() -> None:
    assert isinstance(ContentSimilarity(), PicksSource)


@settings(max_examples=60, deadline=None)
@given(
    items=st.lists(
        st.tuples(
            st.sampled_from(DOMAINS), st.none() | st.sampled_from(["p", "q"]), tags, st.booleans()
        ),
        max_size=30,
    ),
    history=st.lists(st.integers(0, 35), max_size=8),
    k=st.integers(-1, 12),
    trigger=st.none() | st.sampled_from(DOMAINS),
    excluded=st.frozensets(st.integers(0, 35).map(lambda i: f"i{i}"), max_size=4),
)
def test_picks_are_the_candidates(
    items: list[tuple[Domain, str | None, list[str], bool]],
    history: list[int],
    k: int,
    trigger: Domain | None,
    excluded: frozenset[str],
) -> None:
    """Same ids, scores (bit for bit) and reasons, in the same order, in both forms."""
    model = model_with(items, history)
    context = Context(ts=0.0, trigger_domain=trigger, exclude=excluded)
    for user in ("u", "stranger"):
        picks = model.picks(user, k, context)
        assert picks.scores.dtype == np.float64 and picks.scores.shape == (len(picks.item_ids),)
        assert picks.as_triples() == model.candidates(user, k, context)
    seeds = {f"i{i}": 1.0 + i % 3 for i in history}
    assert model.similar_picks(seeds, k, context).as_triples() == model.similar_to(
        seeds, k, context
    )
    assert model.similar_picks(list(seeds), k, context).as_triples() == model.similar_to(
        list(seeds), k, context
    )


def test_reasons_are_worded_only_when_asked_for() -> None:
    model = build()
    buy_course(model)
    context = Context(ts=1.0, trigger_domain="course")
    picks = model.picks("p:1", 8, context)
    assert len(picks.item_ids) == 8
    assert model._reason_cache == {}  # nothing worded yet
    assert picks.reason(3) == model.candidates("p:1", 8, context)[3][2]
    assert len(model._reason_cache) <= 8  # the words of the reasons asked for, no more
    with pytest.raises(IndexError):
        model.picks("stranger", 8, context).reason(0)


def test_reasons_do_not_change_when_the_catalogue_changes_afterwards() -> None:
    """A reason asked for after an upsert is the one of the answer (the recommender may
    word it later); tokens wider than the padded mirror included."""
    model = build()
    model.upsert_item(
        ItemInfo("wide", "fashion", partner="kitchenwear", tags=tuple(f"w{i}" for i in range(9)))
    )
    wide_twin_tags = ("cooking", *(f"w{i}" for i in range(8)))  # wider than the mirror
    model.upsert_item(ItemInfo("wide-twin", "fashion", tags=wide_twin_tags))
    buy_course(model)
    model.observe(Interaction(user="p:1", item="wide", kind="click", ts=0.5))
    context = Context(ts=1.0)
    want = model.candidates("p:1", 10, context)
    picks = model.picks("p:1", 10, context)
    for item in CATALOGUE:  # every item now carries other tags
        model.upsert_item(ItemInfo(item.item_id, item.domain, item.partner, tags=("other",)))
    model.upsert_item(ItemInfo("wide-twin", "fashion", tags=("unrelated",)))
    assert picks.as_triples() == want
    assert model._padded().overflow and ids(want)[:2] == ["fresh-pasta-kit", "wide-twin"]
    assert want[1][2] == "matches your interest in cooking"


def test_reads_another_models_history_instead_of_keeping_one() -> None:
    class History:
        def history(self, user: str) -> list[str]:
            return {"u": ["it1", "unknown", "it0", "it1"]}.get(user, [])

    model = ContentSimilarity(history_size=3, history_source=History())
    for j in range(3):
        model.upsert_item(ItemInfo(f"it{j}", "course", tags=(f"t{j}", "shared")))
    model.observe(Interaction(user="u", item="it2", kind="click", ts=0.0))
    assert model.n_users == 0  # nothing kept here
    assert model.recent_items("u") == ["it1", "it0"]  # the first three, known ones only
    own = ContentSimilarity(history_size=3)
    for j in range(3):
        own.upsert_item(ItemInfo(f"it{j}", "course", tags=(f"t{j}", "shared")))
    for item in ("it0", "it1"):
        own.observe(Interaction(user="u", item=item, kind="click", ts=0.0))
    context = Context(ts=0.0)
    assert model.candidates("u", 5, context) == own.candidates("u", 5, context)

"""UserSegments: online k-means separates users with clearly different domain affinities."""

from __future__ import annotations

import doctest
import pickle
import random
from collections import Counter, defaultdict
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import online_models.segments
from online_models.segments import UserSegments
from online_models.types import DOMAINS, Domain, Interaction, ItemInfo

DAY = 24 * 3600.0

# Three kinds of user, each with a clearly different mix of domains.
PROFILES: dict[str, dict[Domain, float]] = {
    "learner": {"course": 0.85, "fresh_food": 0.1, "fashion": 0.05},
    "foodie": {"fresh_food": 0.45, "restaurant_deal": 0.35, "food_delivery": 0.2},
    "shopper": {"fashion": 0.8, "food_delivery": 0.2},
}


def population(
    n_users: int, events_per_user: int, seed: int
) -> tuple[list[Interaction], dict[str, str]]:
    """Interleaved interactions of users drawn from :data:`PROFILES`; returns kinds too."""
    rng = random.Random(seed)
    kinds = {f"u{i}": list(PROFILES)[i % len(PROFILES)] for i in range(n_users)}
    events = []
    for step in range(events_per_user * n_users):
        user = f"u{rng.randrange(n_users)}"
        profile = PROFILES[kinds[user]]
        domain = rng.choices(list(profile), weights=list(profile.values()))[0]
        events.append(
            Interaction(
                user=user,
                item=f"{domain}-{rng.randrange(50)}",
                kind="click",
                ts=float(step),
                domain=domain,
            )
        )
    return events, kinds


def fitted(events: list[Interaction], **params: Any) -> UserSegments:
    model = UserSegments(seed=1, warmup=64, **params)
    for event in events:
        model.observe(event)
    return model


@pytest.fixture(scope="module")
def data() -> tuple[list[Interaction], dict[str, str]]:
    return population(300, 12, seed=5)


@pytest.mark.parametrize("n_segments", [3, 6])
def test_separates_users_with_different_affinities(
    data: tuple[list[Interaction], dict[str, str]], n_segments: int
) -> None:
    events, kinds = data
    model = fitted(events, n_segments=n_segments)
    by_segment: dict[int, Counter[str]] = defaultdict(Counter)
    for user, kind in kinds.items():
        segment = model.segment_of(user)
        assert segment is not None
        assert 0 <= segment < n_segments
        by_segment[segment][kind] += 1
    # Purity: every segment is (almost) one kind of user.
    for counts in by_segment.values():
        assert counts.most_common(1)[0][1] >= 0.95 * sum(counts.values()), dict(counts)
    if n_segments == 3:
        assert len(by_segment) == 3


def test_domain_comes_from_the_catalogue_when_missing() -> None:
    model = UserSegments(n_segments=2, warmup=2, seed=0)
    model.upsert_item(ItemInfo("c1", "course"))
    model.upsert_item(ItemInfo("f1", "fashion"))
    model.observe(Interaction(user="a", item="c1", kind="click", ts=0.0))
    model.observe(Interaction(user="b", item="f1", kind="click", ts=0.0))
    model.observe(Interaction(user="c", item="unknown", kind="click", ts=0.0))
    assert model.affinity("a") == {"course": 1.0}
    assert model.segment_of("a") != model.segment_of("b")
    assert model.segment_of("c") is None


def test_old_interactions_fade(data: tuple[list[Interaction], dict[str, str]]) -> None:
    events, kinds = data
    model = fitted(events, n_segments=3)
    learner = next(u for u, k in kinds.items() if k == "learner")
    shopper = next(u for u, k in kinds.items() if k == "shopper")
    later = events[-1].ts + 60 * DAY  # four half-lives later, the learner turns to fashion
    for i in range(6):
        model.observe(
            Interaction(user=learner, item="f", kind="click", ts=later + i, domain="fashion")
        )
    assert model.affinity(learner)["fashion"] > 0.8
    assert model.segment_of(learner) == model.segment_of(shopper)


def test_memory_is_bounded_and_evicts_least_recently_seen(
    data: tuple[list[Interaction], dict[str, str]],
) -> None:
    events, _ = data
    model = fitted(events, n_segments=3, max_users=50)
    assert model.n_users == 50
    recent = {e.user for e in events[-20:]}
    assert all(model.segment_of(u) is not None for u in recent)
    assert sum(model.segment_of(f"u{i}") is None for i in range(300)) == 250


def test_forget_user(data: tuple[list[Interaction], dict[str, str]]) -> None:
    events, _ = data
    model = fitted(events[:30], n_segments=3)  # still warming up: points are buffered
    model.forget_user("u1")
    assert all(user != "u1" for user, _ in model._buffer)
    model = fitted(events, n_segments=3)
    assert model.segment_of("u1") is not None
    model.forget_user("u1")
    assert model.segment_of("u1") is None
    assert model.affinity("u1") == {}


def test_deterministic_pickle_and_pure_reads(
    data: tuple[list[Interaction], dict[str, str]],
) -> None:
    events, kinds = data
    first, second = fitted(events, n_segments=4), fitted(events, n_segments=4)
    assert first.centres == second.centres
    restored = pickle.loads(pickle.dumps(first))
    for event in events[:200]:
        restored.observe(event)
        first.observe(event)
    assert restored.centres == first.centres
    before = pickle.dumps(first)
    for user in [*kinds, "nobody"]:
        first.segment_of(user)
        first.affinity(user)
    _ = first.centres
    assert pickle.dumps(first) == before


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["a", "b", "c", "d"]),
            st.sampled_from(DOMAINS),
            st.floats(min_value=-1.0, max_value=10.0),
            st.floats(min_value=0.0, max_value=1e9),
        ),
        max_size=40,
    )
)
def test_any_sequence_keeps_segments_in_range(
    rows: list[tuple[str, Domain, float, float]],
) -> None:
    model = UserSegments(n_segments=3, warmup=5, seed=2)
    for user, domain, weight, ts in rows:
        model.observe(
            Interaction(user=user, item="i", kind="click", ts=ts, weight=weight, domain=domain)
        )
    for user in "abcd":
        segment = model.segment_of(user)
        assert segment is None or 0 <= segment < 3
        assert sum(model.affinity(user).values()) == pytest.approx(1.0) or not model.affinity(user)


def test_rejects_invalid_parameters() -> None:
    with pytest.raises(ValueError, match="warmup"):
        UserSegments(n_segments=10, warmup=5)


def test_docstring_examples() -> None:
    assert doctest.testmod(online_models.segments).failed == 0

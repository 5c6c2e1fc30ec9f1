"""Traffic: determinism, event-time order, cross-domain structure, closed-loop truth."""

from __future__ import annotations

import itertools
import json
from collections import Counter

import numpy as np
import pytest

from simulator.payload import encode_all
from simulator.traffic import Traffic, take
from simulator.world import THEME_NAMES, World


def _payloads(seed: int, n: int) -> list[bytes]:
    world = World(seed=seed, n_users=300, n_items=300)
    return [m.payload for m in itertools.islice(encode_all(Traffic(world, seed=seed)), n)]


def test_same_seed_gives_byte_identical_stream() -> None:
    assert _payloads(11, 5_000) == _payloads(11, 5_000)


def test_different_seeds_give_different_streams() -> None:
    a, b = _payloads(11, 2_000), _payloads(12, 2_000)
    assert a != b
    ids_a = {json.loads(p)["event_id"] for p in a}
    ids_b = {json.loads(p)["event_id"] for p in b}
    assert not ids_a & ids_b


def test_catalogue_first_then_sessions_in_event_time_order() -> None:
    world = World(seed=3, n_users=500, n_items=250)
    events = take(Traffic(world, seed=3), 20_000)
    assert [e["event_type"] for e in events[:250]] == ["item"] * 250
    assert events[250]["event_type"] != "item" or events[250]["item_id"] in world.item_index
    stamps = [e["ts"] for e in events]
    assert stamps == sorted(stamps)  # fixed-width UTC strings sort chronologically
    assert stamps[-1] > stamps[0]


def test_clicks_in_lists_link_to_a_served_impression() -> None:
    events = take(Traffic(World(seed=4, n_users=200, n_items=200), seed=4), 10_000)
    served: dict[str, dict[str, object]] = {}
    attributed = 0
    for ev in events:
        if ev["event_type"] == "impression":
            served[ev["rec_id"]] = ev
        elif ev["event_type"] == "click" and ev.get("rec_id") is not None:
            imp = served[ev["rec_id"]]  # the impression came earlier in the stream
            assert imp["user_id"] == ev["user_id"]
            assert imp["item_ids"][ev["position"]] == ev["item_id"]  # type: ignore[index]
            attributed += 1
    assert attributed > 100


def test_mix_of_event_types_is_plausible() -> None:
    events = take(Traffic(World(seed=6, n_users=2_000, n_items=500), seed=6), 30_000)
    counts = Counter(e["event_type"] for e in events)
    impressions = [e for e in events if e["event_type"] == "impression"]
    slots = sum(len(e["item_ids"]) for e in impressions)
    attributed = sum(1 for e in events if e["event_type"] == "click" and e.get("rec_id"))
    ctr = attributed / slots
    assert 0.01 < ctr < 0.2
    assert counts["course_purchase"] > 100
    assert counts["partner_order"] > counts["course_purchase"]
    assert 0 < counts["consent"] < counts["course_purchase"]
    assert counts["forget"] < counts["consent"]


def _cooking_courses(world: World) -> set[str]:
    cooking = THEME_NAMES.index("cooking")
    return {
        world.item_ids[i]
        for i in range(world.n_items)
        if world.item_domain(i) == "course" and int(world.item_primary_theme[i]) == cooking
    }


def test_cooking_course_buyers_order_fresh_food_more_than_others() -> None:
    world = World(seed=8, n_users=2_000, n_items=600)
    cooking = _cooking_courses(world)
    events = take(Traffic(world, seed=8), 70_000)
    cooks: set[str] = set()
    orders_after: Counter[str] = Counter()  # domain -> orders by users after a cooking course
    orders_other: Counter[str] = Counter()  # domain -> orders by users who never bought one
    ever_cooks = {
        e["user_id"]
        for e in events
        if e["event_type"] == "course_purchase" and e["course_id"] in cooking
    }
    for e in events:
        if e["event_type"] == "course_purchase" and e["course_id"] in cooking:
            cooks.add(e["user_id"])
        elif e["event_type"] == "partner_order":
            if e["user_id"] in cooks:
                orders_after[e["domain"]] += 1
            elif e["user_id"] not in ever_cooks:
                orders_other[e["domain"]] += 1
    share_after = orders_after["fresh_food"] / sum(orders_after.values())
    share_other = orders_other["fresh_food"] / sum(orders_other.values())
    assert sum(orders_after.values()) > 200
    print(
        f"fresh_food share of orders: after cooking course {share_after:.3f}, "
        f"others {share_other:.3f}"
    )
    assert share_after > 1.5 * share_other, (share_after, share_other)


def test_course_purchase_raises_partner_order_rate() -> None:
    """The causal part: the same kind of user orders more in the sessions after a course."""
    world = World(seed=9, n_users=500, n_items=400)
    traffic = Traffic(world, seed=9)
    cooking = THEME_NAMES.index("cooking")
    u = int(np.argmax(world.user_taste[:, cooking]))
    fresh = [i for i in range(world.n_items) if world.item_domain(i) == "fresh_food"]
    idx = np.array(fresh)
    before = world.click_probabilities(u, idx, boost=traffic.boost[u]).mean()
    course = next(
        i
        for i in range(world.n_items)
        if world.item_domain(i) == "course" and int(world.item_primary_theme[i]) == cooking
    )
    traffic._conversion(traffic._rng, u, course, 0)
    after = world.click_probabilities(u, idx, boost=traffic.boost[u]).mean()
    assert after > before * 1.2


# ---------------------------------------------------------------------- respond()


def _good_and_random_lists(
    world: World, user: int, k: int, rng: np.random.Generator
) -> tuple[list[str], list[str]]:
    p = world.click_probabilities(user, np.arange(world.n_items))
    good = [world.item_ids[i] for i in np.argsort(-p)[:k]]
    rand = [world.item_ids[i] for i in rng.choice(world.n_items, size=k, replace=False)]
    return good, rand


def test_respond_click_rate_follows_ground_truth() -> None:
    world = World(seed=21, n_users=200, n_items=800)
    traffic = Traffic(world, seed=21)
    rng = np.random.default_rng(0)
    realised = {"good": [0, 0], "random": [0, 0]}  # clicks, slots
    expected = {"good": 0.0, "random": 0.0}
    for n in range(600):
        user = world.user_id(n % world.n_users)
        good, rand = _good_and_random_lists(world, n % world.n_users, 10, rng)
        for name, items in (("good", good), ("random", rand)):
            # Truth includes the boost earlier simulated purchases gave this user.
            boost = traffic.boost[n % world.n_users].copy()
            expected[name] += world.expected_clicks(user, items, boost=boost)
            events = traffic.respond(user, items, "home", f"rec-{name}-{n}", 1.8e9 + n)
            realised[name][0] += sum(1 for e in events if e["event_type"] == "click")
            realised[name][1] += len(items)
    ctr = {k: c / s for k, (c, s) in realised.items()}
    assert ctr["good"] > 2 * ctr["random"], ctr
    for name in ctr:  # realised CTR within sampling error of the truth
        truth = expected[name] / realised[name][1]
        assert ctr[name] == pytest.approx(truth, rel=0.15), (name, ctr[name], truth)


def test_respond_events_are_well_formed_and_ordered() -> None:
    world = World(seed=22, n_users=50, n_items=200)
    traffic = Traffic(world, seed=22)
    items = [world.item_ids[i] for i in range(20)] + ["not-in-the-world"]
    clicked: set[str] = set()
    for n in range(300):
        events = traffic.respond(
            "user-000007", items, "push", f"rec-{n}", "2026-12-01T08:00:00.000Z"
        )
        imp = events[0]
        assert imp["event_type"] == "impression"
        assert imp["item_ids"] == items and imp["positions"] == list(range(len(items)))
        assert imp["rec_id"] == f"rec-{n}" and imp["ts"] == "2026-12-01T08:00:00.000Z"
        stamps = [e["ts"] for e in events]
        assert stamps == sorted(stamps)
        for e in events[1:]:
            assert e["user_id"] == "user-000007"
            if e["event_type"] == "click":
                assert e["rec_id"] == f"rec-{n}"
                assert items[e["position"]] == e["item_id"]
                clicked.add(e["item_id"])
            else:
                assert e["event_type"] in ("course_purchase", "partner_order")
    assert clicked and "not-in-the-world" not in clicked


def test_respond_does_not_shift_the_background_stream() -> None:
    world = World(seed=23, n_users=100, n_items=100)
    plain = take(Traffic(world, seed=23), 3_000)
    probed = Traffic(world, seed=23)
    it = iter(probed)
    head = take(it, 1_500)
    # Unknown ids are never clicked, so no purchase can change user state: any difference
    # in the stream would come from respond() drawing from the stream's generator.
    probed.respond("user-000001", ["unknown-1", "unknown-2"], "home", "rec-x", 1.8e9)
    tail = take(it, 1_500)
    assert [e["event_id"] for e in head + tail] == [e["event_id"] for e in plain]


def _others(events: list[dict[str, object]], user: str, before: str) -> list[dict[str, object]]:
    return [e for e in events if e.get("user_id") not in (None, user) and str(e["ts"]) < before]


def test_what_one_user_is_shown_changes_no_other_users_events() -> None:
    """A closed-loop A/B run needs independent arms: lists shown to one user, clicked and
    bought from, must leave every other user's background events and reactions as they were
    (with one shared generator, each extra draw shifted everyone's later events)."""
    world = World(seed=29, n_users=60, n_items=80)
    target = "user-000003"
    liked = [world.item_ids[i] for i in np.argsort(-(world.item_theme @ world.user_taste[3]))]

    def run(show_target: bool) -> tuple[list[dict[str, object]], list[list[str]]]:
        traffic = Traffic(world, seed=29)
        it = iter(traffic)
        events, reactions = take(it, 1_000), []
        for n in range(40):
            if show_target:  # the best-liked items: clicks and purchases follow
                traffic.respond(target, liked[n % 20 : n % 20 + 10], "home", f"r{n}", 1.8e9 + n)
            other = f"user-{n % 50 + 10:06d}"
            shown = world.item_ids[n : n + 10]
            reactions.append(
                [str(e["event_id"]) for e in traffic.respond(other, shown, "home", f"o{n}", 1.8e9)]
            )
            events += take(it, 100)
        return events, reactions

    plain, plain_reactions = run(show_target=False)
    shown, shown_reactions = run(show_target=True)
    assert sum(len(r) for r in plain_reactions) > 40  # the other users did react
    # The target's own events differ, so the runs stop at different times: compare up to the
    # earlier end, by which both streams are complete.
    before = min(str(plain[-1]["ts"]), str(shown[-1]["ts"]))
    assert any(e.get("user_id") == target for e in shown if str(e["ts"]) < before)
    assert _others(shown, target, before) == _others(plain, target, before)
    assert shown_reactions == plain_reactions


def test_respond_rejects_unknown_users() -> None:
    traffic = Traffic(World(seed=1, n_users=10, n_items=20), seed=1)
    with pytest.raises(KeyError):
        traffic.respond("user-999999", ["course-000000"], "home", "rec-1", 0.0)
    with pytest.raises(KeyError):
        traffic.respond("alice", ["course-000000"], "home", "rec-1", 0.0)

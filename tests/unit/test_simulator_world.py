"""The world: sizes, speed, determinism, and the shape of the ground truth."""

from __future__ import annotations

import time

import numpy as np
import pytest

from simulator.world import DOMAINS, THEME_NAMES, THEMES, World, domain_of_item_id


def test_sizes_domains_and_ids() -> None:
    world = World(seed=1, n_users=300, n_items=1_000)
    assert len(world.item_ids) == 1_000 == len(set(world.item_ids))
    assert world.user_taste.shape == (300, len(THEMES))
    assert {world.item_domain(i) for i in range(1_000)} == set(DOMAINS)
    for i, item_id in enumerate(world.item_ids):
        assert domain_of_item_id(item_id) == world.item_domain(i)
        assert world.item_index[item_id] == i
        assert (world.item_partner[i] is None) == (world.item_domain(i) == "course")
        assert world.item_tags[i][0] == THEME_NAMES[int(world.item_primary_theme[i])]
        assert len(world.item_tags[i]) <= 32 and len(world.item_title[i]) <= 300
    assert (world.item_price > 0).all()
    assert world.user_index("user-000299") == 299


def test_hundred_thousand_items_build_quickly() -> None:
    started = time.perf_counter()
    world = World(seed=2, n_users=5_000, n_items=100_000)
    elapsed = time.perf_counter() - started
    assert len(world.item_ids) == 100_000 == len(world.item_index)
    assert elapsed < 2.0, elapsed


def test_same_seed_same_world() -> None:
    a, b, c = World(seed=3, n_users=50, n_items=200), World(3, 50, 200), World(4, 50, 200)
    assert a.item_ids == b.item_ids and a.item_tags == b.item_tags
    assert np.array_equal(a.user_taste, b.user_taste)
    assert np.array_equal(a.item_price, b.item_price)
    assert not np.array_equal(a.user_taste, c.user_taste)


def test_themes_connect_domains_through_shared_tags() -> None:
    world = World(seed=4, n_users=10, n_items=2_000)
    cooking = THEME_NAMES.index("cooking")
    course_tags = {
        t
        for i in range(world.n_items)
        if world.item_domain(i) == "course" and world.item_primary_theme[i] == cooking
        for t in world.item_tags[i]
    }
    food_tags = {
        t
        for i in range(world.n_items)
        if world.item_domain(i) == "fresh_food" and world.item_primary_theme[i] == cooking
        for t in world.item_tags[i]
    }
    assert {"cooking", "italian"} <= course_tags & food_tags
    style = THEME_NAMES.index("style")
    fashion = [i for i in range(world.n_items) if world.item_domain(i) == "fashion"]
    share = np.mean([world.item_primary_theme[i] == style for i in fashion])
    assert share > 0.4  # style dominates fashion


def test_truth_prefers_matching_theme_and_top_positions() -> None:
    world = World(seed=5, n_users=500, n_items=1_000)
    cooking = THEME_NAMES.index("cooking")
    cook = int(np.argmax(world.user_taste[:, cooking]))
    non_cook = int(np.argmin(world.user_taste[:, cooking]))
    cooking_food = np.array(
        [
            i
            for i in range(world.n_items)
            if world.item_domain(i) == "fresh_food" and world.item_primary_theme[i] == cooking
        ]
    )
    p_cook = world.click_probabilities(cook, cooking_food).mean()
    p_other = world.click_probabilities(non_cook, cooking_food).mean()
    assert p_cook > 2 * p_other
    item = world.item_ids[int(cooking_food[0])]
    by_position = [world.true_click_probability(cook, item, pos) for pos in range(10)]
    assert by_position == sorted(by_position, reverse=True)
    assert all(0.0 < p < 1.0 for p in by_position)
    assert world.true_click_probability(f"user-{cook:06d}", item) == by_position[0]
    buy = world.purchase_propensity(cook, item)
    assert 0.0 < buy < 1.0
    assert buy > world.purchase_propensity(non_cook, item)


def test_expected_clicks_ranks_a_good_list_above_popularity() -> None:
    world = World(seed=6, n_users=200, n_items=1_500)
    popular = [world.item_ids[i] for i in world.popular_items[:10]]
    gains = []
    for u in range(200):
        p = world.click_probabilities(u, np.arange(world.n_items))
        best = [world.item_ids[i] for i in np.argsort(-p)[:10]]
        gains.append(world.expected_clicks(u, best) - world.expected_clicks(u, popular))
    assert min(gains) >= 0.0 and np.mean(gains) > 0.5
    assert world.expected_clicks(0, ["nope"]) == 0.0


def test_bad_sizes_and_unknown_users_are_rejected() -> None:
    with pytest.raises(ValueError, match="n_items"):
        World(n_items=3)
    with pytest.raises(ValueError, match="n_users"):
        World(n_users=0)
    world = World(seed=1, n_users=5, n_items=10)
    for bad in ("user-000005", "user-abc", "bob", -1, 5):
        with pytest.raises(KeyError):
            world.user_index(bad)

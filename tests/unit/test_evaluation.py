"""Closed loop against the simulator's ground truth: the full ranker must clearly beat
popularity on the true click-through of the lists it serves (same run, same traffic)."""

from __future__ import annotations

from typing import Any

import pytest

from streams.evaluation import closed_loop


def test_full_ranker_beats_popularity_on_ground_truth_ctr() -> None:
    result = closed_loop(
        events=8_000, users=500, items=600, seed=2, experiment="t:full=50,popularity=50"
    )
    full, popularity = result["variants"]["full"], result["variants"]["popularity"]
    assert full["lists"] > 500
    assert popularity["lists"] > 500
    assert full["ground_truth_ctr"] >= 1.3 * popularity["ground_truth_ctr"], result
    # The realised clicks follow the truth (no bookkeeping drift between the two).
    assert abs(full["realised_ctr"] - full["ground_truth_ctr"]) < 0.03
    for variant in (full, popularity):
        assert 0 < variant["ground_truth_recall@10"] <= 1
        assert variant["labels"] > 1_000 and 0 < variant["label_ctr"] < 1
        assert 0 <= variant["ctr_auc"] <= 1
    # The full ranker's served p_click ranks clicked items above the others, and promises
    # about the click rate that followed (uncalibrated it promised ~2x: 0.32 vs 0.17).
    assert full["ctr_auc"] > 0.5
    assert abs(full["mean_p_click"] - full["label_ctr"]) < 0.05


def test_one_arm_does_not_move_another_arms_figures() -> None:
    """The arms of a run are independent: with the other arm swapped from the full ranker to
    MF only, the same users in the popularity arm see exactly the same traffic, lists and
    outcomes (the simulator draws per user; each variant learns from its own users).

    Not the served p_click's figures: the worker has one label clock, so when an arm's
    windows close (and its calibration learns) follows every arm's event times."""

    def popularity_arm(other: str) -> dict[str, float]:
        run = closed_loop(
            events=3_000, users=200, items=200, seed=4, experiment=f"t:{other}=50,popularity=50"
        )
        assert run["variants"][other]["lists"] > 100
        served_p = ("mean_p_click", "ctr_logloss", "ctr_auc")
        return {k: v for k, v in run["variants"]["popularity"].items() if k not in served_p}

    with_full = popularity_arm("full")
    assert with_full["lists"] > 100 and with_full["realised_ctr"] > 0
    assert popularity_arm("mf_only") == with_full


def test_best_items_are_the_users_most_clickable() -> None:
    from simulator.world import World

    world = World(seed=3, n_users=20, n_items=300)
    best = world.best_items(4, 10)
    p = {i: world.true_click_probability(4, i) for i in world.item_ids}
    threshold = sorted(p.values(), reverse=True)[9]
    assert len(best) == 10
    assert all(p[i] >= threshold for i in best)


def test_evaluate_over_seeds_summarises_the_runs(capsys: pytest.CaptureFixture[str]) -> None:
    import argparse
    import statistics

    import orjson

    from streams.evaluation import configure_parser, run
    from streams.settings import Settings

    parser = argparse.ArgumentParser()
    configure_parser(parser)
    args = parser.parse_args(
        ["--events", "600", "--users", "60", "--items", "80", "--seeds", "1-2",
         "--experiment", "t:full=50,popularity=50"]
    )  # fmt: skip
    assert run(args, Settings.from_env({})) == 0
    result = orjson.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert [r["seed"] for r in result["runs"]] == [1, 2]
    ctr = [r["variants"]["full"]["ground_truth_ctr"] for r in result["runs"]]
    row = result["summary"]["full"]["ground_truth_ctr"]
    assert row["mean"] == pytest.approx(statistics.fmean(ctr), abs=1e-5)
    assert row["wins"] == sum(
        r["variants"]["full"]["ground_truth_ctr"] > r["variants"]["popularity"]["ground_truth_ctr"]
        for r in result["runs"]
    )
    assert "wins" not in result["summary"]["popularity"]["ground_truth_ctr"]


def test_the_oracle_leaves_out_what_no_list_may_show(monkeypatch: pytest.MonkeyPatch) -> None:
    """Recall is against the best list the rules allow: the oracle excludes exactly what the
    service excludes for every arm (CROSSREC_NEVER_REOFFER: by default partner orders too)."""
    from simulator.world import World

    excluded: set[str] = set()
    original = World.best_items

    def spy(self: World, user: int | str, k: int, **kwargs: Any) -> set[str]:
        excluded.update(kwargs.get("exclude", ()))
        return original(self, user, k, **kwargs)

    monkeypatch.setattr(World, "best_items", spy)
    run = {"events": 3_000, "users": 200, "items": 200, "seed": 4, "experiment": "t:full=1"}
    closed_loop(**run)  # type: ignore[arg-type]
    assert {i.split("-")[0] for i in excluded} > {"course"}  # orders as well as courses
    excluded.clear()
    closed_loop(**run, never_reoffer="course")  # type: ignore[arg-type]
    assert excluded and {i.split("-")[0] for i in excluded} == {"course"}

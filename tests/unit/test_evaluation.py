"""Closed loop against the simulator's ground truth: the full ranker must clearly beat
popularity on the true click-through of the lists it serves (same run, same traffic)."""

from __future__ import annotations

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

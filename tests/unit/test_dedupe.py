from __future__ import annotations

import pickle
from collections import OrderedDict

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams import dedupe
from streams.dedupe import RecentIds


class Reference:
    """The obvious implementation (an ordered dict of id -> time seen) to compare against."""

    def __init__(self, capacity: int, window_s: float) -> None:
        self.capacity, self.window_s = capacity, window_s
        self.seen: OrderedDict[str, float] = OrderedDict()

    def check_and_add(self, event_id: str, now: float) -> bool:
        while self.seen and next(iter(self.seen.values())) < now - self.window_s:
            self.seen.popitem(last=False)
        if event_id in self.seen:
            return True
        self.seen[event_id] = now
        if len(self.seen) > self.capacity:
            self.seen.popitem(last=False)
        return False


def test_second_sighting_is_a_duplicate() -> None:
    seen = RecentIds(capacity=10, window_s=60)
    assert not seen.check_and_add("a", now=0)
    assert seen.check_and_add("a", now=1)


def test_window_forgets_old_ids() -> None:
    seen = RecentIds(capacity=10, window_s=60)
    seen.check_and_add("a", now=0)
    assert not seen.check_and_add("a", now=61)


def test_capacity_must_be_positive() -> None:
    with pytest.raises(ValueError, match="capacity"):
        RecentIds(capacity=0)


# Ids drawn from a small alphabet repeat often; times mostly move forward but may step back.
steps = st.lists(
    st.tuples(st.text(alphabet="abcdefgh", max_size=2), st.floats(-5, 30)), max_size=300
)


def _run_both(
    seen: RecentIds, ref: Reference, ops: list[tuple[str, float]], start: float = 0.0
) -> float:
    now = start
    for event_id, step in ops:
        now += step
        assert seen.check_and_add(event_id, now) == ref.check_and_add(event_id, now), event_id
        assert len(seen) == len(ref.seen) <= seen.capacity
        assert all(held in seen for held in ref.seen)
    return now


@given(steps, st.integers(1, 12), st.sampled_from([10.0, 60.0, 1e9]))
def test_agrees_with_an_ordered_dict(
    ops: list[tuple[str, float]], capacity: int, window_s: float
) -> None:
    _run_both(RecentIds(capacity, window_s), Reference(capacity, window_s), ops)


@given(steps, st.integers(1, 12))
def test_agrees_when_every_id_collides_on_its_home_slot(
    ops: list[tuple[str, float]], capacity: int
) -> None:
    """Distinct digests with two home slots, one the table's last: long probe chains that
    wrap around, so deletions must shift chain members back correctly."""
    real = dedupe._digest

    def clustered(event_id: str) -> int:
        key = real(event_id) >> 8 << 8
        # Homes 3 or the table's last slot (tables of up to 256 slots): chains that wrap.
        return key | (0xFF if key & 0x100 else 0x03)

    dedupe._digest = clustered
    try:
        _run_both(RecentIds(capacity, 1e9), Reference(capacity, 1e9), ops)
    finally:
        dedupe._digest = real


@given(steps, st.integers(1, 12))
def test_pickle_round_trip_keeps_what_is_held(ops: list[tuple[str, float]], capacity: int) -> None:
    half = len(ops) // 2
    seen, ref = RecentIds(capacity, 60.0), Reference(capacity, 60.0)
    now = _run_both(seen, ref, ops[:half])
    restored = pickle.loads(pickle.dumps(seen))
    assert len(restored) == len(seen)
    _run_both(restored, ref, ops[half:], start=now)

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from streams.dedupe import RecentIds


def test_second_sighting_is_a_duplicate() -> None:
    seen = RecentIds(capacity=10, window_s=60)
    assert not seen.check_and_add("a", now=0)
    assert seen.check_and_add("a", now=1)


def test_window_forgets_old_ids() -> None:
    seen = RecentIds(capacity=10, window_s=60)
    seen.check_and_add("a", now=0)
    assert not seen.check_and_add("a", now=61)


@given(st.lists(st.text(max_size=4), max_size=200), st.integers(1, 20))
def test_never_holds_more_than_capacity(ids: list[str], capacity: int) -> None:
    seen = RecentIds(capacity=capacity, window_s=1e9)
    for i, event_id in enumerate(ids):
        seen.check_and_add(event_id, now=float(i))
        assert len(seen) <= capacity

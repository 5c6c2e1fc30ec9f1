from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from streams.label_join import LabelJoin


def test_click_inside_window_is_positive_and_rest_negative() -> None:
    join = LabelJoin(window_s=60)
    assert join.impression("r1", "u", ("a", "b", "c"), (0, 1, 2), ts=0) == []
    [clicked] = join.click("r1", "b", ts=30)
    assert (clicked.item_id, clicked.clicked, clicked.position) == ("b", True, 1)
    rest = join.advance(ts=61)
    assert sorted((label.item_id, label.clicked) for label in rest) == [
        ("a", False),
        ("c", False),
    ]
    assert len(join) == 0


def test_click_after_window_does_not_count() -> None:
    join = LabelJoin(window_s=60)
    join.impression("r1", "u", ("a",), (0,), ts=0)
    labels = join.click("r1", "a", ts=120)
    assert [(label.item_id, label.clicked) for label in labels] == [("a", False)]


def test_replayed_impressions_and_clicks_label_once() -> None:
    join = LabelJoin(window_s=60)
    join.impression("r1", "u", ("a",), (0,), ts=0)
    join.impression("r1", "u", ("a",), (0,), ts=1)
    first = join.click("r1", "a", ts=2)
    second = join.click("r1", "a", ts=3)
    assert [label.clicked for label in first] == [True]
    assert second == []
    assert join.advance(ts=1000) == []


@given(
    st.lists(
        st.tuples(st.sampled_from(["imp", "click"]), st.integers(0, 5), st.integers(0, 3)),
        max_size=80,
    )
)
def test_every_shown_item_is_labelled_exactly_once(ops: list[tuple[str, int, int]]) -> None:
    join = LabelJoin(window_s=10)
    labels = []
    shown: set[tuple[str, str]] = set()
    for ts, (op, rec, item) in enumerate(ops):
        if op == "imp":
            labels += join.impression(f"r{rec}", "u", (f"i{item}",), (0,), ts=ts)
            shown.add((f"r{rec}", f"i{item}"))
        else:
            labels += join.click(f"r{rec}", f"i{item}", ts=ts)
    labels += join.advance(ts=10**9)
    keys = [(label.rec_id, label.item_id) for label in labels]
    assert len(keys) == len(set(keys))
    assert set(keys) == shown

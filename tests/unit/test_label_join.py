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


def test_a_list_shown_in_two_impressions_closes_once_from_the_first() -> None:
    join = LabelJoin(window_s=60)
    join.impression("r1", "u", ("a", "b"), (0, 1), ts=0)
    join.impression("r1", "u", ("b", "c"), (1, 2), ts=30)  # scrolled: c is new, b is not
    assert len(join) == 3
    assert [(label.item_id, label.position, label.impression_ts) for label in join.advance(61)] == [
        ("a", 0, 0),
        ("b", 1, 0),
        ("c", 2, 0),
    ]
    assert join.impression("r1", "u", ("a", "c"), (0, 2), ts=62) == []  # a replay opens nothing
    assert len(join) == 0


def test_forget_user_drops_their_open_lists_unlabelled() -> None:
    join = LabelJoin(window_s=60)
    join.impression("r1", "gone", ("a", "b"), (0, 1), ts=0)
    join.impression("r2", "kept", ("a",), (0,), ts=1)
    join.forget_user("gone")
    assert len(join) == 1
    assert join.click("r1", "a", ts=2) == []
    assert [(label.rec_id, label.user) for label in join.advance(ts=1000)] == [("r2", "kept")]


def test_over_the_bound_the_oldest_list_is_labelled_not_clicked() -> None:
    join = LabelJoin(window_s=60, max_open=3)
    join.impression("r1", "u", ("a", "b"), (0, 1), ts=0)
    join.click("r1", "a", ts=1)
    expired = join.impression("r2", "u", ("c", "d", "e"), (0, 1, 2), ts=2)
    assert [(label.rec_id, label.item_id, label.clicked) for label in expired] == [
        ("r1", "b", False)
    ]
    assert len(join) == 3


class _Reference:
    """The join's documented semantics, written plainly: per list, the first impression's
    time and every slot; labelled slots are never labelled again."""

    def __init__(self, window_s: float) -> None:
        self.window_s = window_s
        self.open: dict[str, tuple[float, dict[str, int]]] = {}
        self.labelled: set[tuple[str, str]] = set()

    def impression(
        self, rec: str, items: tuple[str, ...], positions: tuple[int, ...], ts: float
    ) -> list[tuple[str, str, int, bool]]:
        out = self.advance(ts)
        _, slots = self.open.setdefault(rec, (ts, {}))
        for item, position in zip(items, positions, strict=True):
            if (rec, item) not in self.labelled and item not in slots:
                slots[item] = position
        if not slots:
            del self.open[rec]
        return out

    def click(self, rec: str, item: str, ts: float) -> list[tuple[str, str, int, bool]]:
        out = self.advance(ts)
        if rec in self.open and item in self.open[rec][1]:
            out.append((rec, item, self.open[rec][1].pop(item), True))
            self.labelled.add((rec, item))
        return out

    def advance(self, ts: float) -> list[tuple[str, str, int, bool]]:
        out = []
        for rec, (shown_at, slots) in sorted(self.open.items(), key=lambda kv: (kv[1][0], kv[0])):
            if shown_at + self.window_s < ts:
                out += [(rec, item, position, False) for item, position in slots.items()]
                self.labelled |= {(rec, item) for item in slots}
                del self.open[rec]
        return out


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["imp", "click"]),
            st.integers(0, 4),
            st.lists(st.integers(0, 3), min_size=1, max_size=4),
            st.integers(0, 7),
        ),
        max_size=60,
    )
)
def test_labels_match_the_plain_semantics(ops: list[tuple[str, int, list[int], int]]) -> None:
    """Against a plain reference: the same labels in the same order, clicks included, every
    shown item labelled exactly once, and len() the open slots at every step."""
    join, reference = LabelJoin(window_s=10), _Reference(window_s=10)
    ts = 0
    for op, rec, items, gap in ops:
        ts += gap
        names = tuple(f"i{i}" for i in items)
        if op == "imp":
            positions = tuple(range(len(names)))
            got = join.impression(f"r{rec}", "u", names, positions, ts=ts)
            want = reference.impression(f"r{rec}", names, positions, ts)
        else:
            got = join.click(f"r{rec}", names[0], ts=ts)
            want = reference.click(f"r{rec}", names[0], ts)
        assert [(g.rec_id, g.item_id, g.position, g.clicked) for g in got] == want
        assert len(join) == sum(len(slots) for _, slots in reference.open.values())
    got = join.advance(ts=10**9)
    assert [(g.rec_id, g.item_id, g.position, g.clicked) for g in got] == reference.advance(10**9)

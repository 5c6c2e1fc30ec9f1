from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from streams.label_join import LabelJoin


def test_a_list_closes_with_its_clicks_and_non_clicks_together() -> None:
    join = LabelJoin(window_s=60)
    assert join.impression("r1", "u", ("a", "b", "c"), (0, 1, 2), ts=0) == []
    assert join.click("r1", "b") is True
    assert join.advance(ts=30) == []  # clicked, but labelled when the window closes
    assert len(join) == 3
    labels = join.advance(ts=61)
    assert [(label.item_id, label.clicked, label.position) for label in labels] == [
        ("a", False, 0),
        ("b", True, 1),
        ("c", False, 2),
    ]
    assert len(join) == 0


def test_click_after_window_does_not_count() -> None:
    join = LabelJoin(window_s=60)
    join.impression("r1", "u", ("a",), (0,), ts=0)
    labels = join.advance(ts=120)
    assert join.click("r1", "a") is False
    assert [(label.item_id, label.clicked) for label in labels] == [("a", False)]


def test_replayed_impressions_and_clicks_label_once() -> None:
    join = LabelJoin(window_s=60)
    join.impression("r1", "u", ("a",), (0,), ts=0)
    join.impression("r1", "u", ("a",), (0,), ts=1)
    assert join.click("r1", "a") is True
    assert join.click("r1", "a") is False  # clicked already
    assert join.click("r1", "unshown") is False and join.click("r-none", "a") is False
    assert [label.clicked for label in join.advance(ts=1000)] == [True]
    assert join.impression("r1", "u", ("a",), (0,), ts=1001) == []  # remembered: opens nothing
    assert join.advance(ts=2000) == []


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
            labels += join.advance(ts)
            join.click(f"r{rec}", f"i{item}")
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
    assert join.click("r1", "b") is True
    join.forget_user("gone")  # clicked or not, nothing of theirs is labelled
    assert len(join) == 1
    assert join.click("r1", "a") is False
    assert [(label.rec_id, label.user) for label in join.advance(ts=1000)] == [("r2", "kept")]


def test_over_the_bound_the_oldest_list_closes_early_with_its_clicks() -> None:
    join = LabelJoin(window_s=60, max_open=3)
    join.impression("r1", "u", ("a", "b"), (0, 1), ts=0)
    join.click("r1", "a")
    expired = join.impression("r2", "u", ("c", "d", "e"), (0, 1, 2), ts=2)
    assert [(label.rec_id, label.item_id, label.clicked) for label in expired] == [
        ("r1", "a", True),
        ("r1", "b", False),
    ]
    assert len(join) == 3


class _Reference:
    """The join's documented semantics, written plainly: per list, the first impression's
    time, its slots in order and which were clicked; a list comes out whole when its window
    closes, and its slots are never labelled again."""

    def __init__(self, window_s: float) -> None:
        self.window_s = window_s
        self.open: dict[str, tuple[float, dict[str, int], set[str]]] = {}
        self.labelled: set[tuple[str, str]] = set()

    def impression(
        self, rec: str, items: tuple[str, ...], positions: tuple[int, ...], ts: float
    ) -> list[tuple[str, str, int, bool]]:
        out = self.advance(ts)
        _, slots, _ = self.open.setdefault(rec, (ts, {}, set()))
        for item, position in zip(items, positions, strict=True):
            if (rec, item) not in self.labelled and item not in slots:
                slots[item] = position
        if not slots:
            del self.open[rec]
        return out

    def click(self, rec: str, item: str) -> bool:
        if rec not in self.open or item not in self.open[rec][1] or item in self.open[rec][2]:
            return False
        self.open[rec][2].add(item)
        return True

    def advance(self, ts: float) -> list[tuple[str, str, int, bool]]:
        out = []
        for rec, (shown_at, slots, clicked) in sorted(
            self.open.items(), key=lambda kv: (kv[1][0], kv[0])
        ):
            if shown_at + self.window_s < ts:
                out += [(rec, item, pos, item in clicked) for item, pos in slots.items()]
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
    """Against a plain reference: the same labels in the same order, clicks with their
    lists, every shown item labelled exactly once, and len() the open slots at every step."""
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
            got = join.advance(ts)
            want = reference.advance(ts)
            assert join.click(f"r{rec}", names[0]) == reference.click(f"r{rec}", names[0])
        assert [(g.rec_id, g.item_id, g.position, g.clicked) for g in got] == want
        assert len(join) == sum(len(slots) for _, slots, _ in reference.open.values())
    got = join.advance(ts=10**9)
    assert [(g.rec_id, g.item_id, g.position, g.clicked) for g in got] == reference.advance(10**9)

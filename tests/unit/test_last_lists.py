"""LastLists against a plain reference: the same answers, packed."""

from __future__ import annotations

import pickle
from collections import OrderedDict

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.last_lists import LastLists

USERS = st.sampled_from([f"u{n}" for n in range(6)])
ITEMS = st.sampled_from([f"item-{n}" for n in range(12)])
VARIANTS = st.sampled_from(["full", "mf_only", "popularity"])
STEPS = st.lists(
    st.one_of(
        st.tuples(
            st.just("serve"),
            USERS,
            st.floats(0, 1e9),
            VARIANTS,
            st.lists(ITEMS, max_size=5, unique=True),
        ),
        st.tuples(st.just("forget"), USERS),
    ),
    max_size=60,
)


@given(STEPS, st.integers(1, 5))
def test_answers_like_a_plain_record_per_user(steps: list[tuple], limit: int) -> None:  # type: ignore[type-arg]
    lists = LastLists(limit=limit, drop_fraction=0.4)
    reference: OrderedDict[str, tuple[float, str, tuple[str, ...]]] = OrderedDict()
    for step in steps:
        if step[0] == "forget":
            lists.forget(step[1])
            reference.pop(step[1], None)
            continue
        _, user, ts, variant, items = step
        lists.remember(user, ts, variant, items)
        reference.pop(user, None)
        reference[user] = (ts, variant, tuple(items))
        if len(reference) > limit:
            for _ in range(max(1, int(limit * 0.4))):
                reference.popitem(last=False)  # least recently served first
        assert list(lists) == list(reference)
        for other, (served_at, by, shown) in reference.items():
            assert lists.served_at(other) == served_at
            probe = [*shown, "item-never-served", "item-0"]
            assert lists.hits(other, probe) == (by, [item in shown for item in probe])
    assert len(lists) == len(reference)
    back = pickle.loads(pickle.dumps(lists))
    assert list(back) == list(lists)
    assert all(back.hits(u, ["item-1"]) == lists.hits(u, ["item-1"]) for u in lists)


def test_unknown_users() -> None:
    lists = LastLists(limit=3)
    assert lists.served_at("nobody") is None and "nobody" not in lists
    with pytest.raises(KeyError):
        lists.hits("nobody", ["item-0"])
    with pytest.raises(ValueError, match="at least 1"):
        LastLists(limit=0)


def test_a_list_of_ten_takes_a_fraction_of_the_tuple_it_replaces() -> None:
    lists = LastLists(limit=10)
    items = tuple(f"fashion-{n:06d}" for n in range(10))
    lists.remember("p:" + "0" * 32, 1.7e9, "full", items)
    packed = lists._lists["p:" + "0" * 32]
    assert len(packed) == 9 + 4 * 10  # when, variant, ten item numbers

"""The list each user was last served, packed: when, by which variant, which items.

The service keeps one per user it ever served, up to a million by default, for the debounce
(when) and the online hit rate (which variant, which items). As Python objects (a named tuple
of a float, a string and a tuple of ten item ids, in an ``OrderedDict``) that took ~370 B per
user; packed into one ``bytes`` of 9 + 4k bytes in a plain dict, ~120 B.

Items are kept as small integers, numbered in the order this structure first sees them (one
dict entry per distinct item served), so hit rate compares numbers. Users are dropped least
recently served first, a slice at a time when over the limit (dropping one at a time from the
front of a plain dict costs a scan over the holes left by earlier drops).

>>> lists = LastLists(limit=2)
>>> lists.remember("u1", 10.0, "full", ("a", "b"))
>>> lists.served_at("u1"), lists.hits("u1", ["b", "c"]), lists.served_at("nobody")
(10.0, ('full', [True, False]), None)
"""

from __future__ import annotations

import struct
from array import array
from collections.abc import Iterable, Iterator, Sequence
from itertools import islice

_HEAD = struct.Struct("<dB")  # served at (Unix seconds), variant number


class LastLists:
    """Per user, the last list served (bounded: least recently served dropped first)."""

    __slots__ = ("_item_numbers", "_lists", "_variants", "drop_fraction", "limit")

    def __init__(self, limit: int, drop_fraction: float = 0.01) -> None:
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit!r}")
        self.limit = limit
        self.drop_fraction = drop_fraction
        self._lists: dict[str, bytes] = {}
        self._item_numbers: dict[str, int] = {}
        self._variants: list[str] = []

    def __len__(self) -> int:
        return len(self._lists)

    def __contains__(self, user: object) -> bool:
        return user in self._lists

    def __iter__(self) -> Iterator[str]:
        return iter(self._lists)

    def remember(self, user: str, served_at: float, variant: str, items: Sequence[str]) -> None:
        """``user`` was just served ``items`` by ``variant`` at ``served_at``."""
        try:
            variant_number = self._variants.index(variant)
        except ValueError:
            variant_number = len(self._variants)
            self._variants.append(variant)
        numbers = self._item_numbers
        packed = array("i", (numbers.setdefault(item, len(numbers)) for item in items))
        self._lists.pop(user, None)  # re-inserted last: the most recently served
        self._lists[user] = _HEAD.pack(served_at, variant_number) + packed.tobytes()
        if len(self._lists) > self.limit:
            self._drop_oldest(max(1, int(self.limit * self.drop_fraction)))

    def served_at(self, user: str) -> float | None:
        """When ``user`` was last served, or None."""
        packed = self._lists.get(user)
        return None if packed is None else float(_HEAD.unpack_from(packed)[0])

    def hits(self, user: str, items: Iterable[str]) -> tuple[str, list[bool]]:
        """The variant of ``user``'s last list and, for each of ``items``, whether the list
        held it; ``KeyError`` if ``user`` has none."""
        packed = self._lists[user]
        shown = array("i")
        shown.frombytes(packed[_HEAD.size :])
        numbers = self._item_numbers
        return self._variants[packed[8]], [numbers.get(item, -1) in shown for item in items]

    def forget(self, user: str) -> None:
        self._lists.pop(user, None)

    def _drop_oldest(self, n: int) -> None:
        for user in list(islice(self._lists, n)):
            del self._lists[user]

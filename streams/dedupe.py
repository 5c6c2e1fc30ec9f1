"""A bounded memory of recently seen event ids, so replays and producer retries count once.

Bounded two ways: at most ``capacity`` ids, and ids older than ``window_s`` (by the time they
were seen) are forgotten first, oldest first.

Why not a dict of ids: with a million ids (the service and the ingest worker each keep that
many) an ``OrderedDict[str, float]`` took ~190 B per id — the id string, the float and the
ordered entry — ~180 MiB each. Here an id is its 64-bit BLAKE2b digest, kept in an
open-addressing hash table (linear probing, at most half full, deletion by backward shift:
no tombstones) plus a ring of (digest, time) in arrival order for eviction: 32 B per id
of capacity, allocated lazily (untouched pages cost nothing). Two distinct ids share a
digest with probability ~n²/2⁶⁵ (~3·10⁻⁸ for a million held at once); the only effect
would be one event taken for a duplicate.

>>> seen = RecentIds(capacity=2, window_s=60)
>>> seen.check_and_add("a", now=0), seen.check_and_add("a", now=1)
(False, True)
>>> seen.check_and_add("b", now=2), seen.check_and_add("c", now=3), "a" in seen, len(seen)
(False, False, False, 2)
>>> seen.check_and_add("b", now=100), "c" in seen  # both older than the window by now
(False, False)
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np


def _digest(event_id: str) -> int:
    """A non-zero 64-bit digest (0 marks an empty slot); stable across processes, unlike
    ``hash``, so a restored snapshot still recognises the ids it holds."""
    key = int.from_bytes(hashlib.blake2b(event_id.encode(), digest_size=8).digest(), "little")
    return key or 1


class RecentIds:
    __slots__ = (
        "_count",
        "_head",
        "_mask",
        "_ring_keys",
        "_ring_times",
        "_rk",
        "_rt",
        "_table",
        "_tk",
        "capacity",
        "window_s",
    )

    def __init__(self, capacity: int = 1_000_000, window_s: float = 24 * 3600) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, got {capacity!r}")
        self.capacity = capacity
        self.window_s = window_s
        slots = 1 << (2 * capacity - 1).bit_length()  # a power of two >= 2 * capacity
        self._mask = slots - 1
        self._table = np.zeros(slots, dtype=np.uint64)
        self._ring_keys = np.zeros(capacity, dtype=np.uint64)
        self._ring_times = np.zeros(capacity, dtype=np.float64)
        self._head = 0  # ring position of the oldest id
        self._count = 0
        self._views()

    def _views(self) -> None:
        # Element access through memoryviews returns plain ints/floats, ~3x faster than
        # indexing numpy arrays one scalar at a time.
        self._tk = self._table.data
        self._rk = self._ring_keys.data
        self._rt: Any = self._ring_times.data  # floats (typeshed types memoryview items int)

    def __len__(self) -> int:
        return self._count

    def __contains__(self, event_id: object) -> bool:
        if not isinstance(event_id, str):
            return False
        key = _digest(event_id)
        return bool(self._tk[self._slot(key)] == key)

    def check_and_add(self, event_id: str, now: float) -> bool:
        """True if ``event_id`` was already seen inside the window; records it otherwise."""
        self._evict(now - self.window_s)
        key = _digest(event_id)
        slot = self._slot(key)
        if self._tk[slot] == key:
            return True
        if self._count == self.capacity:
            self._drop_oldest()
            slot = self._slot(key)  # the drop may have shifted this probe chain
        self._tk[slot] = key
        tail = (self._head + self._count) % self.capacity
        self._rk[tail] = key
        self._rt[tail] = now
        self._count += 1
        return False

    def _evict(self, horizon: float) -> None:
        while self._count and self._rt[self._head] < horizon:
            self._drop_oldest()

    def _drop_oldest(self) -> None:
        self._delete(self._slot(self._rk[self._head]))
        self._head = (self._head + 1) % self.capacity
        self._count -= 1

    def _slot(self, key: int) -> int:
        """The slot holding ``key``, else the empty slot that ends its probe chain."""
        table, mask = self._tk, self._mask
        slot = key & mask
        while (held := table[slot]) != 0 and held != key:
            slot = (slot + 1) & mask
        return slot

    def _delete(self, hole: int) -> None:
        """Empty ``hole`` and shift later members of its probe chain back into it, so every
        key stays reachable from its home slot without tombstones."""
        table, mask = self._tk, self._mask
        slot = hole
        while True:
            slot = (slot + 1) & mask
            key = table[slot]
            if key == 0:
                break
            # The key may move into the hole only if its home is not (cyclically) in
            # (hole, slot]; otherwise probing from its home would not pass the hole.
            if (slot - (key & mask)) & mask >= (slot - hole) & mask:
                table[hole] = key
                hole = slot
        table[hole] = 0

    def __getstate__(self) -> dict[str, Any]:
        """Only the ids held, oldest first (the table is rebuilt on load)."""
        order = (self._head + np.arange(self._count)) % self.capacity
        return {
            "capacity": self.capacity,
            "window_s": self.window_s,
            "keys": self._ring_keys[order],
            "times": self._ring_times[order],
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["capacity"], state["window_s"])  # type: ignore[misc]
        for key in state["keys"].tolist():
            self._tk[self._slot(key)] = key
        n = len(state["keys"])
        self._ring_keys[:n] = state["keys"]
        self._ring_times[:n] = state["times"]
        self._count = n

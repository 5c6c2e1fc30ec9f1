"""A bounded map from user id to a dense row, shared by the models that keep per-user state.

Why: per-user state lives in preallocated numpy arrays (a float32 row of factors, a ring of
recent item rows, decayed domain counts), not in per-user Python objects, so a million users
fit in a few hundred MB. This index hands out rows, recycles freed rows and decides whom to
evict. One index can serve several models (the full ranker's MF, item-kNN, content history
and segments share one): a user then costs one dict entry, not one per model, and the
models' rows line up.

Each model *attaches* to the index and gets a bit; the index remembers which models hold
each user, so a model still answers "do I know this user?" for itself (MF initialises a
user's factors the first time *it* sees them, whoever saw them first).

Eviction policy: every :meth:`touch` stamps the user with a monotonically increasing tick.
When more than ``max_users`` users are known, the oldest ``evict_fraction`` of the cap
(at least one user) is evicted at once — by tick, i.e. least recently *learned from* by any
model, found with one ``argpartition`` — so the amortised cost per eviction is O(1). Evicted
and removed users become unknown (cold start) again to every model: each attached model is
told their rows (:meth:`RowOwner.release_rows`) before a row is handed out again, and resets
them. Removing a user (erasure) through any model removes them from all.

>>> class Owner:
...     def __init__(self): self.released = []
...     def release_rows(self, rows): self.released += rows
>>> idx, owner = UserIndex(max_users=2, evict_fraction=0.5), Owner()
>>> bit = idx.attach(owner)
>>> idx.touch("a", bit), idx.touch("b", bit), idx.touch("a", bit)
((0, True), (1, True), (0, False))
>>> idx.touch("c", bit), owner.released, "b" in idx, len(idx)
((1, True), [1], False, 2)
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import numpy.typing as npt


class RowOwner(Protocol):
    def release_rows(self, rows: list[int]) -> None:
        """Reset ``rows`` to a never-seen user's state (rows beyond the owner's arrays were
        never written by it and need nothing)."""


class UserIndex:
    """User id → row, with a cap and least-recently-seen batch eviction."""

    def __init__(self, max_users: int | None = None, evict_fraction: float = 0.01) -> None:
        self.max_users = max_users
        self.evict_fraction = evict_fraction
        self._rows: dict[str, int] = {}
        self._ids: list[str | None] = []
        self._free: list[int] = []
        self._last_seen: npt.NDArray[np.int64] = np.zeros(1024, dtype=np.int64)
        self._held = bytearray()  # per row, one bit per attached owner holding the user
        self._owners: list[RowOwner] = []
        self._counts: list[int] = []  # users held, per owner
        self._tick = 0

    def attach(self, owner: RowOwner) -> int:
        """Register ``owner`` (told of freed rows from now on); returns its bit."""
        if len(self._owners) == 8:
            raise ValueError("a UserIndex serves at most 8 owners")
        self._owners.append(owner)
        self._counts.append(0)
        return 1 << (len(self._owners) - 1)

    def __len__(self) -> int:
        return len(self._rows)

    def __contains__(self, user: object) -> bool:
        return user in self._rows

    def count(self, bit: int) -> int:
        """Users the owner of ``bit`` holds."""
        return self._counts[bit.bit_length() - 1]

    def row(self, user: str, bit: int = 0xFF) -> int | None:
        """The row of ``user`` if the owner of ``bit`` (any owner by default) holds them,
        else None; no side effects."""
        row = self._rows.get(user)
        return row if row is not None and self._held[row] & bit else None

    def touch(self, user: str, bit: int) -> tuple[int, bool]:
        """Mark ``user`` as seen now by the owner of ``bit``; returns ``(row, new)``, ``new``
        when that owner did not hold the user (its part of the row is as released)."""
        self._tick += 1
        row = self._rows.get(user)
        if row is None:
            if self.max_users is not None and len(self._rows) >= self.max_users:
                self._evict()
            if self._free:
                row = self._free.pop()
                self._ids[row] = user
            else:
                row = len(self._ids)
                self._ids.append(user)
                self._held.append(0)
                if row >= self._last_seen.shape[0]:
                    grown = np.zeros(2 * self._last_seen.shape[0], dtype=np.int64)
                    grown[: self._last_seen.shape[0]] = self._last_seen
                    self._last_seen = grown
            self._rows[user] = row
        self._last_seen[row] = self._tick
        held = self._held[row]
        if held & bit:
            return row, False
        self._held[row] = held | bit
        self._counts[bit.bit_length() - 1] += 1
        return row, True

    def _evict(self) -> None:
        assert self.max_users is not None
        n_evict = max(1, int(self.max_users * self.evict_fraction))
        used = np.fromiter(self._rows.values(), dtype=np.int64, count=len(self._rows))
        if n_evict >= used.shape[0]:
            victims = used
        else:
            ages = self._last_seen[used]
            victims = used[np.argpartition(ages, n_evict - 1)[:n_evict]]
        rows = victims.tolist()
        for row in rows:
            user = self._ids[row]
            assert user is not None
            self._drop(user)
        self._release(rows)

    def remove(self, user: str) -> bool:
        """Forget ``user`` in every owner; False if unknown."""
        if user not in self._rows:
            return False
        self._release([self._drop(user)])
        return True

    def _drop(self, user: str) -> int:
        row = self._rows.pop(user)
        self._ids[row] = None
        self._last_seen[row] = 0
        held, self._held[row] = self._held[row], 0
        for n in range(len(self._owners)):
            self._counts[n] -= (held >> n) & 1
        self._free.append(row)
        return row

    def _release(self, rows: list[int]) -> None:
        for owner in self._owners:
            owner.release_rows(rows)


def grow_rows(array: npt.NDArray[np.generic], min_rows: int) -> npt.NDArray[np.generic]:
    """Return ``array`` with at least ``min_rows`` rows (doubling, new rows zero)."""
    n = array.shape[0]
    if min_rows <= n:
        return array
    new_n = max(min_rows, 2 * n, 16)
    grown = np.zeros((new_n, *array.shape[1:]), dtype=array.dtype)
    grown[:n] = array
    return grown

"""A bounded map from user id to a dense row, with least-recently-seen eviction.

Why: per-user state lives in preallocated numpy arrays (a float32 row of factors, a ring of
recent item rows), not in per-user Python objects, so a million users fit in a few hundred
MB. This index hands out rows, recycles freed rows and decides whom to evict.

Eviction policy: every :meth:`touch` stamps the user with a monotonically increasing tick.
When more than ``max_users`` users are known, the oldest ``evict_fraction`` of the cap
(at least one user) is evicted at once — by tick, i.e. least recently *learned from*, found
with one ``argpartition`` — so the amortised cost per eviction is O(1). Evicted users
become unknown (cold start) again; owners zero the freed rows.

>>> idx = UserIndex(max_users=2, evict_fraction=0.5)
>>> idx.touch("a")[0], idx.touch("b")[0]
(0, 1)
>>> row, evicted = idx.touch("c")
>>> evicted, "a" in idx, len(idx)
([0], False, 2)
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


class UserIndex:
    """User id → row, with a cap and least-recently-seen batch eviction."""

    def __init__(self, max_users: int | None = None, evict_fraction: float = 0.01) -> None:
        self.max_users = max_users
        self.evict_fraction = evict_fraction
        self._rows: dict[str, int] = {}
        self._ids: list[str | None] = []
        self._free: list[int] = []
        self._last_seen: npt.NDArray[np.int64] = np.zeros(1024, dtype=np.int64)
        self._tick = 0

    def __len__(self) -> int:
        return len(self._rows)

    def __contains__(self, user: object) -> bool:
        return user in self._rows

    @property
    def capacity(self) -> int:
        """One more than the highest row ever handed out (owners size their arrays to it)."""
        return len(self._ids)

    def row(self, user: str) -> int | None:
        """The row of ``user`` or None; no side effects."""
        return self._rows.get(user)

    def users(self) -> list[str]:
        return list(self._rows)

    def touch(self, user: str) -> tuple[int, list[int]]:
        """Mark ``user`` as seen now; returns ``(row, evicted_rows)``.

        A new user gets a fresh or recycled row; the caller must (re)initialise it. Rows in
        ``evicted_rows`` belonged to evicted users; the caller should zero them.
        """
        self._tick += 1
        row = self._rows.get(user)
        evicted: list[int] = []
        if row is None:
            if self.max_users is not None and len(self._rows) >= self.max_users:
                evicted = self._evict(exclude=None)
            if self._free:
                row = self._free.pop()
                self._ids[row] = user
            else:
                row = len(self._ids)
                self._ids.append(user)
                if row >= self._last_seen.shape[0]:
                    grown = np.zeros(2 * self._last_seen.shape[0], dtype=np.int64)
                    grown[: self._last_seen.shape[0]] = self._last_seen
                    self._last_seen = grown
            self._rows[user] = row
        self._last_seen[row] = self._tick
        return row, evicted

    def _evict(self, exclude: int | None) -> list[int]:
        assert self.max_users is not None
        n_evict = max(1, int(self.max_users * self.evict_fraction))
        used = np.fromiter(self._rows.values(), dtype=np.int64, count=len(self._rows))
        if n_evict >= used.shape[0]:
            victims = used
        else:
            ages = self._last_seen[used]
            victims = used[np.argpartition(ages, n_evict - 1)[:n_evict]]
        out: list[int] = []
        for r in victims.tolist():
            user = self._ids[r]
            if user is not None:
                self._remove(user)
                out.append(r)
        return out

    def remove(self, user: str) -> int | None:
        """Forget ``user``; returns its freed row (for the owner to zero) or None."""
        if user not in self._rows:
            return None
        return self._remove(user)

    def _remove(self, user: str) -> int:
        row = self._rows.pop(user)
        self._ids[row] = None
        self._last_seen[row] = 0
        self._free.append(row)
        return row


def grow_rows(array: npt.NDArray[np.generic], min_rows: int) -> npt.NDArray[np.generic]:
    """Return ``array`` with at least ``min_rows`` rows (doubling, new rows zero)."""
    n = array.shape[0]
    if min_rows <= n:
        return array
    new_n = max(min_rows, 2 * n, 16)
    grown = np.zeros((new_n, *array.shape[1:]), dtype=array.dtype)
    grown[:n] = array
    return grown

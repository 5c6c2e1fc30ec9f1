"""The item catalogue: every :class:`ItemInfo` once, with a dense integer row per item.

Why dense rows: models keep numpy mirrors (item factors, popularity, neighbour tables) whose
row ``r`` belongs to item ``catalogue.ids[r]`` forever, so scoring the whole catalogue is one
vectorised operation and masks (active, domain) are boolean/int arrays of the same length.
Rows are never reused: a deactivated item keeps its row (it may come back).

>>> cat = Catalogue()
>>> cat.upsert(ItemInfo("c1", "course"))
0
>>> cat.upsert(ItemInfo("f1", "fresh_food", partner="p1"))
1
>>> cat.upsert(ItemInfo("c1", "course", active=False))
0
>>> cat.is_active("c1"), len(cat), sorted(cat.ids_in_domain("fresh_food")), cat.n_inactive
(False, 2, ['f1'], 1)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import numpy.typing as npt

from online_models.row_bridge import rows_by_id
from online_models.types import DOMAINS, Domain, ItemInfo

DOMAIN_CODE: dict[Domain, int] = {d: i for i, d in enumerate(DOMAINS)}
"""Stable small integer per domain (index into :data:`~online_models.types.DOMAINS`)."""


class Catalogue:
    """Catalogue of items with active flags, a by-domain index and dense rows.

    ``active`` and ``domain_codes`` are numpy views of length ``len(self)``; they are
    replaced (not resized in place) when the catalogue grows, so take them fresh each time.
    """

    def __init__(self, initial_capacity: int = 1024) -> None:
        self.initial_capacity = initial_capacity
        self._items: dict[str, ItemInfo] = {}
        self._rows: dict[str, int] = {}
        self._ids: list[str] = []
        cap = max(1, initial_capacity)
        self._active = np.zeros(cap, dtype=bool)
        self._domain = np.zeros(cap, dtype=np.int8)
        self.version = 0
        """Incremented on every change, so mirrors can tell whether they are stale."""
        self.n_inactive = 0
        """Rows whose item is inactive: while 0, readers can skip the active mask."""

    def __len__(self) -> int:
        return len(self._ids)

    # Pickling 100k frozen dataclasses one by one costs ~0.4 s; plain tuples ~20 ms.
    def __getstate__(self) -> dict[str, object]:
        state = self.__dict__.copy()
        state["_items"] = [
            (it.item_id, it.domain, it.partner, it.title, it.tags, it.price, it.active)
            for it in self._items.values()
        ]
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        rows = state.pop("_items")
        self.__dict__.update(state)
        self._items = {r[0]: ItemInfo(*r) for r in rows}  # type: ignore[attr-defined]

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._items

    def upsert(self, item: ItemInfo) -> int:
        """Add or replace ``item``; returns its (stable) row."""
        row = self._rows.get(item.item_id)
        was_inactive = row is not None and not self._active[row]
        if row is None:
            row = len(self._ids)
            if row >= self._active.shape[0]:
                self._grow(2 * self._active.shape[0])
            self._rows[item.item_id] = row
            self._ids.append(item.item_id)
        self._items[item.item_id] = item
        self.n_inactive += int(not item.active) - int(was_inactive)
        self._active[row] = item.active
        self._domain[row] = DOMAIN_CODE[item.domain]
        self.version += 1
        return row

    def _grow(self, capacity: int) -> None:
        active = np.zeros(capacity, dtype=bool)
        domain = np.zeros(capacity, dtype=np.int8)
        n = self._active.shape[0]
        active[:n] = self._active
        domain[:n] = self._domain
        self._active, self._domain = active, domain

    def get(self, item_id: str) -> ItemInfo | None:
        return self._items.get(item_id)

    def row(self, item_id: str) -> int | None:
        """The dense row of ``item_id``, or None if it is not in the catalogue."""
        return self._rows.get(item_id)

    def item_at(self, row: int) -> ItemInfo:
        return self._items[self._ids[row]]

    def id_at(self, row: int) -> str:
        return self._ids[row]

    @property
    def ids(self) -> list[str]:
        """Item ids by row (do not mutate)."""
        return self._ids

    def is_active(self, item_id: str) -> bool:
        item = self._items.get(item_id)
        return item is not None and item.active

    @property
    def active(self) -> npt.NDArray[np.bool_]:
        """Active flag per row (a view of length ``len(self)``; read only)."""
        return self._active[: len(self._ids)]

    @property
    def active_filter(self) -> npt.NDArray[np.bool_] | None:
        """``active``, or None while every item is active (readers then skip a mask pass)."""
        return self.active if self.n_inactive else None

    @property
    def domain_codes(self) -> npt.NDArray[np.int8]:
        """Domain code per row (see :data:`DOMAIN_CODE`; a view; read only)."""
        return self._domain[: len(self._ids)]

    def ids_in_domain(self, domain: Domain) -> frozenset[str]:
        """All item ids (active or not) of ``domain`` (a scan of the domain codes: a set
        per domain took ~100 bytes per item, for a question only tests ask)."""
        rows = np.flatnonzero(self.domain_codes == DOMAIN_CODE[domain]).tolist()
        return frozenset(self._ids[r] for r in rows)

    def n_active(self) -> int:
        return int(self.active.sum())

    def rows_or_missing(self, item_ids: Sequence[str]) -> npt.NDArray[np.int64]:
        """Row of each id, -1 where the id is not in the catalogue (one vector, in order).

        >>> cat = Catalogue()
        >>> cat.upsert(ItemInfo("a", "course"))
        0
        >>> cat.rows_or_missing(["a", "zz"]).tolist()
        [0, -1]
        """
        return rows_by_id(self._rows, item_ids)

    def rows_of(self, item_ids: Iterable[str]) -> list[int]:
        """Rows of the given ids that are in the catalogue (unknown ids are skipped)."""
        rows = self._rows
        out: list[int] = []
        for item_id in item_ids:
            r = rows.get(item_id)
            if r is not None:
                out.append(r)
        return out

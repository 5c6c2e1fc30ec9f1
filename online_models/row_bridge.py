"""Translate item rows from one model's row space to another's with one array look-up.

Why
---
The recommender numbers items by its catalogue's rows; the content model numbers the same
items by rows of its own. Translating a request's ~150 candidates through the item ids (a
list read, then a dict look-up in a 100k-entry table, per item) cost ~50 µs per request at
100k items, nearly all of it cache misses on cold strings and hash slots. Both row spaces are
*append-only* — an id gets a row when first seen and keeps it for good — so a translation
once found stays right forever: :class:`RowBridge` remembers each one in a plain int array
and only goes through the ids for rows it has not met yet (or whose item the other side did
not know last time).

It is a cache, not model state: it is never pickled (a restored bridge starts empty and
learns again), and a result never depends on what it holds.

>>> from online_models.catalogue import Catalogue
>>> from online_models.types import ItemInfo
>>> a, b = Catalogue(), Catalogue()
>>> for item_id in ("x", "y", "z"):
...     _ = a.upsert(ItemInfo(item_id, "course"))
>>> for item_id in ("z", "x"):
...     _ = b.upsert(ItemInfo(item_id, "course"))
>>> bridge = RowBridge(a, b)
>>> bridge.map(np.array([0, 1, 2])).tolist()   # x, y, z in b's rows (y unknown there)
[1, -1, 0]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import repeat
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

__all__ = ["RowBridge", "RowSpace", "rows_by_id"]

IntRows = npt.NDArray[np.int64]


def rows_by_id(row_of: Mapping[str, int], item_ids: Sequence[str]) -> IntRows:
    """The row ``row_of`` gives each of ``item_ids``, -1 where it has none (one vector, in
    order): what a :class:`RowSpace` answers in ``rows_or_missing``.

    >>> rows_by_id({"a": 3}, ["a", "zz"]).tolist()
    [3, -1]
    """
    # map() with get(id, -1): the look-ups run in C (a generator costs ~3x more here).
    found = map(row_of.get, item_ids, repeat(-1))
    return np.fromiter(found, dtype=np.int64, count=len(item_ids))


class RowSpace(Protocol):
    """Items numbered by rows, append-only: an id's row never changes once given."""

    @property
    def ids(self) -> Sequence[str]:
        """Item id by row."""

    def rows_or_missing(self, item_ids: Sequence[str]) -> IntRows:
        """Row of each id, -1 where the id is unknown."""


class RowBridge:
    """Maps rows of ``source`` to rows of ``target`` (-1: the target does not know the item).

    Both must be :class:`RowSpace` s (append-only); see the module docstring."""

    def __init__(self, source: RowSpace, target: RowSpace) -> None:
        self.source = source
        self.target = target
        self._known = np.full(0, -1, dtype=np.int64)  # target row by source row; -1: not yet

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_known"] = np.full(0, -1, dtype=np.int64)
        return state

    def map(self, rows: IntRows) -> IntRows:
        """The target row of each source row in ``rows`` (-1 where the target has no such
        item); ``rows`` must be rows of the source."""
        known = self._known
        if known.shape[0] < len(self.source.ids):
            grown = np.full(max(64, 2 * len(self.source.ids)), -1, dtype=np.int64)
            grown[: known.shape[0]] = known
            known = self._known = grown
        out: IntRows = known[rows]
        missing = np.flatnonzero(out < 0)
        if missing.shape[0]:
            ids = self.source.ids
            new_rows = rows[missing]
            found = self.target.rows_or_missing([ids[r] for r in new_rows.tolist()])
            out[missing] = found
            known[new_rows] = found  # -1 stays -1: asked again next time
        return out

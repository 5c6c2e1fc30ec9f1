"""Impressions ⋈ clicks inside an attribution window → labelled examples for the CTR model.

An impression opens one slot per shown item; a click with the same ``rec_id`` and item marks
its slot clicked; when the window has passed (by event time), the list closes and all its
slots come out together, in list order, each labelled clicked or not. Event time, not wall
time, decides, so replaying the same events yields the same labels (replay-safe). Each
(rec_id, item) is labelled at most once.

Why together: a click labelled at once reaches the click model a whole window (30 minutes
by default) before the same list's non-clicks, so the model learns a stream with too many
clicks — only clicks in a run's first window, when its probabilities rise towards one — and
the calibration of what it promises sees the same skew. Closed loop, twelve seeds, the full
ranker with labels at close against clicks at once: ROC AUC of the served ``p_click``
0.601 → 0.656 (higher in 12/12), log loss 0.519 → 0.501, ground-truth CTR 0.212 → 0.215 and
recall 0.051 → 0.052. The price: the click model learns a click up to a window late (the
other models learn it from the click event itself, at once).

Memory: the slots of one list are held together, one record per ``rec_id`` (its user, when
it was shown, its items and positions, which were clicked) with one expiry entry, not one
entry per slot: ~1.3 KB per open list of ten instead of ~3.9 KB. The window of a list runs
from its first impression (an item added by a later impression of the same list closes
with it). After the window, a list is remembered by its items alone for ``remember_s`` so
that a replayed impression opens nothing. Both the open and the remembered slots are
bounded by ``max_open`` (the oldest list goes first: it closes as at the end of its window).

>>> join = LabelJoin(window_s=60)
>>> join.impression("r1", "p:u", ("a", "b"), (0, 1), ts=0)
[]
>>> join.click("r1", "a")
True
>>> [(l.item_id, l.clicked) for l in join.advance(ts=100)]
[('a', True), ('b', False)]
"""

from __future__ import annotations

import heapq
from collections import OrderedDict
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Label:
    rec_id: str
    user: str
    item_id: str
    position: int
    clicked: bool
    impression_ts: float


@dataclass(slots=True)
class _OpenList:
    """One shown list's slots: ``clicked`` has bit ``j`` set once ``items[j]`` is clicked."""

    user: str
    shown_at: float
    items: tuple[str, ...]
    positions: tuple[int, ...]
    clicked: int = 0


class LabelJoin:
    def __init__(
        self, window_s: float = 1800.0, remember_s: float = 86400.0, max_open: int = 1_000_000
    ) -> None:
        self.window_s = window_s
        self.remember_s = remember_s
        self.max_open = max_open
        self._open: dict[str, _OpenList] = {}
        self._n_open = 0
        self._expiry: list[tuple[float, str]] = []
        # rec_id -> (when its window closed, the items it labelled); oldest first.
        self._closed: OrderedDict[str, tuple[float, tuple[str, ...]]] = OrderedDict()
        self._n_closed = 0

    def __len__(self) -> int:
        """Open slots (shown items of lists not closed yet)."""
        return self._n_open

    def impression(
        self,
        rec_id: str,
        user: str,
        item_ids: tuple[str, ...],
        positions: tuple[int, ...],
        ts: float,
    ) -> list[Label]:
        """Open a slot per shown item; returns labels that expired meanwhile."""
        expired = self.advance(ts)
        record = self._open.get(rec_id)
        closed = self._closed.get(rec_id)
        known = (record.items if record else ()) + (closed[1] if closed else ())
        fresh: dict[str, int] = {}
        for item_id, position in zip(item_ids, positions, strict=True):
            if item_id not in known:  # a replayed impression opens nothing twice
                fresh.setdefault(item_id, position)
        if not fresh:
            return expired
        if record is None:
            self._open[rec_id] = _OpenList(user, ts, tuple(fresh), tuple(fresh.values()))
            heapq.heappush(self._expiry, (ts + self.window_s, rec_id))
        else:  # more of an open list shown: its slots close with the list
            record.items += tuple(fresh)
            record.positions += tuple(fresh.values())
        self._n_open += len(fresh)
        while self._n_open > self.max_open:
            expired.extend(self._expire_oldest())
        return expired

    def click(self, rec_id: str, item_id: str) -> bool:
        """Mark the slot clicked (its label comes when the list closes); False if there is no
        such open slot or it was clicked already. Call :meth:`advance` first."""
        record = self._open.get(rec_id)
        if record is None or item_id not in record.items:
            return False
        bit = 1 << record.items.index(item_id)
        if record.clicked & bit:
            return False
        record.clicked |= bit
        return True

    def advance(self, ts: float) -> list[Label]:
        """Close every list whose window ended before ``ts``; returns their labels."""
        labels: list[Label] = []
        while self._expiry and self._expiry[0][0] < ts:
            labels.extend(self._expire_oldest())
        closed = self._closed
        while closed and next(iter(closed.values()))[0] < ts - self.remember_s:
            self._forget_oldest_closed()
        return labels

    def forget_user(self, user: str) -> None:
        """Drop the user's open lists, unlabelled (an erasure: nothing of theirs is learnt
        afterwards). A scan of the open lists: erasures are rare."""
        for rec_id in [r for r, record in self._open.items() if record.user == user]:
            self._n_open -= len(self._open.pop(rec_id).items)

    def _expire_oldest(self) -> list[Label]:
        expires_at, rec_id = heapq.heappop(self._expiry)
        record = self._open.get(rec_id)
        if record is None or record.shown_at + self.window_s != expires_at:
            return []  # erased, or the entry of an earlier list under this rec_id
        del self._open[rec_id]
        self._n_open -= len(record.items)
        self._remember(rec_id, expires_at, record.items)
        shown_at = record.shown_at
        return [
            Label(rec_id, record.user, item_id, position, bool(record.clicked >> j & 1), shown_at)
            for j, (item_id, position) in enumerate(
                zip(record.items, record.positions, strict=True)
            )
        ]

    def _remember(self, rec_id: str, closed_at: float, items: tuple[str, ...]) -> None:
        earlier = self._closed.pop(rec_id, None)
        if earlier is not None:
            items = earlier[1] + items
            self._n_closed -= len(earlier[1])
        self._closed[rec_id] = (closed_at, items)
        self._n_closed += len(items)
        while self._n_closed > self.max_open:
            self._forget_oldest_closed()

    def _forget_oldest_closed(self) -> None:
        self._n_closed -= len(self._closed.popitem(last=False)[1][1])

"""Impressions ⋈ clicks inside an attribution window → labelled examples for the CTR model.

An impression opens one pending slot per shown item; a click with the same ``rec_id`` and item
closes it as positive; a slot still open when the window has passed (by event time) closes as
negative. Event time, not wall time, decides, so replaying the same events yields the same
labels (replay-safe). Each (rec_id, item) is labelled at most once. Memory is bounded by the
number of open impressions within one window.

>>> join = LabelJoin(window_s=60)
>>> join.impression("r1", "p:u", ("a", "b"), (0, 1), ts=0)
[]
>>> [(l.item_id, l.clicked) for l in join.click("r1", "a", ts=5)]
[('a', True)]
>>> [(l.item_id, l.clicked) for l in join.advance(ts=100)]
[('b', False)]
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


class LabelJoin:
    def __init__(
        self, window_s: float = 1800.0, remember_s: float = 86400.0, max_open: int = 1_000_000
    ) -> None:
        self.window_s = window_s
        self.remember_s = remember_s
        self.max_open = max_open
        self._open: dict[tuple[str, str], tuple[str, int, float]] = {}
        self._expiry: list[tuple[float, str, str]] = []
        self._closed: OrderedDict[tuple[str, str], float] = OrderedDict()

    def __len__(self) -> int:
        return len(self._open)

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
        for item_id, position in zip(item_ids, positions, strict=True):
            key = (rec_id, item_id)
            if key in self._open or key in self._closed:
                continue  # a replayed impression opens nothing twice
            self._open[key] = (user, position, ts)
            heapq.heappush(self._expiry, (ts + self.window_s, rec_id, item_id))
        while len(self._open) > self.max_open:
            expired.extend(self._expire_oldest())
        return expired

    def click(self, rec_id: str, item_id: str, ts: float) -> list[Label]:
        """Close the matching slot as clicked; returns it plus any labels that expired."""
        labels = self.advance(ts)
        slot = self._open.pop((rec_id, item_id), None)
        if slot is not None:
            user, position, shown_at = slot
            self._close((rec_id, item_id), ts)
            labels.append(Label(rec_id, user, item_id, position, True, shown_at))
        return labels

    def advance(self, ts: float) -> list[Label]:
        """Close every slot whose window ended before ``ts`` as not clicked."""
        labels: list[Label] = []
        while self._expiry and self._expiry[0][0] < ts:
            labels.extend(self._expire_oldest())
        while self._closed and next(iter(self._closed.values())) < ts - self.remember_s:
            self._closed.popitem(last=False)
        return labels

    def _close(self, key: tuple[str, str], ts: float) -> None:
        self._closed[key] = ts
        self._closed.move_to_end(key)
        while len(self._closed) > self.max_open:
            self._closed.popitem(last=False)

    def _expire_oldest(self) -> list[Label]:
        expires_at, rec_id, item_id = heapq.heappop(self._expiry)
        slot = self._open.pop((rec_id, item_id), None)
        if slot is None:
            return []
        self._close((rec_id, item_id), expires_at)
        user, position, shown_at = slot
        return [Label(rec_id, user, item_id, position, False, shown_at)]

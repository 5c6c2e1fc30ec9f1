"""A bounded memory of recently seen event ids, so replays and producer retries count once.

Bounded two ways: at most ``capacity`` ids, and ids older than ``window_s`` (by the time they
were seen) are forgotten first. The ids are kept in insertion order, so eviction is O(1).

>>> seen = RecentIds(capacity=2, window_s=60)
>>> seen.check_and_add("a", now=0), seen.check_and_add("a", now=1)
(False, True)
"""

from __future__ import annotations

from collections import OrderedDict


class RecentIds:
    def __init__(self, capacity: int = 1_000_000, window_s: float = 24 * 3600) -> None:
        self.capacity = capacity
        self.window_s = window_s
        self._seen: OrderedDict[str, float] = OrderedDict()

    def __len__(self) -> int:
        return len(self._seen)

    def check_and_add(self, event_id: str, now: float) -> bool:
        """True if ``event_id`` was already seen inside the window; records it otherwise."""
        self._evict(now)
        if event_id in self._seen:
            return True
        self._seen[event_id] = now
        if len(self._seen) > self.capacity:
            self._seen.popitem(last=False)
        return False

    def _evict(self, now: float) -> None:
        horizon = now - self.window_s
        while self._seen:
            oldest_id, seen_at = next(iter(self._seen.items()))
            if seen_at >= horizon:
                return
            del self._seen[oldest_id]

"""Which users were just erased, so rows still in flight for them are not written back.

Why: a forget event reaches the events sink on ``events.valid``, but recommendations served
*before* the learner saw that forget travel on another topic, at their own pace. One that
reaches ClickHouse after the DELETE would resurrect the user. So the sink remembers each
erased user with the forget's event time: a recommendation answering an earlier event is
dropped, and every erasure runs a second time a little later, which also catches an insert
that raced the first DELETE (only rows answering events up to the forget: a user who comes
back after the forget is new data and kept).

>>> erased = RecentErasures(second_pass_after_s=5.0)
>>> erased.record("p:u", forget_ts=100.0, now=0.0)
>>> erased.suppresses("p:u", event_ts=99.0), erased.suppresses("p:u", event_ts=101.0)
(True, False)
>>> erased.due(now=4.0), erased.due(now=6.0), erased.due(now=7.0)
([], [('p:u', 100.0)], [])
"""

from __future__ import annotations

from collections import OrderedDict


class RecentErasures:
    """Bounded memory of recent forgets: the newest ``capacity`` users, by erasure time."""

    def __init__(self, second_pass_after_s: float = 10.0, capacity: int = 100_000) -> None:
        self.second_pass_after_s = second_pass_after_s
        self.capacity = capacity
        self._forget_ts: OrderedDict[str, float] = OrderedDict()
        self._second_pass: OrderedDict[str, float] = OrderedDict()  # user -> when it is due

    def record(self, user: str, forget_ts: float, now: float) -> None:
        """``user`` was erased by a forget event with event time ``forget_ts``."""
        previous = self._forget_ts.pop(user, None)
        self._forget_ts[user] = max(forget_ts, previous or forget_ts)
        self._second_pass.pop(user, None)
        self._second_pass[user] = now + self.second_pass_after_s
        while len(self._forget_ts) > self.capacity:
            self._forget_ts.popitem(last=False)
        while len(self._second_pass) > self.capacity:
            self._second_pass.popitem(last=False)

    def suppresses(self, user: str, event_ts: float) -> bool:
        """Whether a row about ``user`` for an event at ``event_ts`` predates their erasure."""
        forget_ts = self._forget_ts.get(user)
        return forget_ts is not None and event_ts <= forget_ts

    def due(self, now: float) -> list[tuple[str, float]]:
        """``(user, forget_ts)`` whose second erasure pass is due (each returned once)."""
        ready = []
        while self._second_pass:
            user, when = next(iter(self._second_pass.items()))
            if when > now:
                break
            self._second_pass.popitem(last=False)
            if user in self._forget_ts:
                ready.append((user, self._forget_ts[user]))
        return ready

"""Which users were just erased, so rows still in flight for them are not written back.

Why: a forget event reaches the events sink on ``events.valid``, but recommendations served
*before* the learner saw that forget travel on another topic, at their own pace. One that
reaches ClickHouse after the DELETE would resurrect the user. So the sink remembers each
erased user with the forget's event time: a recommendation answering an earlier event is
dropped, and every erasure runs a second time a little later, which also catches an insert
that raced the first DELETE (only rows answering events up to the forget: a user who comes
back after the forget is new data and kept).

The memory survives a restart: each erasure also writes a tombstone (pseudonymous id and
the forget's event time, kept one day by a TTL) to the ``erasures`` table, and the worker
reloads the recent ones before it consumes anything (:func:`load_tombstones`). Without that,
a worker that crashed after committing a forget but before the recommendations in flight
for that user were consumed would write them back on restart.

>>> erased = RecentErasures(second_pass_after_s=5.0)
>>> erased.record("p:u", forget_ts=100.0, now=0.0)
>>> erased.suppresses("p:u", event_ts=99.0), erased.suppresses("p:u", event_ts=101.0)
(True, False)
>>> erased.due(now=4.0), erased.due(now=6.0), erased.due(now=7.0)
([], [('p:u', 100.0)], [])
>>> erased.record("p:v", forget_ts=50.0, now=0.0, second_pass=False)  # reloaded, old
>>> erased.suppresses("p:v", event_ts=49.0), erased.due(now=100.0)
(True, [])
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime
from typing import Any

ERASURE_COLUMNS = ("user_id", "forget_ts", "erased_at")
"""Columns of the ``erasures`` tombstone table (migration 0007)."""
TOMBSTONE_DAYS = 1
"""How long tombstones are kept and reloaded (the table's TTL)."""


class RecentErasures:
    """Bounded memory of recent forgets: the newest ``capacity`` users, by erasure time."""

    def __init__(self, second_pass_after_s: float = 10.0, capacity: int = 100_000) -> None:
        self.second_pass_after_s = second_pass_after_s
        self.capacity = capacity
        self._forget_ts: OrderedDict[str, float] = OrderedDict()
        self._second_pass: OrderedDict[str, float] = OrderedDict()  # user -> when it is due

    def record(self, user: str, forget_ts: float, now: float, second_pass: bool = True) -> None:
        """``user`` was erased by a forget event with event time ``forget_ts``; with
        ``second_pass`` the erasure is run again ``second_pass_after_s`` after ``now``."""
        previous = self._forget_ts.pop(user, None)
        self._forget_ts[user] = max(forget_ts, previous or forget_ts)
        if second_pass:
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


def tombstone_rows(forgotten: list[tuple[str, float]], erased_at: datetime) -> list[list[Any]]:
    """``erasures`` rows for ``(user, forget_ts)`` pairs erased at ``erased_at``.

    >>> from datetime import UTC
    >>> now = datetime(2026, 11, 30, tzinfo=UTC)
    >>> tombstone_rows([("p:u", 0.0)], now)[0][:2]
    ['p:u', datetime.datetime(1970, 1, 1, 0, 0, tzinfo=datetime.timezone.utc)]
    """
    tz = erased_at.tzinfo
    return [[user, datetime.fromtimestamp(ts, tz), erased_at] for user, ts in forgotten]


def load_tombstones(client: Any, database: str, limit: int) -> list[tuple[str, float, float]]:
    """``(user, forget_ts, erased_at)`` (epoch seconds) of the newest ``limit`` users erased
    in the last :data:`TOMBSTONE_DAYS` (a sync clickhouse-connect client; at start-up)."""
    rows = client.query(
        "SELECT user_id, toUnixTimestamp64Milli(max(forget_ts)), "
        f"toUnixTimestamp64Milli(max(erased_at)) AS last FROM {database}.erasures "
        f"WHERE erased_at > now64(3) - INTERVAL {TOMBSTONE_DAYS} DAY "
        "GROUP BY user_id ORDER BY last DESC LIMIT {limit:UInt32}",
        parameters={"limit": limit},
    ).result_rows
    return [(str(user), forget / 1000.0, erased / 1000.0) for user, forget, erased in rows]

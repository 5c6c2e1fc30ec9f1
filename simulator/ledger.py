"""An independent count of what the simulator actually emitted.

End-to-end tests compare ClickHouse aggregates with this ledger, so it is fed by the sinks
*after* a message was written or acknowledged, never by the generator, and it derives
everything from the emitted messages themselves (a domain comes from the event, or from the
item-id prefix for clicks and impressions), not from the world's ground truth.

Money is counted in integer cents so that totals are exact and comparable.

>>> from simulator.payload import encode
>>> ledger = Ledger()
>>> ledger.record(encode({"event_id": "e1", "event_type": "course_purchase",
...     "ts": "2026-11-29T10:00:01.000Z", "user_id": "user-000001", "schema_version": 1,
...     "course_id": "course-000003", "price": 49.99, "currency": "EUR"}))
>>> ledger.revenue_cents
{'course': {'EUR': 4999}}
>>> Ledger.from_json(ledger.to_json()) == ledger
True
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from simulator.payload import Emitted, Event
from simulator.world import domain_of_item_id


def _bump(table: dict[str, dict[str, int]], outer: str, inner: str, by: int = 1) -> None:
    row = table.setdefault(outer, {})
    row[inner] = row.get(inner, 0) + by


@dataclass
class Ledger:
    """Counts of emitted messages; ``record`` each one as it is written.

    Attributes
    ----------
    payloads
        All messages written, valid or hostile.
    by_type
        Valid events per ``event_type``.
    by_type_domain
        Valid events per type and domain: items by their domain, clicks by the clicked item,
        impressions per shown item (so ``impression`` counts item slots), purchases as
        ``course``, orders by their domain.
    revenue_cents
        Per domain and currency, course purchases (``course``) and partner orders.
    per_minute
        Valid events per event-time minute (``2026-11-29T10:00``) and type.
    attributed_clicks / impressed_items
        Clicks carrying a ``rec_id`` and the number of items shown: their ratio is the
        realised CTR of the served lists.
    cross_domain_orders
        Partner orders per domain by users who bought a course earlier in the stream.
    hostile_by_kind
        Hostile messages per kind (``replayed_id`` included: it is not a new event).
    event_ids
        Ids of the valid events emitted (replays excluded).
    opted_out_users
        Raw ids whose last consent event was an opt-out (a later ``forget`` clears it).
    forgotten_users
        Raw ids that sent ``forget``.
    users
        Raw ids that sent at least one valid event.
    first_ts / last_ts
        Event-time range of the valid events.
    """

    payloads: int = 0
    bytes_total: int = 0
    by_type: dict[str, int] = field(default_factory=dict)
    by_type_domain: dict[str, dict[str, int]] = field(default_factory=dict)
    revenue_cents: dict[str, dict[str, int]] = field(default_factory=dict)
    per_minute: dict[str, dict[str, int]] = field(default_factory=dict)
    attributed_clicks: int = 0
    impressed_items: int = 0
    cross_domain_orders: dict[str, int] = field(default_factory=dict)
    hostile_by_kind: dict[str, int] = field(default_factory=dict)
    event_ids: set[str] = field(default_factory=set)
    opted_out_users: set[str] = field(default_factory=set)
    forgotten_users: set[str] = field(default_factory=set)
    users: set[str] = field(default_factory=set)
    course_buyers: set[str] = field(default_factory=set)
    first_ts: str | None = None
    last_ts: str | None = None

    # ------------------------------------------------------------------ counting
    def record(self, message: Emitted) -> None:
        """Count one written message."""
        self.payloads += 1
        self.bytes_total += len(message.payload)
        if message.kind is not None:
            self.hostile_by_kind[message.kind] = self.hostile_by_kind.get(message.kind, 0) + 1
            return
        assert message.event is not None, "a valid message carries its event"
        self._record_event(message.event)

    def record_all(self, messages: Iterable[Emitted]) -> None:
        """``record`` every message."""
        for message in messages:
            self.record(message)

    def _record_event(self, ev: Event) -> None:
        et: str = ev["event_type"]
        ts: str = ev["ts"]
        self.event_ids.add(ev["event_id"])
        self.by_type[et] = self.by_type.get(et, 0) + 1
        _bump(self.per_minute, ts[:16], et)
        if self.first_ts is None or ts < self.first_ts:
            self.first_ts = ts
        if self.last_ts is None or ts > self.last_ts:
            self.last_ts = ts
        user: str | None = ev.get("user_id")
        if user is not None:
            self.users.add(user)

        if et == "item":
            _bump(self.by_type_domain, et, ev["domain"])
        elif et == "click":
            _bump(self.by_type_domain, et, domain_of_item_id(ev["item_id"]))
            if ev.get("rec_id") is not None:
                self.attributed_clicks += 1
        elif et == "impression":
            self.impressed_items += len(ev["item_ids"])
            for item_id in ev["item_ids"]:
                _bump(self.by_type_domain, et, domain_of_item_id(item_id))
        elif et == "course_purchase":
            _bump(self.by_type_domain, et, "course")
            _bump(self.revenue_cents, "course", ev["currency"], round(ev["price"] * 100))
            assert user is not None
            self.course_buyers.add(user)
        elif et == "partner_order":
            domain = ev["domain"]
            _bump(self.by_type_domain, et, domain)
            _bump(self.revenue_cents, domain, ev["currency"], round(ev["amount"] * 100))
            if user in self.course_buyers:
                self.cross_domain_orders[domain] = self.cross_domain_orders.get(domain, 0) + 1
        elif et == "consent":
            assert user is not None
            if ev["personalisation"]:
                self.opted_out_users.discard(user)
            else:
                self.opted_out_users.add(user)
        elif et == "forget":
            assert user is not None
            self.forgotten_users.add(user)
            self.opted_out_users.discard(user)
            self.course_buyers.discard(user)

    # ------------------------------------------------------------------ derived
    @property
    def valid_events(self) -> int:
        """Number of valid events written (replays excluded)."""
        return sum(self.by_type.values())

    @property
    def hostile(self) -> int:
        """Number of hostile messages written, replays included."""
        return sum(self.hostile_by_kind.values())

    def revenue(self) -> dict[str, dict[str, float]]:
        """Revenue per domain and currency in currency units."""
        return {
            d: {c: cents / 100 for c, cents in row.items()} for d, row in self.revenue_cents.items()
        }

    # ------------------------------------------------------------------ JSON
    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict; sets become sorted lists."""
        return {
            "payloads": self.payloads,
            "bytes_total": self.bytes_total,
            "valid_events": self.valid_events,
            "hostile": self.hostile,
            "by_type": dict(sorted(self.by_type.items())),
            "by_type_domain": self.by_type_domain,
            "revenue_cents": self.revenue_cents,
            "revenue": self.revenue(),
            "per_minute": dict(sorted(self.per_minute.items())),
            "attributed_clicks": self.attributed_clicks,
            "impressed_items": self.impressed_items,
            "cross_domain_orders": self.cross_domain_orders,
            "hostile_by_kind": dict(sorted(self.hostile_by_kind.items())),
            "event_ids": sorted(self.event_ids),
            "opted_out_users": sorted(self.opted_out_users),
            "forgotten_users": sorted(self.forgotten_users),
            "users": sorted(self.users),
            "course_buyers": sorted(self.course_buyers),
            "first_ts": self.first_ts,
            "last_ts": self.last_ts,
        }

    def to_json(self) -> str:
        """Serialise (see ``to_dict``)."""
        return json.dumps(self.to_dict(), separators=(",", ":"))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Ledger:
        """Inverse of ``to_dict`` (derived keys are ignored)."""
        return cls(
            payloads=data["payloads"],
            bytes_total=data["bytes_total"],
            by_type=dict(data["by_type"]),
            by_type_domain=data["by_type_domain"],
            revenue_cents=data["revenue_cents"],
            per_minute=data["per_minute"],
            attributed_clicks=data["attributed_clicks"],
            impressed_items=data["impressed_items"],
            cross_domain_orders=data["cross_domain_orders"],
            hostile_by_kind=data["hostile_by_kind"],
            event_ids=set(data["event_ids"]),
            opted_out_users=set(data["opted_out_users"]),
            forgotten_users=set(data["forgotten_users"]),
            users=set(data["users"]),
            course_buyers=set(data["course_buyers"]),
            first_ts=data["first_ts"],
            last_ts=data["last_ts"],
        )

    @classmethod
    def from_json(cls, text: str) -> Ledger:
        """Inverse of ``to_json``."""
        return cls.from_dict(json.loads(text))

    def summary(self) -> dict[str, Any]:
        """The small part worth printing: counts, no id lists."""
        full = self.to_dict()
        for key in ("event_ids", "users", "course_buyers", "per_minute", "forgotten_users"):
            full.pop(key)
        full["opted_out_users"] = len(self.opted_out_users)
        full["distinct_users"] = len(self.users)
        full["minutes"] = len(self.per_minute)
        return full


def recount(messages: Iterable[Emitted]) -> Ledger:
    """A fresh ledger over ``messages``."""
    ledger = Ledger()
    ledger.record_all(messages)
    return ledger

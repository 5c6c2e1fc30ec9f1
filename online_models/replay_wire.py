"""Replay input in the ``events.in`` wire format: what ``crossrec simulate`` writes.

Why a reader of its own: the interaction formats of :mod:`online_models.replay` are one
record per interaction, while the wire format is the producers' contract (``schemas``):
seven event types, RFC 3339 ``ts``, raw ``user_id``, and -- in any real or simulated
stream -- hostile payloads. Every line is one message and goes through
:func:`schemas.decode_event`, the same door as in the worker, so replay and worker agree on
what is valid.

What each valid event becomes (one :class:`~online_models.replay.ReplayEvent` per
interaction, mapped by :mod:`online_models.wire_events` as in the worker):

- ``click`` -> a ``click`` on ``item_id``;
- ``course_purchase`` -> a ``course_purchase`` of ``course_id``;
- ``partner_order`` -> one ``partner_order`` per distinct entry of ``item_ids`` (file order),
  all at the order's ``ts``;
- ``item`` (catalogue upsert) -> not evaluated; it feeds the catalogue: the models receive
  the full entry (domain, partner, title, tags, price, ``active``) at its ``ts``
  (:attr:`WireInput.catalogue_updates`), and it gives the item its domain;
- ``impression`` -> ignored: it labels the worker's CTR model, it is not an interaction;
- ``consent`` -> ignored: an opt-out changes what the worker *serves* (non-personalised
  lists), not what the models are measured on, so replay keeps evaluating that user;
- ``forget`` -> ignored: the user's earlier events stay in the replay models (the file is
  an offline copy; erasing it is the operator's job, erasure itself is tested in the worker).

Ignored events are counted per type in :attr:`WireInput.by_type`.

An item's domain: the domain of its catalogue upsert (the latest, in time order, if there
are several), anywhere in the file -- a domain is a static property of the item, not
feedback, so knowing it early leaks no answer. Without an upsert: the event's own domain
(``partner_order.domain``; a ``course_purchase`` buys a course by contract). Otherwise
(a click on an item never upserted) ``None``, and replay uses its ``default_domain``. The
id prefix (``fresh_food-0042``) is *not* used: the contract makes item ids global and
opaque, the prefix is only the simulator's naming habit.

User ids are used raw, as in the file. Replay is offline and local; the worker's keyed
pseudonym is a one-to-one renaming, so metrics would be identical, and raw ids keep the
replay debuggable against the file.

Invalid lines (anything :func:`schemas.decode_event` rejects, blank lines included: each
line is one message) are skipped and counted per error code; a duplicate ``event_id`` is
skipped and counted, as ingestion de-duplicates. A file with lines but not a single valid
event is not a wire file: :class:`~online_models.replay.ReplayInputError`.

>>> w = parse_wire([
...     b'{"event_id":"e1","event_type":"click","ts":"2026-11-29T10:00:01Z",'
...     b'"schema_version":1,"user_id":"u1","item_id":"course-1","surface":"home"}',
...     b'not json',
... ])
>>> [(e.user, e.item, e.kind, e.domain) for e in w.events], w.skipped_invalid
([('u1', 'course-1', 'click', None)], 1)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from online_models.replay import ReplayEvent, ReplayInputError
from online_models.types import Domain, ItemInfo
from online_models.wire_events import interactions, item_info
from schemas import (
    CoursePurchase,
    Event,
    InvalidEvent,
    ItemUpsert,
    PartnerOrder,
    decode_event,
)


@dataclass(frozen=True, slots=True)
class WireInput:
    """A wire file read for replay: interactions, catalogue updates, and what was skipped."""

    events: list[ReplayEvent]
    """Interactions in time order (file order for ties)."""
    catalogue_updates: list[tuple[float, ItemInfo]]
    """Catalogue upserts as ``(ts, item)`` in time order (file order for ties)."""
    lines: int = 0
    skipped_invalid: int = 0
    invalid_by_code: dict[str, int] = field(default_factory=dict)
    duplicates: int = 0
    by_type: dict[str, int] = field(default_factory=dict)
    """Valid, non-duplicate events per ``event_type``."""

    def summary(self) -> dict[str, Any]:
        """The counts, JSON-ready (for the replay result and stderr)."""
        return {
            "format": "events",
            "lines": self.lines,
            "valid": sum(self.by_type.values()),
            "skipped_invalid": self.skipped_invalid,
            "invalid_by_code": dict(sorted(self.invalid_by_code.items())),
            "duplicates": self.duplicates,
            "by_type": dict(sorted(self.by_type.items())),
            "interactions": len(self.events),
            "catalogue_updates": len(self.catalogue_updates),
        }


def wire_interactions(event: Event, domains: Mapping[str, Domain]) -> list[ReplayEvent]:
    """The interactions one valid event carries (none for item/impression/consent/forget).

    ``domains`` maps item ids to their catalogue domain (see the module docstring).
    """
    fallback: Domain | None = None  # what the event itself says of the item's domain
    if isinstance(event, CoursePurchase):
        fallback = "course"
    elif isinstance(event, PartnerOrder):
        fallback = event.domain
    return [
        ReplayEvent(i.user, i.item, i.ts, i.kind, None, domains.get(i.item, fallback))
        for i in interactions(event, {})
    ]


def parse_wire(lines: Iterable[bytes]) -> WireInput:
    """Decode every line (one message each); see the module docstring for the mapping."""
    decoded: list[Event] = []
    invalid: Counter[str] = Counter()
    seen_ids: set[str] = set()
    duplicates = 0
    n = 0
    first_error = ""
    for n, raw in enumerate(lines, start=1):
        try:
            event = decode_event(raw.rstrip(b"\r\n")).event
        except InvalidEvent as exc:
            invalid[exc.code] += 1
            if not first_error:
                first_error = f"line {n}: {exc}"
            continue
        if event.event_id in seen_ids:
            duplicates += 1
            continue
        seen_ids.add(event.event_id)
        decoded.append(event)
    if n and not decoded:
        raise ReplayInputError(
            f"no line is a valid events.in event ({n} rejected; first: {first_error}); "
            "for an interaction log use --format csv or --format jsonl"
        )
    decoded.sort(key=lambda e: e.ts)  # stable: file order for ties
    upserts = [e for e in decoded if isinstance(e, ItemUpsert)]
    domains: dict[str, Domain] = {e.item_id: e.domain for e in upserts}  # latest wins
    events = [r for e in decoded for r in wire_interactions(e, domains)]
    return WireInput(
        events=events,
        catalogue_updates=[(e.ts.timestamp(), item_info(e)) for e in upserts],
        lines=n,
        skipped_invalid=sum(invalid.values()),
        invalid_by_code=dict(invalid),
        duplicates=duplicates,
        by_type=dict(Counter(e.EVENT_TYPE for e in decoded)),
    )


def read_wire(path: Path) -> WireInput:
    """:func:`parse_wire` over the lines of ``path`` (read as bytes: hostile lines may not
    even be UTF-8)."""
    with path.open("rb") as fh:
        return parse_wire(fh)

"""Bytes off ``events.in`` -> a typed, valid :data:`~schemas.events.Event`, or one error.

:func:`decode_event` is the only door into the system, so it promises two things:

1. whatever the bytes, the only exception that escapes is
   :class:`~schemas.errors.InvalidEvent`, with a ``code`` from
   :data:`~schemas.errors.ERROR_CODES` (wrapped third-party errors are chained with
   ``raise ... from``), so ingestion can dead-letter the message and carry on;
2. whatever it returns is valid by construction (the event classes re-check every field).

Order of checks (the first failure wins): size -> UTF-8/JSON -> top-level object -> limits
(depth, string length) -> ``schema_version`` -> ``event_type`` -> the type's fields.
Unknown fields are ignored (so producers may add fields before we read them). Personal-data
keys at the top level (:data:`PII_KEYS`, matched case-insensitively) are dropped like any
unknown field and reported in :attr:`Decoded.stripped_pii` so ingestion can count them.

Wire leniencies, all matching the JSON Schema: ``1.0`` is the integer ``1``; optional
fields (``rec_id``/``position`` of a click, ``partner_id`` of an item) may be absent or
``null``; ``user_id`` on an ``item`` event is ignored. Everything else is strict: booleans
are ``true``/``false``, numbers are JSON numbers, strings are never ``null``.

>>> d = decode_event(b'{"event_id":"e1","event_type":"forget","ts":"2026-11-29T11:00:00+01:00",'
...                  b'"user_id":"u1","schema_version":1,"email":"a@b.c"}')
>>> d.event.ts.isoformat(), d.event.user_id
('2026-11-29T10:00:00+00:00', 'u1')
>>> d.stripped_pii
('email',)
>>> decode_event(b'{"event_type":"click"}')
Traceback (most recent call last):
...
schemas.errors.InvalidEvent: missing_field: schema_version is required
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from schemas._checks import check_version, json_type_name
from schemas.document import MISSING, parse_document, wire_array, wire_int, wire_ts
from schemas.errors import InvalidEvent
from schemas.events import (
    EVENT_CLASSES,
    SCHEMA_VERSION,
    Click,
    Consent,
    CoursePurchase,
    Event,
    Forget,
    Impression,
    ItemUpsert,
    PartnerOrder,
)
from schemas.limits import DEFAULT_MAX_BYTES

PII_KEYS: Final[frozenset[str]] = frozenset(
    {
        "name",
        "first_name",
        "last_name",
        "full_name",
        "phone",
        "phone_number",
        "email",
        "address",
        "street",
        "postcode",
        "ip",
        "ip_address",
        "birth_date",
    }
)
"""Top-level keys treated as personal data: stripped and reported (case-insensitive)."""

_KNOWN_FIELDS: Final[frozenset[str]] = frozenset(
    {"event_type"}.union(
        *({f.name for f in dataclasses.fields(cls)} for cls in EVENT_CLASSES.values())
    )
)


@dataclass(frozen=True, slots=True)
class Decoded:
    """A valid event plus the personal-data keys that were removed from its payload."""

    event: Event
    stripped_pii: tuple[str, ...] = ()


def decode_event(raw: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> Decoded:
    """Decode and validate one wire event; raise ``InvalidEvent`` on any problem."""
    document = parse_document(raw, max_bytes)
    version = wire_int(document.get("schema_version", MISSING))
    if version is MISSING:
        raise InvalidEvent("missing_field", "schema_version is required", "schema_version")
    check_version(version, SCHEMA_VERSION)
    event_type = document.get("event_type", MISSING)
    if event_type is MISSING:
        raise InvalidEvent("missing_field", "event_type is required", "event_type")
    if type(event_type) is not str:
        raise InvalidEvent(
            "wrong_type",
            f"event_type must be a string, got {json_type_name(event_type)}",
            "event_type",
        )
    build = _BUILDERS.get(event_type)
    if build is None:
        raise InvalidEvent(
            "unknown_type",
            f"event_type {event_type[:64]!r} is not one of {sorted(_BUILDERS)}",
            "event_type",
        )
    try:
        event = build(document)
    except KeyError as exc:
        name = str(exc.args[0])
        raise InvalidEvent("missing_field", f"{event_type}: {name} is required", name) from exc
    return Decoded(event, _pii_keys(document))


def _pii_keys(document: dict[str, Any]) -> tuple[str, ...]:
    if _KNOWN_FIELDS.issuperset(document):
        return ()  # the common case: no unknown key at all
    found = [k for k in document if k not in _KNOWN_FIELDS and k.lower() in PII_KEYS]
    return tuple(sorted(found)) if found else ()


# --- builders: wire -> Python conversions; the event constructors do the checking -------
# They index the document directly: a missing key surfaces as KeyError, which
# ``decode_event`` turns into ``missing_field`` (cheaper than a presence check per field).


def _click(d: dict[str, Any]) -> Click:
    return Click(
        event_id=d["event_id"],
        ts=wire_ts(d["ts"]),
        user_id=d["user_id"],
        item_id=d["item_id"],
        surface=d["surface"],
        rec_id=d.get("rec_id"),
        position=wire_int(d.get("position")),
    )


def _course_purchase(d: dict[str, Any]) -> CoursePurchase:
    return CoursePurchase(
        event_id=d["event_id"],
        ts=wire_ts(d["ts"]),
        user_id=d["user_id"],
        course_id=d["course_id"],
        price=d["price"],
        currency=d["currency"],
    )


def _partner_order(d: dict[str, Any]) -> PartnerOrder:
    return PartnerOrder(
        event_id=d["event_id"],
        ts=wire_ts(d["ts"]),
        user_id=d["user_id"],
        partner_id=d["partner_id"],
        domain=d["domain"],
        item_ids=wire_array(d["item_ids"]),
        amount=d["amount"],
        currency=d["currency"],
    )


def _impression(d: dict[str, Any]) -> Impression:
    positions = wire_array(d["positions"])
    if type(positions) is tuple and float in set(map(type, positions)):
        positions = tuple(map(wire_int, positions))
    return Impression(
        event_id=d["event_id"],
        ts=wire_ts(d["ts"]),
        user_id=d["user_id"],
        rec_id=d["rec_id"],
        item_ids=wire_array(d["item_ids"]),
        positions=positions,
        surface=d["surface"],
    )


def _item(d: dict[str, Any]) -> ItemUpsert:
    return ItemUpsert(
        event_id=d["event_id"],
        ts=wire_ts(d["ts"]),
        item_id=d["item_id"],
        domain=d["domain"],
        partner_id=d.get("partner_id"),
        title=d["title"],
        tags=wire_array(d["tags"]),
        price=d["price"],
        active=d["active"],
    )


def _consent(d: dict[str, Any]) -> Consent:
    return Consent(
        event_id=d["event_id"],
        ts=wire_ts(d["ts"]),
        user_id=d["user_id"],
        personalisation=d["personalisation"],
    )


def _forget(d: dict[str, Any]) -> Forget:
    return Forget(event_id=d["event_id"], ts=wire_ts(d["ts"]), user_id=d["user_id"])


_BUILDERS: Final[dict[str, Callable[[dict[str, Any]], Event]]] = {
    Click.EVENT_TYPE: _click,
    CoursePurchase.EVENT_TYPE: _course_purchase,
    PartnerOrder.EVENT_TYPE: _partner_order,
    Impression.EVENT_TYPE: _impression,
    ItemUpsert.EVENT_TYPE: _item,
    Consent.EVENT_TYPE: _consent,
    Forget.EVENT_TYPE: _forget,
}

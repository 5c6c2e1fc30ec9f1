"""A typed event -> wire bytes (compact JSON, UTF-8), the inverse of ``decode_event``.

``decode_event(encode_event(e)).event == e`` for every event (the constructors already
guarantee everything orjson needs: finite numbers, no lone surrogates, safe integers).
``ts`` is written as RFC 3339 UTC with ``Z``; optional fields are written as ``null``;
``item`` events carry no ``user_id``.

>>> from datetime import UTC, datetime
>>> from schemas.events import Forget
>>> e = Forget(event_id="e1", ts=datetime(2026, 11, 29, 10, tzinfo=UTC), user_id="u1")
>>> encode_event(e)
b'{"event_id":"e1","event_type":"forget","ts":"2026-11-29T10:00:00Z","user_id":"u1","schema_version":1}'
>>> with_user(e, "p:0123456789abcdef0123456789abcdef").user_id
'p:0123456789abcdef0123456789abcdef'
"""

from __future__ import annotations

import dataclasses
from typing import Final, TypeVar

import orjson

from schemas.events import EVENT_CLASSES, Event, ItemUpsert, UserEvent

_OPTIONS: Final = orjson.OPT_UTC_Z
_FIELD_NAMES: Final[dict[type, tuple[str, ...]]] = {
    cls: tuple(
        f.name
        for f in dataclasses.fields(cls)
        if f.name != "event_id" and not (cls is ItemUpsert and f.name == "user_id")
    )
    for cls in EVENT_CLASSES.values()
}

E = TypeVar("E", bound=UserEvent)


def encode_event(event: Event) -> bytes:
    """Serialise an event for ``events.in``/``events.valid`` (field order: id, type, ts ...)."""
    names = _FIELD_NAMES.get(type(event))
    if names is None:
        raise TypeError(f"not a contract event: {type(event).__name__}")
    document = {"event_id": event.event_id, "event_type": event.EVENT_TYPE}
    for name in names:
        document[name] = getattr(event, name)
    return orjson.dumps(document, option=_OPTIONS)


def with_user(event: E, user_id: str) -> E:
    """The same event with ``user_id`` replaced (ingestion swaps in the pseudonym).

    A thin, typed ``dataclasses.replace``: the new id is checked like any other field.
    """
    return dataclasses.replace(event, user_id=user_id)

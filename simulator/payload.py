"""What leaves the simulator: the payload bytes, the Kafka key, and what they stand for.

``Emitted`` travels from the generator through the hostile mixer to a sink (JSONL file or
Kafka) and finally into the :class:`simulator.ledger.Ledger`, which therefore counts exactly
what the sink wrote, hostile payloads included.

>>> e = encode({"event_id": "e1", "event_type": "forget", "ts": "2026-11-29T10:00:00.000Z",
...             "user_id": "user-000001", "schema_version": 1})
>>> e.payload[:15], e.key, e.kind
(b'{"event_id":"e1', b'user-000001', None)
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, NamedTuple

import orjson

Event = dict[str, Any]


class Emitted(NamedTuple):
    """One message: ``kind`` is ``None`` for a valid event, else the hostile kind."""

    payload: bytes
    key: bytes | None
    kind: str | None
    event: Event | None


def encode(event: Event) -> Emitted:
    """A valid event as compact UTF-8 JSON, keyed by its raw user id (``None`` for items)."""
    user = event.get("user_id")
    key = user.encode() if isinstance(user, str) else None
    return Emitted(orjson.dumps(event), key, None, event)


def encode_all(events: Iterable[Event]) -> Iterator[Emitted]:
    """``encode`` over a stream."""
    for event in events:
        yield encode(event)

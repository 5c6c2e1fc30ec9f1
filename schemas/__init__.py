"""The contracts of crossrec: events in, recommendations out. Pure Python, no I/O.

Producers send one JSON object per Kafka message on ``events.in``; :func:`decode_event`
turns the bytes into a typed, frozen event (:data:`Event`) or raises the one domain error
:class:`InvalidEvent` (``code`` from :data:`ERROR_CODES`, ``reason`` naming the field), so
ingestion can dead-letter bad input and keep going. Ingestion then swaps ``user_id`` for
:func:`pseudonymise` and writes :func:`encode_event` bytes to ``events.valid``; models only
ever see pseudonyms. Recommendations go out as :class:`Recommendation` via
:func:`encode_recommendation`. Producers in other languages validate against the JSON
Schemas in ``schemas/json`` (:func:`event_schema`, :func:`recommendation_schema`), which the
tests keep in agreement with the Python decoders.

>>> from datetime import UTC, datetime
>>> click = Click(event_id="e1", ts=datetime(2026, 11, 29, 10, tzinfo=UTC), user_id="u1",
...               item_id="course-0001", surface="home")
>>> decode_event(encode_event(click)).event == click
True

Versioning policy
-----------------
Every message carries ``schema_version`` (currently 1 for events and recommendations).

- Additive changes keep the version: a new optional field, a new ``surface`` value, a new
  error reason text. Decoders ignore unknown fields, so producers may send a field before
  consumers read it. New event types, domains or required fields are *not* additive.
- Breaking changes (a new required field, a changed meaning or type, a removed field, a
  new event type or domain, tighter limits) bump ``schema_version``, add
  ``event.v<N>.schema.json`` next to the old file, and the decoder keeps accepting the old
  version -- upgrading it to the current classes -- for at least 90 days after the new
  version ships (one release cycle for every producer), with the cut-off date written here.
- Codes in :data:`ERROR_CODES` are stable; adding one is announced like a breaking change
  because dashboards and alerts group by them.
"""

from schemas.decode import PII_KEYS, Decoded, decode_event
from schemas.encode import encode_event, with_user
from schemas.errors import ERROR_CODES, ErrorCode, InvalidEvent
from schemas.events import (
    DOMAINS,
    EVENT_CLASSES,
    PARTNER_DOMAINS,
    SCHEMA_VERSION,
    Click,
    Consent,
    CoursePurchase,
    Domain,
    Event,
    EventType,
    Forget,
    Impression,
    ItemUpsert,
    PartnerDomain,
    PartnerOrder,
    UserEvent,
)
from schemas.json_schema import event_schema, recommendation_schema
from schemas.limits import DEFAULT_MAX_BYTES, MAX_DEPTH
from schemas.pseudonym import is_pseudonym, pseudonymise
from schemas.recommendation import (
    RECOMMENDATION_SCHEMA_VERSION,
    Recommendation,
    RecommendedItem,
    decode_recommendation,
    encode_recommendation,
)

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DOMAINS",
    "ERROR_CODES",
    "EVENT_CLASSES",
    "MAX_DEPTH",
    "PARTNER_DOMAINS",
    "PII_KEYS",
    "RECOMMENDATION_SCHEMA_VERSION",
    "SCHEMA_VERSION",
    "Click",
    "Consent",
    "CoursePurchase",
    "Decoded",
    "Domain",
    "ErrorCode",
    "Event",
    "EventType",
    "Forget",
    "Impression",
    "InvalidEvent",
    "ItemUpsert",
    "PartnerDomain",
    "PartnerOrder",
    "Recommendation",
    "RecommendedItem",
    "UserEvent",
    "decode_event",
    "decode_recommendation",
    "encode_event",
    "encode_recommendation",
    "event_schema",
    "is_pseudonym",
    "pseudonymise",
    "recommendation_schema",
    "with_user",
]

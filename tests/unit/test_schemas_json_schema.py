"""Round trips, and the published JSON Schemas agreeing with the Python decoders."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings

from schemas import (
    EVENT_CLASSES,
    Event,
    InvalidEvent,
    decode_event,
    decode_recommendation,
    encode_event,
    encode_recommendation,
    event_schema,
    recommendation_schema,
)
from tests.unit.strategies import (
    events,
    mutated_documents,
    recommendation_documents,
    recommendations,
)
from tests.unit.test_schemas_decode import CLICK, IMPRESSION, ITEM, ORDER, PURCHASE

jsonschema = pytest.importorskip("jsonschema")

EVENT_VALIDATOR = jsonschema.Draft202012Validator(event_schema())
RECOMMENDATION_VALIDATOR = jsonschema.Draft202012Validator(recommendation_schema())


def decoder_accepts(document: Any) -> bool:
    try:
        decode_event(orjson.dumps(document))
    except InvalidEvent:
        return False
    return True


def decoder_rejection(document: Any) -> InvalidEvent | None:
    try:
        decode_event(orjson.dumps(document))
    except InvalidEvent as exc:
        return exc
    return None


def test_schema_files_are_valid_draft_2020_12() -> None:
    for schema in (event_schema(), recommendation_schema()):
        jsonschema.Draft202012Validator.check_schema(schema)
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_loaders_return_fresh_copies() -> None:
    first = event_schema()
    first["oneOf"].clear()
    assert event_schema()["oneOf"]


@given(events())
def test_event_round_trip(event: Event) -> None:
    raw = encode_event(event)
    decoded = decode_event(raw)
    assert decoded.event == event
    assert type(decoded.event) is type(event)
    assert decoded.stripped_pii == ()
    assert encode_event(decoded.event) == raw


@given(events())
def test_encoded_events_validate_against_the_json_schema(event: Event) -> None:
    document = orjson.loads(encode_event(event))
    EVENT_VALIDATOR.validate(document)
    assert document["ts"].endswith("Z")


def test_every_event_type_has_a_schema_branch() -> None:
    branches = {b["properties"]["event_type"]["const"] for b in event_schema()["oneOf"]}
    assert branches == set(EVENT_CLASSES)


def _without(document: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in document.items() if k != key}


def _deep(levels: int) -> Any:
    value: Any = "leaf"
    for _ in range(levels):
        value = [value]
    return value


HAND_WRITTEN_INVALID: list[tuple[str, Any]] = [
    ("array payload", [CLICK]),
    ("no schema_version", _without(CLICK, "schema_version")),
    ("version 2", {**CLICK, "schema_version": 2}),
    ("version as string", {**CLICK, "schema_version": "1"}),
    ("version as bool", {**CLICK, "schema_version": True}),
    ("unknown type", {**CLICK, "event_type": "rating"}),
    ("no event_id", _without(CLICK, "event_id")),
    ("empty event_id", {**CLICK, "event_id": ""}),
    ("long event_id", {**CLICK, "event_id": "e" * 129}),
    ("control char in id", {**CLICK, "item_id": "a\tb"}),
    ("newline at end of id", {**CLICK, "user_id": "u-1\n"}),
    ("C1 control in id", {**CLICK, "surface": "home\x9f"}),
    ("null user", {**CLICK, "user_id": None}),
    ("no user", _without(CLICK, "user_id")),
    ("naive ts", {**CLICK, "ts": "2026-11-29T10:00:00"}),
    ("ts with space", {**CLICK, "ts": "2026-11-29 10:00:00Z"}),
    ("ts date only", {**CLICK, "ts": "2026-11-29"}),
    ("ts trailing newline", {**CLICK, "ts": "2026-11-29T10:00:00Z\n"}),
    ("ts epoch number", {**CLICK, "ts": 1764410400}),
    ("ts leap second", {**CLICK, "ts": "2026-12-31T23:59:60Z"}),
    ("negative position", {**CLICK, "position": -1}),
    ("fractional position", {**CLICK, "position": 0.5}),
    ("bool position", {**CLICK, "position": False}),
    ("unsafe position", {**CLICK, "position": 2**53}),
    ("click without surface", _without(CLICK, "surface")),
    ("negative price", {**PURCHASE, "price": -1}),
    ("price as string", {**PURCHASE, "price": "9.99"}),
    ("lower-case currency", {**PURCHASE, "currency": "eur"}),
    ("currency with newline", {**PURCHASE, "currency": "EUR\n"}),
    ("course domain in order", {**ORDER, "domain": "course"}),
    ("no items in order", {**ORDER, "item_ids": []}),
    ("51 items in order", {**ORDER, "item_ids": [f"i{n}" for n in range(51)]}),
    ("null item id", {**ORDER, "item_ids": [None]}),
    ("impression positions not ints", {**IMPRESSION, "positions": ["0", "1"]}),
    ("course with partner", {**ITEM, "partner_id": "partner-1"}),
    ("partner item without partner", {**ITEM, "domain": "fresh_food", "partner_id": None}),
    ("partner item, partner absent", _without({**ITEM, "domain": "fresh_food"}, "partner_id")),
    ("long title", {**ITEM, "title": "t" * 301}),
    ("33 tags", {**ITEM, "tags": [f"t{n}" for n in range(33)]}),
    ("active as int", {**ITEM, "active": 1}),
    ("consent as string", {**CLICK, "event_type": "consent", "personalisation": "false"}),
    ("long unknown string", {**CLICK, "note": "n" * 1025}),
    ("long unknown key", {**CLICK, "k" * 1025: 1}),
    ("unknown field too deep", {**CLICK, "extra": _deep(8)}),
]

HAND_WRITTEN_VALID: list[tuple[str, Any]] = [
    ("click", CLICK),
    ("lower-case t and z", {**CLICK, "ts": "2026-11-29t10:00:00z"}),
    ("offset and nanoseconds", {**CLICK, "ts": "2026-11-29T10:00:00.123456789-03:30"}),
    ("integral float position", {**CLICK, "position": 2.0}),
    ("integer price", PURCHASE),
    ("order", ORDER),
    ("impression", IMPRESSION),
    ("course item, partner absent", _without(ITEM, "partner_id")),
    ("item with ignored user_id", {**ITEM, "user_id": None}),
    ("pii keys", {**CLICK, "email": "a@b.c", "ip": "10.0.0.1"}),
    ("unknown field 7 levels below", {**CLICK, "extra": _deep(7)}),
    ("forget", {**_without(CLICK, "item_id"), "event_type": "forget"}),
]


@pytest.mark.parametrize(("name", "document"), HAND_WRITTEN_INVALID)
def test_hand_written_invalid_events_are_rejected_by_both(name: str, document: Any) -> None:
    assert not decoder_accepts(document), name
    assert not EVENT_VALIDATOR.is_valid(document), name


@pytest.mark.parametrize(("name", "document"), HAND_WRITTEN_VALID)
def test_hand_written_valid_events_are_accepted_by_both(name: str, document: Any) -> None:
    assert decoder_accepts(document), name
    EVENT_VALIDATOR.validate(document)


def test_what_json_schema_cannot_express_is_documented_and_decoder_only() -> None:
    mismatched = {**IMPRESSION, "positions": [0]}
    assert EVENT_VALIDATOR.is_valid(mismatched)
    assert not decoder_accepts(mismatched)
    impossible_date = {**CLICK, "ts": "2026-02-30T10:00:00Z"}
    assert EVENT_VALIDATOR.is_valid(impossible_date)
    assert not decoder_accepts(impossible_date)
    description = next(b for b in event_schema()["oneOf"] if b["title"] == "impression")
    assert "same length" in description["description"]


def _decoder_only_rule(exc: InvalidEvent) -> bool:
    """Rules JSON Schema cannot state (listed in schemas/json_schema.py)."""
    return exc.field == "positions" and "same length" in exc.reason


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_documents())
def test_decoder_and_json_schema_agree_on_near_valid_events(document: dict[str, Any]) -> None:
    exc = decoder_rejection(document)
    schema_ok = EVENT_VALIDATOR.is_valid(document)
    if exc is None:
        assert schema_ok, "decoder accepted what the schema rejects"
    elif not _decoder_only_rule(exc):
        assert not schema_ok, f"schema accepted what the decoder rejects: {exc}"


# --- recommendations -------------------------------------------------------------------


@given(recommendations())
def test_recommendation_round_trip_and_schema(rec: Any) -> None:
    raw = encode_recommendation(rec)
    assert decode_recommendation(raw) == rec
    RECOMMENDATION_VALIDATOR.validate(orjson.loads(raw))


def _recommendation_accepted(document: Any) -> bool:
    try:
        decode_recommendation(orjson.dumps(document))
    except InvalidEvent:
        return False
    return True


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_documents(recommendation_documents()))
def test_decoder_and_schema_agree_on_near_valid_recommendations(document: dict[str, Any]) -> None:
    try:
        decode_recommendation(orjson.dumps(document))
    except InvalidEvent as exc:
        error: InvalidEvent | None = exc
    else:
        error = None
    if error is None:
        RECOMMENDATION_VALIDATOR.validate(document)
    elif "repeats item_id" not in error.reason:  # distinct items: a decoder-only rule
        assert not RECOMMENDATION_VALIDATOR.is_valid(document), str(error)

"""decode_event: only InvalidEvent escapes, with the right code; leniencies and limits."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas import (
    ERROR_CODES,
    PII_KEYS,
    Click,
    Decoded,
    Forget,
    Impression,
    InvalidEvent,
    ItemUpsert,
    decode_event,
)
from tests.unit.strategies import json_values, mutated_documents, wire_documents

CLICK: dict[str, Any] = {
    "event_id": "e-1",
    "event_type": "click",
    "ts": "2026-11-29T10:00:00.123Z",
    "user_id": "u-1",
    "schema_version": 1,
    "item_id": "fresh_food-0042",
    "surface": "home",
    "rec_id": "r-1",
    "position": 3,
}


def dumps(document: Any) -> bytes:
    return orjson.dumps(document)


def decode_or_error(raw: bytes) -> Decoded | InvalidEvent:
    """Decode; any exception other than InvalidEvent fails the test by escaping."""
    try:
        return decode_event(raw)
    except InvalidEvent as exc:
        error = exc
    assert error.code in ERROR_CODES
    assert error.reason
    assert str(error).startswith(error.code)
    return error


def rejection(raw: bytes) -> InvalidEvent:
    outcome = decode_or_error(raw)
    assert isinstance(outcome, InvalidEvent), f"accepted: {outcome!r}"
    return outcome


def with_changes(base: dict[str, Any], **changes: Any) -> bytes:
    document = {**base, **changes}
    return dumps({k: v for k, v in document.items() if v is not DROP})


DROP = object()


# --- fuzzing: whatever the bytes, only InvalidEvent escapes -----------------------------


@given(st.binary(max_size=300))
def test_random_bytes_only_raise_invalid_event(raw: bytes) -> None:
    decode_or_error(raw)


@given(json_values())
def test_random_json_values_only_raise_invalid_event(value: Any) -> None:
    decode_or_error(dumps(value))


@given(st.dictionaries(st.sampled_from([*sorted(CLICK), "domain", "price"]), json_values(5)))
def test_random_objects_with_contract_keys_only_raise_invalid_event(doc: dict[str, Any]) -> None:
    decode_or_error(dumps({"schema_version": 1, "event_type": "click", **doc}))


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(mutated_documents())
def test_near_valid_documents_only_raise_invalid_event(doc: dict[str, Any]) -> None:
    decode_or_error(dumps(doc))


@given(wire_documents(), st.integers(0, 400), st.binary(min_size=1, max_size=3))
def test_corrupted_bytes_of_valid_events_only_raise_invalid_event(
    doc: dict[str, Any], at: int, junk: bytes
) -> None:
    raw = dumps(doc)
    at %= len(raw)
    decode_or_error(raw[:at] + junk + raw[at + 1 :])


@given(wire_documents())
def test_every_valid_document_decodes(doc: dict[str, Any]) -> None:
    decoded = decode_event(dumps(doc))
    assert doc["event_type"] == decoded.event.EVENT_TYPE
    assert decoded.stripped_pii == ()


# --- codes for payload-level problems --------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b"", "not_json"),
        (b"\x00", "not_json"),
        (b'{"a":"\x00"}', "not_json"),
        (b"{} {}", "not_json"),
        (b"NaN", "not_json"),
        (b'{"price": Infinity}', "not_json"),
        (b'{"price": 1e400}', "not_json"),
        (b"\xef\xbb\xbf{}", "not_json"),
        (b"\xff\xfe{}", "invalid_utf8"),
        (b'{"a":"\xed\xa0\x80"}', "invalid_utf8"),
        (b'{"a":"\\ud800"}', "invalid_utf8"),
        (b"[]", "not_object"),
        (b'"click"', "not_object"),
        (b"null", "not_object"),
        (b"12345678901234567890123", "not_object"),
        (b"[" * 2000 + b"]" * 2000, "too_deep"),
        (b"[" * 100_000, "too_large"),
    ],
)
def test_payload_level_codes(raw: bytes, code: str) -> None:
    assert rejection(raw).code == code


def test_wrapped_parser_errors_are_chained() -> None:
    exc = rejection(b"{not json")
    assert isinstance(exc.__cause__, orjson.JSONDecodeError)
    assert exc.field is None


def test_non_bytes_payload_is_wrong_type() -> None:
    with pytest.raises(InvalidEvent) as info:
        decode_event("{}")  # type: ignore[arg-type]
    assert info.value.code == "wrong_type"


def test_bytearray_and_memoryview_are_accepted() -> None:
    raw = dumps(CLICK)
    assert decode_event(bytearray(raw)) == decode_event(memoryview(raw)) == decode_event(raw)  # type: ignore[arg-type]


# --- limits ----------------------------------------------------------------------------


def test_size_limit_is_configurable_and_exact() -> None:
    raw = dumps(CLICK)
    assert decode_event(raw, max_bytes=len(raw)).event.event_id == "e-1"
    with pytest.raises(InvalidEvent) as info:
        decode_event(raw, max_bytes=len(raw) - 1)
    assert info.value.code == "too_large"


def nested(levels: int) -> Any:
    value: Any = 1
    for i in range(levels):
        value = [value] if i % 2 else {"k": value}
    return value


def test_depth_limit_is_eight_levels_including_the_event() -> None:
    assert decode_event(with_changes(CLICK, extra=nested(7))).event.event_id == "e-1"
    exc = rejection(with_changes(CLICK, extra=nested(8)))
    assert (exc.code, exc.field) == ("too_deep", "extra")


def test_string_limit_applies_to_unknown_fields_and_keys() -> None:
    assert decode_event(with_changes(CLICK, note="x" * 1024)).event.event_id == "e-1"
    assert rejection(with_changes(CLICK, note="x" * 1025)).code == "too_long"
    assert rejection(with_changes(CLICK, note=[{"deep": "é" * 1025}])).code == "too_long"
    assert rejection(with_changes(CLICK, **{"k" * 1025: 1})).code == "too_long"
    assert rejection(with_changes(CLICK, note={"k" * 1025: 1})).code == "too_long"


@pytest.mark.parametrize(
    ("changes", "code", "field"),
    [
        ({"item_id": "i" * 129}, "too_long", "item_id"),
        ({"user_id": "u" * 129}, "too_long", "user_id"),
        ({"event_id": "e" * 1025}, "too_long", "event_id"),
    ],
)
def test_field_length_limits(changes: dict[str, Any], code: str, field: str) -> None:
    exc = rejection(with_changes(CLICK, **changes))
    assert (exc.code, exc.field) == (code, field)


# --- field-level codes -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "code", "field"),
    [
        ({"schema_version": DROP}, "missing_field", "schema_version"),
        ({"schema_version": 2}, "unsupported_version", "schema_version"),
        ({"schema_version": 0}, "unsupported_version", "schema_version"),
        ({"schema_version": "1"}, "wrong_type", "schema_version"),
        ({"schema_version": True}, "wrong_type", "schema_version"),
        ({"schema_version": 1.5}, "wrong_type", "schema_version"),
        ({"event_type": DROP}, "missing_field", "event_type"),
        ({"event_type": "purchase"}, "unknown_type", "event_type"),
        ({"event_type": "Click"}, "unknown_type", "event_type"),
        ({"event_type": 1}, "wrong_type", "event_type"),
        ({"event_id": DROP}, "missing_field", "event_id"),
        ({"event_id": ""}, "bad_value", "event_id"),
        ({"event_id": "a\nb"}, "bad_value", "event_id"),
        ({"event_id": "a\x85b"}, "bad_value", "event_id"),
        ({"user_id": None}, "wrong_type", "user_id"),
        ({"user_id": 42}, "wrong_type", "user_id"),
        ({"user_id": DROP}, "missing_field", "user_id"),
        ({"ts": DROP}, "missing_field", "ts"),
        ({"ts": 1764410400}, "wrong_type", "ts"),
        ({"ts": "2026-11-29T10:00:00"}, "bad_value", "ts"),
        ({"ts": "2026-11-29 10:00:00Z"}, "bad_value", "ts"),
        ({"ts": "2026-11-29"}, "bad_value", "ts"),
        ({"ts": "20261129T100000Z"}, "bad_value", "ts"),
        ({"ts": "2026-02-30T10:00:00Z"}, "bad_value", "ts"),
        ({"ts": "2026-11-29T10:00:60Z"}, "bad_value", "ts"),
        ({"ts": "2026-11-29T10:00:00Z\n"}, "bad_value", "ts"),
        ({"ts": "9999-12-31T23:59:59-01:00"}, "bad_value", "ts"),
        ({"ts": "0001-01-01T00:00:00+01:00"}, "bad_value", "ts"),
        ({"item_id": None}, "wrong_type", "item_id"),
        ({"surface": ""}, "bad_value", "surface"),
        ({"rec_id": 7}, "wrong_type", "rec_id"),
        ({"position": -1}, "bad_value", "position"),
        ({"position": 2**53}, "bad_value", "position"),
        ({"position": 1.5}, "wrong_type", "position"),
        ({"position": "3"}, "wrong_type", "position"),
        ({"position": True}, "wrong_type", "position"),
    ],
)
def test_click_field_codes(changes: dict[str, Any], code: str, field: str) -> None:
    exc = rejection(with_changes(CLICK, **changes))
    assert (exc.code, exc.field) == (code, field), exc.reason
    assert field in exc.reason


PURCHASE = {**CLICK, "event_type": "course_purchase", "course_id": "course-0001"}
PURCHASE.update(price=49.0, currency="EUR")
ORDER = {**CLICK, "event_type": "partner_order", "partner_id": "partner-7", "domain": "fashion"}
ORDER.update(item_ids=["fashion-0001"], amount=20, currency="EUR")
IMPRESSION = {**CLICK, "event_type": "impression", "item_ids": ["a", "b"], "positions": [0, 1]}
ITEM = {
    "event_id": "e-2",
    "event_type": "item",
    "ts": "2026-11-29T10:00:00Z",
    "schema_version": 1,
    "item_id": "course-0001",
    "domain": "course",
    "partner_id": None,
    "title": "Knife skills",
    "tags": ["cooking"],
    "price": 10,
    "active": True,
}


@pytest.mark.parametrize(
    ("base", "changes", "code", "field"),
    [
        (PURCHASE, {"price": -0.01}, "bad_value", "price"),
        (PURCHASE, {"price": "49.00"}, "wrong_type", "price"),
        (PURCHASE, {"price": True}, "wrong_type", "price"),
        (PURCHASE, {"currency": "eur"}, "bad_value", "currency"),
        (PURCHASE, {"currency": "EURO"}, "bad_value", "currency"),
        (PURCHASE, {"course_id": DROP}, "missing_field", "course_id"),
        (ORDER, {"domain": "course"}, "bad_value", "domain"),
        (ORDER, {"item_ids": []}, "bad_value", "item_ids"),
        (ORDER, {"item_ids": ["x"] * 51}, "too_long", "item_ids"),
        (ORDER, {"item_ids": "fashion-0001"}, "wrong_type", "item_ids"),
        (ORDER, {"item_ids": ["ok", None]}, "wrong_type", "item_ids[1]"),
        (IMPRESSION, {"positions": [0]}, "bad_value", "positions"),
        (IMPRESSION, {"positions": [0, -1]}, "bad_value", "positions[1]"),
        (IMPRESSION, {"item_ids": ["x"] * 101, "positions": [0] * 101}, "too_long", "item_ids"),
        (ITEM, {"partner_id": "partner-7"}, "bad_value", "partner_id"),
        (ITEM, {"domain": "fashion"}, "bad_value", "partner_id"),
        (ITEM, {"domain": "books"}, "bad_value", "domain"),
        (ITEM, {"title": "t" * 301}, "too_long", "title"),
        (ITEM, {"tags": ["t"] * 33}, "too_long", "tags"),
        (ITEM, {"tags": [""]}, "bad_value", "tags[0]"),
        (ITEM, {"active": 1}, "wrong_type", "active"),
        (ITEM, {"active": "true"}, "wrong_type", "active"),
        ({**CLICK, "event_type": "consent"}, {}, "missing_field", "personalisation"),
        ({**CLICK, "event_type": "consent", "personalisation": 0}, {}, "wrong_type", None),
    ],
)
def test_type_specific_codes(
    base: dict[str, Any], changes: dict[str, Any], code: str, field: str | None
) -> None:
    exc = rejection(with_changes(base, **changes))
    assert exc.code == code, exc.reason
    if field is not None:
        assert exc.field == field, exc.reason


# --- leniencies, PII, unknown fields ---------------------------------------------------


def test_optional_click_fields_may_be_absent_or_null() -> None:
    absent = decode_event(with_changes(CLICK, rec_id=DROP, position=DROP)).event
    null = decode_event(with_changes(CLICK, rec_id=None, position=None)).event
    assert isinstance(absent, Click)
    assert absent == null
    assert (absent.rec_id, absent.position) == (None, None)


def test_integral_floats_are_integers() -> None:
    event = decode_event(with_changes(CLICK, position=3.0, schema_version=1.0)).event
    assert isinstance(event, Click)
    assert event.position == 3
    assert type(event.position) is int
    impression = decode_event(with_changes(IMPRESSION, positions=[0.0, 1.0])).event
    assert isinstance(impression, Impression)
    assert impression.positions == (0, 1)


def test_timestamps_are_normalised_to_utc() -> None:
    plain = decode_event(dumps(CLICK)).event
    for ts in (
        "2026-11-29T11:00:00.123+01:00",
        "2026-11-29t05:00:00.123-05:00",
        "2026-11-29T10:00:00.123z",
        "2026-11-29T10:00:00.123000999Z",
    ):
        event = decode_event(with_changes(CLICK, ts=ts)).event
        assert event.ts == plain.ts
        assert event.ts.utcoffset() is not None
        assert event.ts.tzinfo is plain.ts.tzinfo


def test_item_events_have_no_user_and_ignore_one_if_sent() -> None:
    event = decode_event(dumps(ITEM)).event
    assert isinstance(event, ItemUpsert)
    assert event.user_id is None
    assert decode_event(with_changes(ITEM, user_id="someone")).event == event
    assert decode_event(with_changes(ITEM, partner_id=DROP)).event == event


def test_unknown_fields_are_ignored() -> None:
    plain = decode_event(dumps(CLICK))
    extra = decode_event(with_changes(CLICK, app_version="3.2", experiment={"x": [1, 2]}))
    assert extra == plain


def test_pii_keys_are_stripped_and_reported() -> None:
    pii = {key: "secret" for key in PII_KEYS} | {"Email": "A@B.C"}
    decoded = decode_event(with_changes(CLICK, **pii))
    assert decoded.stripped_pii == tuple(sorted([*PII_KEYS, "Email"]))
    assert decoded.event == decode_event(dumps(CLICK)).event
    assert "secret" not in repr(decoded.event)


def test_forget_needs_only_the_common_fields() -> None:
    doc = {k: CLICK[k] for k in ("event_id", "ts", "user_id", "schema_version")}
    event = decode_event(dumps({**doc, "event_type": "forget"})).event
    assert isinstance(event, Forget)
    assert event.user_id == "u-1"

"""The recommendations contract: validation on construction, decoding with one error type."""

from __future__ import annotations

import contextlib
import dataclasses
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas import (
    ERROR_CODES,
    InvalidEvent,
    Recommendation,
    RecommendedItem,
    decode_recommendation,
    encode_recommendation,
)
from tests.unit.strategies import json_values

TS = datetime(2026, 11, 29, 10, tzinfo=UTC)
ITEM = RecommendedItem(
    item_id="fresh_food-0042",
    domain="fresh_food",
    partner="p-7",
    score=1.5,
    p_click=0.2,
    reason="cross_domain",
)
REC = Recommendation(
    rec_id="r1",
    user_id="p:" + "0" * 32,
    items=(ITEM,),
    variant="A",
    model_version="mf-1",
    source_event_id="e1",
    event_ts=TS,
    generated_at=TS,
)


def test_encoding_shape() -> None:
    document = orjson.loads(encode_recommendation(REC))
    assert document["event_ts"] == "2026-11-29T10:00:00Z"
    assert document["schema_version"] == 1
    assert document["items"][0] == {
        "item_id": "fresh_food-0042",
        "domain": "fresh_food",
        "partner": "p-7",
        "score": 1.5,
        "p_click": 0.2,
        "reason": "cross_domain",
    }


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"user_id": "u1"}, "user_id"),
        ({"items": (ITEM, ITEM)}, "items[1]"),
        ({"items": [ITEM]}, "items"),
        ({"variant": None}, "variant"),
        ({"event_ts": datetime(2026, 1, 1)}, "event_ts"),
        ({"schema_version": 2}, "schema_version"),
    ],
)
def test_invalid_recommendations_are_refused(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidEvent) as info:
        dataclasses.replace(REC, **changes)
    assert info.value.field == field


@pytest.mark.parametrize(
    "changes",
    [
        {"p_click": 1.01},
        {"p_click": -0.1},
        {"score": float("nan")},
        {"domain": "course"},
        {"partner": None},
        {"reason": ""},
    ],
)
def test_invalid_items_are_refused(changes: dict[str, Any]) -> None:
    with pytest.raises(InvalidEvent):
        dataclasses.replace(ITEM, **changes)


def _doc(**changes: Any) -> bytes:
    document = orjson.loads(encode_recommendation(REC)) | changes
    return orjson.dumps(document)


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b"[]", "not_object"),
        (b"{", "not_json"),
        (_doc(schema_version=2), "unsupported_version"),
        (_doc(items={}), "wrong_type"),
        (_doc(items=[1]), "wrong_type"),
        (_doc(items=[{"item_id": "x"}]), "missing_field"),
        (_doc(event_ts="yesterday"), "bad_value"),
        (_doc(p_click=2), None),  # unknown top-level field: ignored
    ],
)
def test_decode_codes(raw: bytes, code: str | None) -> None:
    if code is None:
        assert decode_recommendation(raw) == REC
        return
    with pytest.raises(InvalidEvent) as info:
        decode_recommendation(raw)
    assert info.value.code == code


def test_item_errors_name_the_item() -> None:
    raw = _doc(items=[{**orjson.loads(encode_recommendation(REC))["items"][0], "p_click": 3}])
    with pytest.raises(InvalidEvent) as info:
        decode_recommendation(raw)
    assert info.value.field == "items[0].p_click"
    assert "items[0]" in info.value.reason


@given(st.one_of(st.binary(max_size=200), json_values().map(orjson.dumps)))
def test_fuzz_only_invalid_event_escapes(raw: bytes) -> None:
    with contextlib.suppress(InvalidEvent):
        decode_recommendation(raw)
        return
    with pytest.raises(InvalidEvent) as info:
        decode_recommendation(raw)
    assert info.value.code in ERROR_CODES
    assert info.value.reason

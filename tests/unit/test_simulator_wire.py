"""The simulator's output against the wire contract (/work/briefs/wire.md).

``wire_violations`` is an independent reading of the contract written for these tests, so
the simulator is checked even where the ``schemas`` decoder is not available; when
``schemas.decode_event`` exists, every payload is also run through it.
"""

from __future__ import annotations

import importlib
import itertools
import json
import math
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.clock import format_ts, parse_ts
from simulator.hostile import HOSTILE_KINDS, REPLAYED_ID, hostile_payloads, mix_hostile
from simulator.payload import encode_all
from simulator.traffic import Traffic
from simulator.world import World

MAX_BYTES = 64 * 1024
MAX_DEPTH = 8
MAX_STRING = 1024
DOMAINS = {"course", "restaurant_deal", "fresh_food", "food_delivery", "fashion"}
PARTNER_DOMAINS = DOMAINS - {"course"}
_TS = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")


def _decoder() -> Callable[[bytes], Any] | None:
    """``schemas.decode_event`` if the decoder has landed, else ``None``."""
    schemas = importlib.import_module("schemas")
    found = getattr(schemas, "decode_event", None)
    if found is None:
        try:
            found = getattr(importlib.import_module("schemas.decode"), "decode_event", None)
        except ImportError:
            return None
    return found


def _reject_constant(name: str) -> Any:
    raise ValueError(f"non-JSON constant {name}")


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [*value.keys(), *(s for v in value.values() for s in _strings(v))]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _is_id(value: Any) -> bool:
    return (
        isinstance(value, str)
        and 1 <= len(value) <= 128
        and not any(ord(c) < 32 or 127 <= ord(c) < 160 for c in value)
    )


def _is_number(value: Any, minimum: float = 0.0) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value >= minimum
    )


def _is_ts(value: Any) -> bool:
    if not isinstance(value, str) or not _TS.match(value):
        return False
    try:
        datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def wire_violations(raw: bytes) -> list[str]:
    """Every way ``raw`` breaks the contract; empty when it is a valid event."""
    if len(raw) > MAX_BYTES:
        return ["payload too large"]
    try:
        doc = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError) as exc:
        return [f"not JSON: {exc}"]
    if not isinstance(doc, dict):
        return ["not an object"]
    problems: list[str] = []
    if _depth(doc) > MAX_DEPTH:
        problems.append("too deep")
    for s in _strings(doc):
        if len(s) > MAX_STRING:
            problems.append("string too long")
        try:
            s.encode("utf-8")
        except UnicodeEncodeError:
            problems.append("lone surrogate")
    et = doc.get("event_type")
    if not _is_id(doc.get("event_id")):
        problems.append("event_id")
    if not _is_ts(doc.get("ts")):
        problems.append("ts")
    version = doc.get("schema_version")
    if isinstance(version, bool) or version != 1:
        problems.append("schema_version")
    if et != "item" and not _is_id(doc.get("user_id")):
        problems.append("user_id")
    if et == "click":
        if not _is_id(doc.get("item_id")) or not isinstance(doc.get("surface"), str):
            problems.append("click fields")
        if doc.get("rec_id") is not None and not _is_id(doc["rec_id"]):
            problems.append("rec_id")
        pos = doc.get("position")
        if pos is not None and (isinstance(pos, bool) or not isinstance(pos, int) or pos < 0):
            problems.append("position")
    elif et == "course_purchase":
        if not _is_id(doc.get("course_id")) or not _is_number(doc.get("price")):
            problems.append("course_purchase fields")
        if not isinstance(doc.get("currency"), str) or not _CURRENCY.match(doc["currency"]):
            problems.append("currency")
    elif et == "partner_order":
        ids = doc.get("item_ids")
        if not _is_id(doc.get("partner_id")) or doc.get("domain") not in PARTNER_DOMAINS:
            problems.append("partner_order fields")
        if not isinstance(ids, list) or not 1 <= len(ids) <= 50 or not all(map(_is_id, ids)):
            problems.append("item_ids")
        if not _is_number(doc.get("amount")):
            problems.append("amount")
        if not isinstance(doc.get("currency"), str) or not _CURRENCY.match(doc["currency"]):
            problems.append("currency")
    elif et == "impression":
        ids, positions = doc.get("item_ids"), doc.get("positions")
        if not _is_id(doc.get("rec_id")) or not isinstance(doc.get("surface"), str):
            problems.append("impression fields")
        if not isinstance(ids, list) or not 1 <= len(ids) <= 100 or not all(map(_is_id, ids)):
            problems.append("item_ids")
        if (
            not isinstance(positions, list)
            or not isinstance(ids, list)
            or len(positions) != len(ids)
            or any(isinstance(p, bool) or not isinstance(p, int) or p < 0 for p in positions)
        ):
            problems.append("positions")
    elif et == "item":
        tags = doc.get("tags")
        partner = doc.get("partner_id")
        if not _is_id(doc.get("item_id")) or doc.get("domain") not in DOMAINS:
            problems.append("item fields")
        if partner is not None and not _is_id(partner):
            problems.append("partner_id")
        if not isinstance(doc.get("title"), str) or len(doc["title"]) > 300:
            problems.append("title")
        if (
            not isinstance(tags, list)
            or len(tags) > 32
            or not all(isinstance(t, str) for t in tags)
        ):
            problems.append("tags")
        if not _is_number(doc.get("price")) or not isinstance(doc.get("active"), bool):
            problems.append("price/active")
    elif et == "consent":
        if not isinstance(doc.get("personalisation"), bool):
            problems.append("personalisation")
    elif et != "forget":
        problems.append(f"unknown event_type {et!r}")
    return problems


# ---------------------------------------------------------------------- the stream


@pytest.fixture(scope="module")
def stream() -> list[bytes]:
    world = World(seed=5, n_users=800, n_items=400)
    traffic = Traffic(world, seed=5, forget_rate=0.01, opt_out_rate=0.05)
    return [m.payload for m in itertools.islice(encode_all(traffic), 25_000)]


def test_every_generated_event_meets_the_contract(stream: list[bytes]) -> None:
    bad = [(p, v) for p in stream if (v := wire_violations(p))]
    assert not bad, bad[:3]
    types = {json.loads(p)["event_type"] for p in stream}
    assert types == {
        "item",
        "impression",
        "click",
        "course_purchase",
        "partner_order",
        "consent",
        "forget",
    }


def test_every_generated_event_decodes_with_schemas(stream: list[bytes]) -> None:
    decode = _decoder()
    if decode is None:
        pytest.skip("schemas.decode_event not available yet")
    for payload in stream:
        decode(payload)  # raises on any violation


def test_catalogue_ids_use_domain_prefixes_and_never_collide(stream: list[bytes]) -> None:
    items = [json.loads(p) for p in stream[:400]]
    assert all(i["event_type"] == "item" for i in items)
    assert len({i["item_id"] for i in items}) == 400
    for item in items:
        assert item["item_id"].startswith(item["domain"] + "-")
        assert (item["partner_id"] is None) == (item["domain"] == "course")
    assert {i["domain"] for i in items} == DOMAINS


def test_event_ids_are_unique(stream: list[bytes]) -> None:
    ids = [json.loads(p)["event_id"] for p in stream]
    assert len(ids) == len(set(ids))


# ---------------------------------------------------------------------- hostile input


def test_each_hostile_payload_breaks_the_contract() -> None:
    decode = _decoder()
    previous = [m.payload for m in itertools.islice(encode_all(_small_traffic()), 50)]
    seen: set[str] = set()
    for payload, kind in itertools.islice(hostile_payloads(seed=3, previous=previous), 3_000):
        seen.add(kind)
        if kind == REPLAYED_ID:
            assert payload in previous
            assert wire_violations(payload) == []
            if decode is not None:
                decode(payload)  # valid: only de-duplication can catch it
            continue
        assert wire_violations(payload), (kind, payload[:200])
        if decode is not None:
            try:
                decode(payload)
            except ValueError:  # the decoder's InvalidEvent is a ValueError
                pass
            else:
                pytest.fail(f"decoder accepted {kind}: {payload[:200]!r}")
    assert seen == set(HOSTILE_KINDS)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(min_value=0, max_value=2**32))
def test_hostile_payloads_are_rejected_for_any_seed(seed: int) -> None:
    for payload, kind in itertools.islice(hostile_payloads(seed), 60):
        assert kind != REPLAYED_ID  # nothing to replay without previous payloads
        assert wire_violations(payload), (kind, payload[:200])
        assert b"\n" not in payload and b"\r" not in payload


def test_mixed_stream_valid_part_still_meets_contract() -> None:
    messages = list(itertools.islice(mix_hostile(encode_all(_small_traffic()), 0.2, seed=2), 3_000))
    for m in messages:
        if m.kind is None or m.kind == REPLAYED_ID:
            assert wire_violations(m.payload) == []
        else:
            assert wire_violations(m.payload)


def _small_traffic() -> Traffic:
    return Traffic(World(seed=2, n_users=100, n_items=60), seed=2)


# ---------------------------------------------------------------------- timestamps


@given(ms=st.integers(min_value=0, max_value=253_402_300_799_999))
def test_timestamps_round_trip_and_meet_rfc3339(ms: int) -> None:
    text = format_ts(ms)
    assert _is_ts(text)
    assert parse_ts(text) == ms


@given(st.datetimes(timezones=st.timezones()))
def test_parse_ts_accepts_any_aware_datetime_rendering(dt: datetime) -> None:
    expected = parse_ts(dt)
    assert parse_ts(dt.isoformat()) == expected


def test_parse_ts_rejects_naive_timestamps() -> None:
    with pytest.raises(ValueError, match="timezone"):
        parse_ts("2026-11-29T10:00:00")

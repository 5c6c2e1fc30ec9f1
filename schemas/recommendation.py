"""The output contract, version 1: one message on the ``recommendations`` topic.

A recommendation answers one event (``source_event_id``, ``event_ts``) for one
pseudonymous user. ``user_id`` must be a pseudonym (:func:`~schemas.pseudonym.is_pseudonym`):
a raw id can never reach consumers through this type. Items are distinct, at most
:data:`MAX_RECOMMENDED_ITEMS`, best first; ``partner`` is ``None`` exactly for courses;
``p_click`` is the probability that the item is clicked if shown, calibrated per A/B variant
on what that variant's earlier lists got; ``score`` any finite number (only its order
matters).

>>> from datetime import UTC, datetime
>>> t = datetime(2026, 11, 29, 10, tzinfo=UTC)
>>> rec = Recommendation(
...     rec_id="r1", user_id="p:" + "0" * 32,
...     items=(RecommendedItem(item_id="fresh_food-0042", domain="fresh_food",
...                            partner="p-7", score=2.5, p_click=0.12, reason="cross_domain"),),
...     variant="A", model_version="mf-3", source_event_id="e1", event_ts=t, generated_at=t)
>>> decode_recommendation(encode_recommendation(rec)) == rec
True
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import orjson

from schemas._checks import (
    check_choice,
    check_float,
    check_id,
    check_optional_id,
    check_ts,
    check_tuple,
    check_version,
    json_type_name,
    wrong_type,
)
from schemas.document import MISSING, parse_document, wire_int, wire_ts
from schemas.errors import InvalidEvent
from schemas.events import DOMAINS, Domain
from schemas.limits import DEFAULT_MAX_BYTES
from schemas.pseudonym import is_pseudonym

RECOMMENDATION_SCHEMA_VERSION: Final = 1
MAX_RECOMMENDED_ITEMS: Final = 100


@dataclass(frozen=True, slots=True, kw_only=True)
class RecommendedItem:
    """One recommended item; ``reason`` is a short machine-readable tag (1..128 chars)."""

    item_id: str
    domain: Domain
    partner: str | None
    score: float
    p_click: float
    reason: str

    def __post_init__(self) -> None:
        check_id(self.item_id, "item_id")
        domain = check_choice(self.domain, "domain", DOMAINS)
        partner = check_optional_id(self.partner, "partner")
        if (domain == "course") != (partner is None):
            raise InvalidEvent(
                "bad_value", "partner must be null for courses and set otherwise", "partner"
            )
        object.__setattr__(self, "score", check_float(self.score, "score"))
        object.__setattr__(self, "p_click", check_float(self.p_click, "p_click", 0.0, 1.0))
        check_id(self.reason, "reason")


@dataclass(frozen=True, slots=True, kw_only=True)
class Recommendation:
    """Recommendations for one user, triggered by one event."""

    rec_id: str
    user_id: str
    items: tuple[RecommendedItem, ...]
    variant: str
    model_version: str
    source_event_id: str
    event_ts: datetime
    generated_at: datetime
    schema_version: int = RECOMMENDATION_SCHEMA_VERSION

    def __post_init__(self) -> None:
        check_id(self.rec_id, "rec_id")
        check_id(self.user_id, "user_id")
        if not is_pseudonym(self.user_id):
            raise InvalidEvent(
                "bad_value", "user_id must be a pseudonym ('p:' + 32 hex chars)", "user_id"
            )
        items = check_tuple(self.items, "items", 0, MAX_RECOMMENDED_ITEMS)
        seen: set[str] = set()
        for i, item in enumerate(items):
            if type(item) is not RecommendedItem:
                raise wrong_type(f"items[{i}]", "an object", item)
            if item.item_id in seen:
                raise InvalidEvent(
                    "bad_value", f"items[{i}] repeats item_id {item.item_id!r}", f"items[{i}]"
                )
            seen.add(item.item_id)
        check_id(self.variant, "variant")
        check_id(self.model_version, "model_version")
        check_id(self.source_event_id, "source_event_id")
        for name in ("event_ts", "generated_at"):
            value = getattr(self, name)
            if type(value) is not datetime or value.tzinfo is not UTC:
                object.__setattr__(self, name, check_ts(value, name))
        check_version(self.schema_version, RECOMMENDATION_SCHEMA_VERSION)


def encode_recommendation(rec: Recommendation) -> bytes:
    """Compact JSON for the ``recommendations`` topic (timestamps RFC 3339 UTC with ``Z``)."""
    if type(rec) is not Recommendation:
        raise TypeError(f"not a Recommendation: {type(rec).__name__}")
    return orjson.dumps(rec, option=orjson.OPT_UTC_Z)


def decode_recommendation(raw: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> Recommendation:
    """Parse and validate one ``recommendations`` message; raise ``InvalidEvent`` if bad.

    Same payload limits and leniencies as :func:`~schemas.decode.decode_event`; unknown
    fields are ignored.
    """
    document = parse_document(raw, max_bytes)
    version = wire_int(document.get("schema_version", MISSING))
    if version is MISSING:
        raise InvalidEvent("missing_field", "schema_version is required", "schema_version")
    check_version(version, RECOMMENDATION_SCHEMA_VERSION)
    try:
        raw_items = document["items"]
        if type(raw_items) is not list:
            raise wrong_type("items", "an array", raw_items)
        return Recommendation(
            rec_id=document["rec_id"],
            user_id=document["user_id"],
            items=tuple(_item(i, value) for i, value in enumerate(raw_items)),
            variant=document["variant"],
            model_version=document["model_version"],
            source_event_id=document["source_event_id"],
            event_ts=wire_ts(document["event_ts"], "event_ts"),
            generated_at=wire_ts(document["generated_at"], "generated_at"),
        )
    except KeyError as exc:
        name = str(exc.args[0])
        raise InvalidEvent("missing_field", f"{name} is required", name) from exc


def _item(index: int, value: Any) -> RecommendedItem:
    if type(value) is not dict:
        raise InvalidEvent(
            "wrong_type",
            f"items[{index}] must be an object, got {json_type_name(value)}",
            f"items[{index}]",
        )
    try:
        return RecommendedItem(
            item_id=value["item_id"],
            domain=value["domain"],
            partner=value.get("partner"),
            score=value["score"],
            p_click=value["p_click"],
            reason=value["reason"],
        )
    except KeyError as exc:
        name = f"items[{index}].{exc.args[0]}"
        raise InvalidEvent("missing_field", f"{name} is required", name) from exc
    except InvalidEvent as exc:
        field = f"items[{index}].{exc.field}" if exc.field else f"items[{index}]"
        raise InvalidEvent(exc.code, f"items[{index}].{exc.reason}", field) from exc

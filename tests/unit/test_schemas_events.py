"""The event classes: typed, frozen, slotted, validated on construction."""

from __future__ import annotations

import dataclasses
import pickle
import typing
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, get_args

import pytest
from hypothesis import given

import online_models.types
from schemas import (
    DOMAINS,
    ERROR_CODES,
    EVENT_CLASSES,
    PARTNER_DOMAINS,
    Click,
    Consent,
    CoursePurchase,
    Domain,
    Event,
    Forget,
    Impression,
    InvalidEvent,
    ItemUpsert,
    PartnerDomain,
    PartnerOrder,
    with_user,
)
from tests.unit.strategies import events

TS = datetime(2026, 11, 29, 10, tzinfo=UTC)
CLICK = Click(event_id="e1", ts=TS, user_id="u1", item_id="course-0001", surface="home")


def test_domains_match_the_model_vocabulary() -> None:
    assert get_args(Domain) == get_args(online_models.types.Domain) == DOMAINS
    assert get_args(PartnerDomain) == PARTNER_DOMAINS == online_models.types.PARTNER_DOMAINS


def test_event_classes_are_keyed_by_their_event_type() -> None:
    assert set(EVENT_CLASSES) == {
        "click", "course_purchase", "partner_order", "impression", "item", "consent", "forget"
    }  # fmt: skip
    for event_type, cls in EVENT_CLASSES.items():
        assert event_type == cls.EVENT_TYPE
    assert set(get_args(Event)) == set(EVENT_CLASSES.values())


@given(events())
def test_events_are_frozen_slotted_and_hashable(event: Event) -> None:
    assert not hasattr(event, "__dict__")
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.event_id = "other"  # type: ignore[misc]
    assert hash(event) == hash(dataclasses.replace(event))
    assert event.ts.tzinfo is UTC


def _str_fields(cls: type) -> list[str]:
    hints = typing.get_type_hints(cls)
    return [
        f.name for f in dataclasses.fields(cls) if hints[f.name] in (str, Domain, PartnerDomain)
    ]


def _valid_kwargs(event: Event) -> dict[str, Any]:
    return {f.name: getattr(event, f.name) for f in dataclasses.fields(event)}


PURCHASE = CoursePurchase(
    event_id="e2", ts=TS, user_id="u1", course_id="course-1", price=10, currency="EUR"
)
IMPRESSION = Impression(
    event_id="e3", ts=TS, user_id="u1", rec_id="r1", item_ids=("a",), positions=(0,), surface="s"
)
ITEM = ItemUpsert(
    event_id="e4",
    ts=TS,
    item_id="fashion-1",
    domain="fashion",
    partner_id="p1",
    title="Coat",
    tags=(),
    price=80.0,
    active=True,
)
SAMPLES: list[Event] = [
    CLICK,
    PURCHASE,
    IMPRESSION,
    ITEM,
    Forget(event_id="e5", ts=TS, user_id="u1"),
    Consent(event_id="e6", ts=TS, user_id="u1", personalisation=False),
    PartnerOrder(
        event_id="e7",
        ts=TS,
        user_id="u1",
        partner_id="p1",
        domain="fresh_food",
        item_ids=("fresh_food-0001",),
        amount=12.5,
        currency="EUR",
    ),
]


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda e: e.EVENT_TYPE)
def test_no_str_field_accepts_none(sample: Event) -> None:
    fields = _str_fields(type(sample))
    assert "event_id" in fields
    for name in fields:
        kwargs = _valid_kwargs(sample) | {name: None}
        with pytest.raises(InvalidEvent) as info:
            type(sample)(**kwargs)
        assert (info.value.code, info.value.field) == ("wrong_type", name)


def test_timestamps_must_be_aware_and_are_normalised_to_utc() -> None:
    with pytest.raises(InvalidEvent) as info:
        dataclasses.replace(CLICK, ts=datetime(2026, 11, 29, 10))
    assert (info.value.code, info.value.field) == ("bad_value", "ts")
    paris = dataclasses.replace(
        CLICK, ts=datetime(2026, 11, 29, 11, tzinfo=timezone(timedelta(hours=1)))
    )
    assert paris.ts == TS
    assert paris.ts.tzinfo is UTC
    with pytest.raises(InvalidEvent):
        dataclasses.replace(CLICK, ts="2026-11-29T10:00:00Z")  # type: ignore[arg-type]
    with pytest.raises(InvalidEvent) as overflow:
        dataclasses.replace(CLICK, ts=datetime.max.replace(tzinfo=timezone(timedelta(hours=-1))))
    assert overflow.value.code == "bad_value"


def test_amounts_become_floats_and_bools_are_not_numbers() -> None:
    assert type(PURCHASE.price) is float
    cases = [(True, "wrong_type"), (float("nan"), "bad_value"), (-1, "bad_value")]
    for bad, code in [*cases, (float("inf"), "bad_value")]:
        with pytest.raises(InvalidEvent) as info:
            dataclasses.replace(PURCHASE, price=bad)
        assert info.value.code == code


def test_python_strings_that_cannot_be_encoded_are_rejected() -> None:
    with pytest.raises(InvalidEvent):
        dataclasses.replace(CLICK, item_id="a\ud800")
    with pytest.raises(InvalidEvent):
        dataclasses.replace(ITEM, title="bad \udfff")


def test_sequences_must_be_tuples() -> None:
    with pytest.raises(InvalidEvent) as info:
        dataclasses.replace(IMPRESSION, item_ids=["a"])  # type: ignore[arg-type]
    assert info.value.code == "wrong_type"


def test_item_upsert_has_no_user() -> None:
    assert ITEM.user_id is None
    with pytest.raises(InvalidEvent):
        dataclasses.replace(ITEM, user_id="u1")  # type: ignore[arg-type]


def test_with_user_swaps_the_id_and_rechecks_it() -> None:
    swapped = with_user(CLICK, "p:" + "a" * 32)
    assert swapped.user_id == "p:" + "a" * 32
    assert dataclasses.replace(swapped, user_id="u1") == CLICK
    with pytest.raises(InvalidEvent):
        with_user(CLICK, "")


def test_invalid_event_survives_pickling() -> None:
    err = InvalidEvent("bad_value", "price must be >= 0", "price")
    copy = pickle.loads(pickle.dumps(err))
    assert (copy.code, copy.reason, copy.field, str(copy)) == (
        err.code,
        err.reason,
        err.field,
        str(err),
    )
    assert isinstance(copy, ValueError)
    assert {"too_large", "not_json", "too_deep", "missing_field"} <= ERROR_CODES

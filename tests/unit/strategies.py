"""Reusable hypothesis strategies for the wire contract (valid events, JSON, mutations).

``events()`` draws valid events of every type; ``wire_documents()`` the same as JSON
objects (what a producer sends); ``json_values()`` arbitrary JSON; ``mutated_documents()``
near-valid payloads (one field dropped, replaced or added) for fuzzing decoders.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from hypothesis import strategies as st

from schemas import (
    DOMAINS,
    PARTNER_DOMAINS,
    Click,
    Consent,
    CoursePurchase,
    Event,
    Forget,
    Impression,
    ItemUpsert,
    PartnerOrder,
    Recommendation,
    RecommendedItem,
    encode_event,
    encode_recommendation,
)

MAX_SAFE_INT = 2**53 - 1

# Printable-ish text for ids: no control characters (Cc) and no surrogates (Cs).
_ID_CHARS = st.characters(exclude_categories=("Cc", "Cs"))
_REALISTIC_ID = st.builds(
    lambda prefix, n: f"{prefix}-{n:04d}",
    st.sampled_from(["course", *PARTNER_DOMAINS, "u", "evt", "rec", "partner"]),
    st.integers(0, 99_999),
)


def ids() -> st.SearchStrategy[str]:
    """Valid ids/tokens: 1..128 chars without control characters."""
    return st.one_of(_REALISTIC_ID, st.text(_ID_CHARS, min_size=1, max_size=128))


def utc_datetimes() -> st.SearchStrategy[datetime]:
    """Aware UTC datetimes far from the year 1/9999 edges (offsets cannot overflow)."""
    return st.datetimes(
        min_value=datetime(1970, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
    )


def amounts() -> st.SearchStrategy[float]:
    return st.one_of(
        st.floats(min_value=0.0, max_value=1e12, allow_nan=False, allow_infinity=False),
        st.integers(0, 10**6).map(float),
    )


def currencies() -> st.SearchStrategy[str]:
    return st.from_regex(r"[A-Z]{3}", fullmatch=True)


def positions() -> st.SearchStrategy[int]:
    return st.one_of(st.integers(0, 50), st.integers(0, MAX_SAFE_INT))


def _common() -> dict[str, st.SearchStrategy[Any]]:
    return {"event_id": ids(), "ts": utc_datetimes(), "user_id": ids()}


def clicks() -> st.SearchStrategy[Click]:
    return st.builds(
        Click,
        **_common(),
        item_id=ids(),
        surface=ids(),
        rec_id=st.none() | ids(),
        position=st.none() | positions(),
    )


def course_purchases() -> st.SearchStrategy[CoursePurchase]:
    return st.builds(
        CoursePurchase, **_common(), course_id=ids(), price=amounts(), currency=currencies()
    )


def partner_orders() -> st.SearchStrategy[PartnerOrder]:
    return st.builds(
        PartnerOrder,
        **_common(),
        partner_id=ids(),
        domain=st.sampled_from(PARTNER_DOMAINS),
        item_ids=st.lists(ids(), min_size=1, max_size=50).map(tuple),
        amount=amounts(),
        currency=currencies(),
    )


@st.composite
def impressions(draw: st.DrawFn) -> Impression:
    items = draw(st.lists(ids(), min_size=1, max_size=100))
    shown = draw(st.lists(positions(), min_size=len(items), max_size=len(items)))
    return Impression(
        **{name: draw(strategy) for name, strategy in _common().items()},
        rec_id=draw(ids()),
        item_ids=tuple(items),
        positions=tuple(shown),
        surface=draw(ids()),
    )


@st.composite
def item_upserts(draw: st.DrawFn) -> ItemUpsert:
    domain = draw(st.sampled_from(DOMAINS))
    return ItemUpsert(
        event_id=draw(ids()),
        ts=draw(utc_datetimes()),
        item_id=draw(ids()),
        domain=domain,
        partner_id=None if domain == "course" else draw(ids()),
        title=draw(st.text(st.characters(codec="utf-8"), max_size=300)),
        tags=tuple(draw(st.lists(ids(), max_size=32))),
        price=draw(amounts()),
        active=draw(st.booleans()),
    )


def consents() -> st.SearchStrategy[Consent]:
    return st.builds(Consent, **_common(), personalisation=st.booleans())


def forgets() -> st.SearchStrategy[Forget]:
    return st.builds(Forget, **_common())


def events() -> st.SearchStrategy[Event]:
    """A valid event of any of the seven types."""
    return st.one_of(
        clicks(),
        course_purchases(),
        partner_orders(),
        impressions(),
        item_upserts(),
        consents(),
        forgets(),
    )


def wire_documents() -> st.SearchStrategy[dict[str, Any]]:
    """Valid events as the JSON objects a producer sends."""
    return events().map(lambda e: orjson.loads(encode_event(e)))


def recommended_items(domain: str | None = None) -> st.SearchStrategy[RecommendedItem]:
    @st.composite
    def build(draw: st.DrawFn) -> RecommendedItem:
        d = domain or draw(st.sampled_from(DOMAINS))
        return RecommendedItem(
            item_id=draw(ids()),
            domain=d,  # type: ignore[arg-type]
            partner=None if d == "course" else draw(ids()),
            score=draw(st.floats(allow_nan=False, allow_infinity=False)),
            p_click=draw(st.floats(0.0, 1.0)),
            reason=draw(st.sampled_from(["cross_domain", "popular", "similar", "explore"])),
        )

    return build()


def pseudonyms() -> st.SearchStrategy[str]:
    return st.from_regex(r"p:[0-9a-f]{32}", fullmatch=True)


def recommendations() -> st.SearchStrategy[Recommendation]:
    return st.builds(
        Recommendation,
        rec_id=ids(),
        user_id=pseudonyms(),
        items=st.lists(recommended_items(), max_size=20, unique_by=lambda i: i.item_id).map(tuple),
        variant=st.sampled_from(["A", "B", "control"]),
        model_version=ids(),
        source_event_id=ids(),
        event_ts=utc_datetimes(),
        generated_at=utc_datetimes(),
    )


def recommendation_documents() -> st.SearchStrategy[dict[str, Any]]:
    return recommendations().map(lambda r: orjson.loads(encode_recommendation(r)))


_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**64 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
)


def json_values(max_leaves: int = 30) -> st.SearchStrategy[Any]:
    """Arbitrary JSON values (anything orjson can write), nested a few levels."""
    return st.recursive(
        _SCALARS,
        lambda children: st.one_of(
            st.lists(children, max_size=5),
            st.dictionaries(st.text(max_size=12), children, max_size=5),
        ),
        max_leaves=max_leaves,
    )


@st.composite
def mutated_documents(
    draw: st.DrawFn, valid: st.SearchStrategy[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """A valid document with one field removed, replaced by a random/typed-wrong value,
    or one extra key added: mostly invalid, sometimes still valid."""
    doc = dict(draw(valid if valid is not None else wire_documents()))
    keys = sorted(doc)
    action = draw(st.sampled_from(["remove", "replace", "retype", "add"]))
    if action == "remove":
        del doc[draw(st.sampled_from(keys))]
    elif action == "replace":
        doc[draw(st.sampled_from(keys))] = draw(json_values(max_leaves=5))
    elif action == "retype":
        key = draw(st.sampled_from(keys))
        doc[key] = draw(_retyped(doc[key]))
    else:
        doc[draw(st.text(max_size=20))] = draw(json_values(max_leaves=5))
    return doc


def _retyped(value: Any) -> st.SearchStrategy[Any]:
    """Plausible producer mistakes for one value: null, bool for int, stringified, edge values."""
    options: list[Any] = [None, True, 0, -1, "", [], {}, 1.5, "x" * 129, [value]]
    if isinstance(value, int | float) and not isinstance(value, bool):
        options += [str(value), -value - 1, float(value) + 0.5, 2**53]
    if isinstance(value, str):
        options += [value + "\n", value.lower(), value.upper(), value[:-1], value + "\x00"]
    if isinstance(value, list):
        options += [value * 60, [*value, None], value[:-1], [*value, value[0] if value else 1]]
    if isinstance(value, bool):
        options += [int(value), str(value).lower()]
    return st.sampled_from(options)

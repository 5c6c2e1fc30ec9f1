"""Typed events, version 1 of the wire contract (``events.in`` / ``events.valid``).

Every class is a frozen, slotted dataclass whose constructor runs the contract checks, so
an instance is always valid: a ``str`` field never holds ``None``, ``ts`` is always an
aware ``datetime`` in UTC, lists are tuples (events are hashable) and amounts are floats.
Constructing one with a bad value raises :class:`~schemas.errors.InvalidEvent`, the same
error the decoder raises for the same mistake on the wire.

>>> from datetime import UTC, datetime
>>> c = Click(event_id="e1", ts=datetime(2026, 11, 29, 10, tzinfo=UTC),
...           user_id="u1", item_id="course-0001", surface="home")
>>> c.EVENT_TYPE, c.rec_id, c.schema_version
('click', None, 1)
>>> Click(event_id="e1", ts=c.ts, user_id=None, item_id="x", surface="home")
Traceback (most recent call last):
...
schemas.errors.InvalidEvent: wrong_type: user_id must be a string, got null

Item ids are global across domains (``course-0001``, ``fresh_food-0042``), so no event
needs a domain to identify an item.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType
from typing import ClassVar, Final, Literal, TypeAlias

from schemas._checks import (
    check_amount,
    check_bool,
    check_choice,
    check_currency,
    check_id,
    check_id_tuple,
    check_optional_id,
    check_optional_position,
    check_position_tuple,
    check_text,
    check_ts,
    check_tuple,
    check_version,
)
from schemas.errors import InvalidEvent

SCHEMA_VERSION: Final = 1
"""The event schema version this package reads and writes."""

Domain = Literal["course", "restaurant_deal", "fresh_food", "food_delivery", "fashion"]
"""Catalogue domains; the same literal values as ``online_models.types.Domain``."""
PartnerDomain = Literal["restaurant_deal", "fresh_food", "food_delivery", "fashion"]
"""Domains served by partners (everything except courses)."""
DOMAINS: Final[tuple[Domain, ...]] = (
    "course",
    "restaurant_deal",
    "fresh_food",
    "food_delivery",
    "fashion",
)
PARTNER_DOMAINS: Final[tuple[PartnerDomain, ...]] = (
    "restaurant_deal",
    "fresh_food",
    "food_delivery",
    "fashion",
)

EventType = Literal[
    "click", "course_purchase", "partner_order", "impression", "item", "consent", "forget"
]

MAX_ORDER_ITEMS: Final = 50
MAX_IMPRESSION_ITEMS: Final = 100
MAX_TITLE: Final = 300
MAX_TAGS: Final = 32


@dataclass(frozen=True, slots=True, kw_only=True)
class _Checked:
    """Runs ``_validate`` after ``__init__`` (and after ``dataclasses.replace``)."""

    def __post_init__(self) -> None:
        self._validate()

    def _validate(self) -> None:  # pragma: no cover - every subclass overrides it
        raise NotImplementedError

    def _set(self, name: str, value: object) -> None:
        # Normalising a field of a frozen dataclass (ts to UTC, int price to float).
        if getattr(self, name) is not value:
            object.__setattr__(self, name, value)

    def _check_common(self, event_id: object, ts: object, schema_version: object) -> None:
        check_id(event_id, "event_id")
        if type(ts) is not datetime or ts.tzinfo is not UTC:
            self._set("ts", check_ts(ts, "ts"))
        check_version(schema_version, SCHEMA_VERSION)


@dataclass(frozen=True, slots=True, kw_only=True)
class Click(_Checked):
    """A user clicked an item; ``rec_id``/``position`` link it to a served recommendation."""

    EVENT_TYPE: ClassVar[Literal["click"]] = "click"

    event_id: str
    ts: datetime
    user_id: str
    schema_version: int = SCHEMA_VERSION
    item_id: str
    surface: str
    rec_id: str | None = None
    position: int | None = None

    def _validate(self) -> None:
        self._check_common(self.event_id, self.ts, self.schema_version)
        check_id(self.user_id, "user_id")
        check_id(self.item_id, "item_id")
        check_id(self.surface, "surface")
        check_optional_id(self.rec_id, "rec_id")
        self._set("position", check_optional_position(self.position, "position"))


@dataclass(frozen=True, slots=True, kw_only=True)
class CoursePurchase(_Checked):
    """A user bought a course on the platform."""

    EVENT_TYPE: ClassVar[Literal["course_purchase"]] = "course_purchase"

    event_id: str
    ts: datetime
    user_id: str
    schema_version: int = SCHEMA_VERSION
    course_id: str
    price: float
    currency: str

    def _validate(self) -> None:
        self._check_common(self.event_id, self.ts, self.schema_version)
        check_id(self.user_id, "user_id")
        check_id(self.course_id, "course_id")
        self._set("price", check_amount(self.price, "price"))
        check_currency(self.currency, "currency")


@dataclass(frozen=True, slots=True, kw_only=True)
class PartnerOrder(_Checked):
    """A user ordered from a partner (restaurant deal, fresh food, delivery, fashion)."""

    EVENT_TYPE: ClassVar[Literal["partner_order"]] = "partner_order"

    event_id: str
    ts: datetime
    user_id: str
    schema_version: int = SCHEMA_VERSION
    partner_id: str
    domain: PartnerDomain
    item_ids: tuple[str, ...]
    amount: float
    currency: str

    def _validate(self) -> None:
        self._check_common(self.event_id, self.ts, self.schema_version)
        check_id(self.user_id, "user_id")
        check_id(self.partner_id, "partner_id")
        check_choice(self.domain, "domain", PARTNER_DOMAINS)
        check_id_tuple(self.item_ids, "item_ids", 1, MAX_ORDER_ITEMS)
        self._set("amount", check_amount(self.amount, "amount"))
        check_currency(self.currency, "currency")


@dataclass(frozen=True, slots=True, kw_only=True)
class Impression(_Checked):
    """Items of recommendation ``rec_id`` were shown, ``item_ids[i]`` at ``positions[i]``."""

    EVENT_TYPE: ClassVar[Literal["impression"]] = "impression"

    event_id: str
    ts: datetime
    user_id: str
    schema_version: int = SCHEMA_VERSION
    rec_id: str
    item_ids: tuple[str, ...]
    positions: tuple[int, ...]
    surface: str

    def _validate(self) -> None:
        self._check_common(self.event_id, self.ts, self.schema_version)
        check_id(self.user_id, "user_id")
        check_id(self.rec_id, "rec_id")
        items = check_id_tuple(self.item_ids, "item_ids", 1, MAX_IMPRESSION_ITEMS)
        positions = check_tuple(self.positions, "positions", 1, MAX_IMPRESSION_ITEMS)
        if len(positions) != len(items):
            raise InvalidEvent(
                "bad_value",
                f"positions has {len(positions)} elements, item_ids has {len(items)}: "
                "they must be the same length",
                "positions",
            )
        self._set("positions", check_position_tuple(positions, "positions"))
        check_id(self.surface, "surface")


@dataclass(frozen=True, slots=True, kw_only=True)
class ItemUpsert(_Checked):
    """A catalogue entry was created or changed (from a partner system, so no user).

    ``partner_id`` is ``None`` exactly for courses; ``active=False`` withdraws the item.
    """

    EVENT_TYPE: ClassVar[Literal["item"]] = "item"

    event_id: str
    ts: datetime
    user_id: None = None
    schema_version: int = SCHEMA_VERSION
    item_id: str
    domain: Domain
    partner_id: str | None
    title: str
    tags: tuple[str, ...]
    price: float
    active: bool

    def _validate(self) -> None:
        if self.user_id is not None:
            raise InvalidEvent("bad_value", "item events have no user_id", "user_id")
        self._check_common(self.event_id, self.ts, self.schema_version)
        check_id(self.item_id, "item_id")
        domain = check_choice(self.domain, "domain", DOMAINS)
        partner = check_optional_id(self.partner_id, "partner_id")
        if domain == "course" and partner is not None:
            raise InvalidEvent("bad_value", "partner_id must be null for courses", "partner_id")
        if domain != "course" and partner is None:
            raise InvalidEvent(
                "bad_value", f"partner_id is required for domain {domain!r}", "partner_id"
            )
        check_text(self.title, "title", MAX_TITLE)
        check_id_tuple(self.tags, "tags", 0, MAX_TAGS)
        self._set("price", check_amount(self.price, "price"))
        check_bool(self.active, "active")


@dataclass(frozen=True, slots=True, kw_only=True)
class Consent(_Checked):
    """``personalisation=False``: the user opts out of personalisation; True: back in."""

    EVENT_TYPE: ClassVar[Literal["consent"]] = "consent"

    event_id: str
    ts: datetime
    user_id: str
    schema_version: int = SCHEMA_VERSION
    personalisation: bool

    def _validate(self) -> None:
        self._check_common(self.event_id, self.ts, self.schema_version)
        check_id(self.user_id, "user_id")
        check_bool(self.personalisation, "personalisation")


@dataclass(frozen=True, slots=True, kw_only=True)
class Forget(_Checked):
    """Erase everything about the user (right to be forgotten)."""

    EVENT_TYPE: ClassVar[Literal["forget"]] = "forget"

    event_id: str
    ts: datetime
    user_id: str
    schema_version: int = SCHEMA_VERSION

    def _validate(self) -> None:
        self._check_common(self.event_id, self.ts, self.schema_version)
        check_id(self.user_id, "user_id")


Event: TypeAlias = (
    Click | CoursePurchase | PartnerOrder | Impression | ItemUpsert | Consent | Forget
)
"""Any event of the contract; ``match`` on the class or compare ``EVENT_TYPE``."""
UserEvent: TypeAlias = Click | CoursePurchase | PartnerOrder | Impression | Consent | Forget
"""Events that carry a ``user_id`` (all but :class:`ItemUpsert`)."""

EVENT_CLASSES: Final[Mapping[str, type[Event]]] = MappingProxyType(
    {
        cls.EVENT_TYPE: cls
        for cls in (Click, CoursePurchase, PartnerOrder, Impression, ItemUpsert, Consent, Forget)
    }
)
"""``event_type`` value -> class."""

"""The small vocabulary every model speaks.

The stream turns wire events (``schemas``) into these records, so models never see
Kafka, JSON or raw user ids: ``user`` is always the pseudonymous id.

>>> it = Interaction(user="p:1", item="c1", kind="click", ts=0.0)
>>> it.weight
1.0
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

Domain = Literal["course", "restaurant_deal", "fresh_food", "food_delivery", "fashion"]
DOMAINS: tuple[Domain, ...] = (
    "course",
    "restaurant_deal",
    "fresh_food",
    "food_delivery",
    "fashion",
)
PARTNER_DOMAINS: tuple[Domain, ...] = DOMAINS[1:]

InteractionKind = Literal["click", "course_purchase", "partner_order", "rating"]


@dataclass(frozen=True, slots=True)
class ItemInfo:
    """A catalogue entry: what content-based and filtering logic may know of an item."""

    item_id: str
    domain: Domain
    partner: str | None = None
    title: str = ""
    tags: tuple[str, ...] = ()
    price: float = 0.0
    active: bool = True


@dataclass(frozen=True, slots=True)
class Interaction:
    """One piece of feedback from one (pseudonymous) user on one item.

    ``weight`` expresses implicit strength (a purchase says more than a click);
    ``rating`` is set only for explicit-rating streams.
    """

    user: str
    item: str
    kind: InteractionKind
    ts: float
    weight: float = 1.0
    rating: float | None = None
    domain: Domain | None = None


@dataclass(frozen=True, slots=True)
class Context:
    """What the caller knows when asking for recommendations.

    ``trigger_domain`` is the domain of the event that triggered the request (after a course
    purchase it is ``"course"``, so partner offers are favoured); ``trigger_item`` its item
    (the clicked item, the bought course, an order's first item): for a user the models know
    nothing of yet, the one thing known about their taste; ``personalised`` is False for users
    who opted out.
    """

    ts: float
    trigger_domain: Domain | None = None
    trigger_kind: InteractionKind | None = None
    trigger_item: str | None = None
    personalised: bool = True
    hour: int | None = None
    segment: int | None = None
    exclude: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True, slots=True)
class LabelledImpression:
    """One shown item and whether it was clicked within the attribution window, with the
    context it was shown in and its 0-based position in the list."""

    item_id: str
    context: Context
    clicked: bool
    position: int = 0


@dataclass(frozen=True, slots=True)
class Scored:
    """One recommended item: its ranking score, click probability and why it was chosen."""

    item_id: str
    score: float
    p_click: float
    reason: str


class Recommender(Protocol):
    """What the stream needs from a model: learn from feedback, recommend without side effects."""

    def upsert_item(self, item: ItemInfo) -> None:
        """Add or update a catalogue entry (inactive items are never recommended)."""

    def learn(self, interaction: Interaction) -> None:
        """Update the model from one interaction; returns nothing."""

    def recommend(self, user: str, k: int, context: Context) -> list[Scored]:
        """At most ``k`` distinct active catalogue items, best first; must not change state."""

    def forget_user(self, user: str) -> None:
        """Erase everything the model holds about ``user`` (right to be forgotten)."""

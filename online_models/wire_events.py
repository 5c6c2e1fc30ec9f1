"""Wire events (``schemas``) → the models' vocabulary (``online_models.types``). Pure.

One mapping for the worker (``streams.recommend_service``) and for replaying a wire file
(:mod:`online_models.replay_wire`), so both learn from exactly the same interactions.

How strongly each kind of feedback speaks (a purchase says more than a click) is the models'
decision (``kind_weights``), so every interaction leaves here with weight 1.
"""

from __future__ import annotations

from collections.abc import Mapping

from online_models.types import Interaction, ItemInfo
from schemas import Click, CoursePurchase, Event, ItemUpsert, PartnerOrder


def item_info(event: ItemUpsert) -> ItemInfo:
    return ItemInfo(
        item_id=event.item_id,
        domain=event.domain,
        partner=event.partner_id,
        title=event.title,
        tags=tuple(event.tags),
        price=event.price,
        active=event.active,
    )


def interactions(event: Event, catalogue: Mapping[str, ItemInfo]) -> list[Interaction]:
    """The feedback an event carries (none for impressions, consent, forget, catalogue)."""
    ts = event.ts.timestamp()
    user = event.user_id
    if user is None:
        return []

    def make(item: str, kind: str) -> Interaction:
        info = catalogue.get(item)
        return Interaction(
            user=user,
            item=item,
            kind=kind,  # type: ignore[arg-type]
            ts=ts,
            domain=None if info is None else info.domain,
        )

    if isinstance(event, Click):
        return [make(event.item_id, "click")]
    if isinstance(event, CoursePurchase):
        return [make(event.course_id, "course_purchase")]
    if isinstance(event, PartnerOrder):
        return [make(item, "partner_order") for item in dict.fromkeys(event.item_ids)]
    return []

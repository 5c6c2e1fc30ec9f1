"""Wire events → ClickHouse rows. Pure; the column order is the table's (``EVENT_COLUMNS``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from schemas import (
    Click,
    CoursePurchase,
    Event,
    Impression,
    ItemUpsert,
    PartnerOrder,
)

EVENT_COLUMNS = (
    "event_id", "event_type", "ts", "user_id", "item_id", "item_ids", "domain", "partner_id",
    "amount", "currency", "rec_id", "position", "surface", "ingested_at",
)  # fmt: skip


def event_row(event: Event, ingested_at: datetime) -> list[Any]:
    """One ``events`` row; fields a type does not have are empty, never NULL."""
    item_id, item_ids, domain, partner, amount, currency = "", [], "", "", 0.0, ""
    rec_id, position, surface = "", -1, ""
    if isinstance(event, Click):
        item_id, surface = event.item_id, event.surface
        rec_id = event.rec_id or ""
        position = -1 if event.position is None else event.position
    elif isinstance(event, CoursePurchase):
        item_id, domain, amount, currency = event.course_id, "course", event.price, event.currency
    elif isinstance(event, PartnerOrder):
        item_ids, domain, partner = list(event.item_ids), event.domain, event.partner_id
        item_id = event.item_ids[0]
        amount, currency = event.amount, event.currency
    elif isinstance(event, Impression):
        item_ids, rec_id, surface = list(event.item_ids), event.rec_id, event.surface
    elif isinstance(event, ItemUpsert):
        item_id, domain, partner = event.item_id, event.domain, event.partner_id or ""
        amount = event.price
    return [
        event.event_id, event.EVENT_TYPE, event.ts, event.user_id or "", item_id, item_ids,
        domain, partner, amount, currency, rec_id, position, surface, ingested_at,
    ]  # fmt: skip

"""Wire events and served recommendations → ClickHouse rows. Pure; each ``*_COLUMNS`` tuple is
the column order of its table (``events``, ``recommendations``, ``model_metrics``)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from schemas import (
    Click,
    CoursePurchase,
    Event,
    Impression,
    ItemUpsert,
    PartnerOrder,
    Recommendation,
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


RECOMMENDATION_COLUMNS = (
    "rec_id", "user_id", "variant", "model_version", "source_event_id", "trigger_type",
    "trigger_domain", "event_ts", "generated_at", "item_ids", "domains", "partners", "scores",
    "p_clicks", "reasons",
)  # fmt: skip


def recommendation_row(
    rec: Recommendation, trigger_type: str, trigger_domain: str = ""
) -> list[Any]:
    """One ``recommendations`` row; per-item fields become parallel arrays, best first.

    ``trigger_type`` is the event type that caused the recommendation (``click``, …);
    ``trigger_domain`` its domain when the caller knows it ("" lets the views resolve it from
    the source event). A replayed recommendation gives the same row, so the
    ReplacingMergeTree on ``rec_id`` keeps one.

    >>> from datetime import UTC, datetime
    >>> from schemas import RecommendedItem
    >>> t = datetime(2026, 11, 29, 10, tzinfo=UTC)
    >>> rec = Recommendation(rec_id="r1", user_id="p:" + "0" * 32, items=(RecommendedItem(
    ...     item_id="fresh_food-1", domain="fresh_food", partner="p-7", score=2.5,
    ...     p_click=0.1, reason="cross_domain"),), variant="full", model_version="mf-3",
    ...     source_event_id="e1", event_ts=t, generated_at=t)
    >>> row = recommendation_row(rec, "course_purchase", "course")
    >>> row[9:12]
    [['fresh_food-1'], ['fresh_food'], ['p-7']]
    """
    items = rec.items
    return [
        rec.rec_id, rec.user_id, rec.variant, rec.model_version, rec.source_event_id,
        trigger_type, trigger_domain, rec.event_ts, rec.generated_at,
        [i.item_id for i in items], [i.domain for i in items], [i.partner or "" for i in items],
        [i.score for i in items], [i.p_click for i in items], [i.reason for i in items],
    ]  # fmt: skip


def recommendation_rows(recs: Iterable[tuple[Recommendation, str]]) -> list[list[Any]]:
    """``recommendation_row`` over ``(recommendation, trigger_type)`` pairs."""
    return [recommendation_row(rec, trigger_type) for rec, trigger_type in recs]


@dataclass(frozen=True, slots=True)
class ModelMetric:
    """One model metric for one minute: the value of the whole minute so far.

    ``count`` is the number of observations behind ``value`` (e.g. predictions behind a mean
    log loss). Writing the same key again replaces the earlier value, never adds to it.
    """

    minute: datetime
    model_version: str
    variant: str
    metric: str
    value: float
    count: int


MODEL_METRIC_COLUMNS = (
    "minute", "model_version", "variant", "metric", "value", "count", "written_at",
)  # fmt: skip


def model_metric_row(metric: ModelMetric, written_at: datetime) -> list[Any]:
    """One ``model_metrics`` row; the minute is truncated so the key is deterministic.

    >>> from datetime import UTC, datetime
    >>> m = ModelMetric(datetime(2026, 11, 29, 10, 5, 42, tzinfo=UTC), "mf-3", "full",
    ...                 "log_loss", 0.31, 120)
    >>> model_metric_row(m, m.minute)[0]
    datetime.datetime(2026, 11, 29, 10, 5, tzinfo=datetime.timezone.utc)
    """
    minute = metric.minute.replace(second=0, microsecond=0)
    return [
        minute, metric.model_version, metric.variant, metric.metric, float(metric.value),
        int(metric.count), written_at,
    ]  # fmt: skip

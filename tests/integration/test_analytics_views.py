"""Analytics views on the real local ClickHouse: exact on replay, equal to the simulator's ledger.

Helpers here are shared by the other ``test_analytics_*`` modules: simulated traffic written
through the real writer, and recommendations served to simulated users whose reactions come
from the simulator's ground truth (``Traffic.respond``).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import clickhouse_connect
import numpy as np
import pytest

from schemas import (
    Event,
    Recommendation,
    RecommendedItem,
    decode_event,
    pseudonymise,
    with_user,
)
from simulator import Ledger, Traffic, World, encode, recount
from simulator.traffic import take
from streams.analytics.setup import prepare_analytics
from streams.local.clickhouse import LocalClickHouse
from streams.settings import Settings
from streams.sinks.clickhouse_writer import ClickHouseWriter
from streams.sinks.rows import EVENT_COLUMNS, RECOMMENDATION_COLUMNS, event_row, recommendation_row

pytestmark = pytest.mark.integration

KEY = b"analytics-test-key"
INGESTED = datetime(2026, 11, 29, 12, tzinfo=UTC)
VIEWS = (
    "kpi_minute", "ctr_minute", "served_recs", "attributed_conversions", "cross_domain_funnel",
    "ab_results", "ab_timeline(bucket_s = 60)", "safe_kpi_minute", "safe_ab_results",
    "safe_cross_domain_funnel", "safe_ab_timeline(bucket_s = 300)", "noisy_kpi_minute",
    "noisy_ab_results", "noisy_cross_domain_funnel",
)  # fmt: skip


def settings_for(server: LocalClickHouse, database: str, **extra: str) -> Settings:
    env = {"CROSSREC_CLICKHOUSE_URL": server.url, "CROSSREC_CLICKHOUSE_DATABASE": database}
    env.update(extra)
    return Settings.from_env(env)


@pytest.fixture
def admin(clickhouse: LocalClickHouse) -> Iterator[Any]:
    client = clickhouse_connect.get_client(host="127.0.0.1", port=clickhouse.http_port)
    yield client
    client.close()


def decoded(raw: dict[str, Any]) -> Event:
    """Wire dict → typed event with the user id pseudonymised, as ingestion does."""
    event = decode_event(encode(raw).payload).event
    if event.user_id is not None:
        event = with_user(event, pseudonymise(KEY, event.user_id))
    return event


@dataclass
class Served:
    """What a test wrote: events (stream + reactions), recommendations, the stream's ledger."""

    events: list[Event] = field(default_factory=list)
    recs: list[tuple[Recommendation, str]] = field(default_factory=list)
    ledger: Ledger = field(default_factory=Ledger)
    true_expected_clicks: dict[str, float] = field(default_factory=dict)
    slots: dict[str, int] = field(default_factory=dict)


Picker = Callable[[World, int, random.Random], list[int]]


def best_items(k: int) -> Picker:
    """The k items the user truly likes most (ground truth)."""

    def pick(world: World, user: int, rng: random.Random) -> list[int]:
        p = world.click_probabilities(user, np.arange(world.n_items, dtype=np.int64))
        return [int(i) for i in np.argsort(-p)[:k]]

    return pick


def random_items(k: int) -> Picker:
    def pick(world: World, user: int, rng: random.Random) -> list[int]:
        return rng.sample(range(world.n_items), k)

    return pick


def simulate(
    n_events: int,
    seed: int,
    variants: dict[str, Picker],
    *,
    n_users: int = 300,
    n_items: int = 150,
    serve_every: int = 2,
) -> Served:
    """A stream of ``n_events`` plus, for every ``serve_every``-th click or purchase, a
    recommendation from a variant (by user) and the user's simulated reaction to it."""
    world = World(seed=seed, n_users=n_users, n_items=n_items)
    traffic = Traffic(world, seed=seed)
    stream = take(traffic, n_events)
    out = Served(ledger=recount(encode(e) for e in stream))
    out.events = [decoded(e) for e in stream]
    rng = random.Random(seed)
    names = sorted(variants)
    triggers = [e for e in stream if e["event_type"] in ("click", "course_purchase")]
    for n, trigger in enumerate(triggers):
        if not names or n % serve_every:
            continue
        raw_user = trigger["user_id"]
        user = world.user_index(raw_user)
        variant = names[user % len(names)]
        chosen = variants[variant](world, user, rng)
        ids = [world.item_ids[i] for i in chosen]
        ts = datetime.fromisoformat(trigger["ts"].replace("Z", "+00:00"))
        rec_id = f"rec-{trigger['event_id']}"
        rec = Recommendation(
            rec_id=rec_id,
            user_id=pseudonymise(KEY, raw_user),
            items=tuple(
                RecommendedItem(
                    item_id=world.item_ids[i],
                    domain=world.item_domain(i),  # type: ignore[arg-type]
                    partner=world.item_partner[i],
                    score=float(len(chosen) - pos),
                    p_click=0.1,
                    reason="test",
                )
                for pos, i in enumerate(chosen)
            ),
            variant=variant,
            model_version="test-1",
            source_event_id=trigger["event_id"],
            event_ts=ts,
            generated_at=ts + timedelta(milliseconds=5),
        )
        out.recs.append((rec, trigger["event_type"]))
        out.true_expected_clicks[variant] = out.true_expected_clicks.get(
            variant, 0.0
        ) + world.expected_clicks(raw_user, ids, boost=traffic.boost[user])
        out.slots[variant] = out.slots.get(variant, 0) + len(ids)
        shown = ts + timedelta(milliseconds=200)
        out.events += [decoded(e) for e in traffic.respond(raw_user, ids, "home", rec_id, shown)]
    return out


def event_rows(events: list[Event]) -> list[list[Any]]:
    return [event_row(e, INGESTED) for e in events]


def rec_rows(recs: list[tuple[Recommendation, str]]) -> list[list[Any]]:
    return [recommendation_row(rec, trigger) for rec, trigger in recs]


async def write_all(
    settings: Settings, events: list[list[Any]], recs: list[list[Any]], chunk: int = 500
) -> None:
    writer = ClickHouseWriter(settings)
    db = settings.clickhouse_database
    try:
        for i in range(0, len(events), chunk):
            await writer.write(f"{db}.events", EVENT_COLUMNS, events[i : i + chunk])
        for i in range(0, len(recs), chunk):
            await writer.write(f"{db}.recommendations", RECOMMENDATION_COLUMNS, recs[i : i + chunk])
    finally:
        await writer.close()


def snapshot(client: Any, database: str) -> dict[str, list[str]]:
    """Every view's rows, order-independent."""
    return {
        view: sorted(
            repr(row) for row in client.query(f"SELECT * FROM {database}.{view}").result_rows
        )
        for view in VIEWS
    }


# ---------------------------------------------------------------------------- tests
async def test_views_are_unchanged_by_replays_and_recomposed_batches(
    clickhouse: LocalClickHouse, admin: Any, unique: str
) -> None:
    settings = settings_for(clickhouse, unique, CROSSREC_K_ANONYMITY="3")
    prepare_analytics(admin, settings)
    data = simulate(2500, seed=3, variants={"a": best_items(6), "b": random_items(6)})
    events, recs = event_rows(data.events), rec_rows(data.recs)

    await write_all(settings, events, recs)
    first = snapshot(admin, unique)
    for view in ("kpi_minute", "attributed_conversions", "cross_domain_funnel", "ab_results",
                 "safe_ab_results", "noisy_ab_results"):  # fmt: skip
        assert first[view], f"{view} is empty: the test would prove nothing"

    await write_all(settings, events, recs)  # the same batches again (same dedup tokens)
    assert snapshot(admin, unique) == first

    # A crash mid-way: the replay re-composes overlapping batches (new tokens, duplicate rows).
    half = len(events) // 2
    await write_all(settings, events[half - 300 :] + events[:half], recs[::-1], chunk=333)
    assert admin.command(f"SELECT count() FROM {unique}.events") > len(events), "no duplicates"
    assert snapshot(admin, unique) == first


async def test_kpis_equal_the_simulator_ledger(
    clickhouse: LocalClickHouse, admin: Any, unique: str
) -> None:
    settings = settings_for(clickhouse, unique)
    prepare_analytics(admin, settings)
    data = simulate(4000, seed=11, variants={}, serve_every=10**9)
    assert not data.recs
    await write_all(settings, event_rows(data.events), [])
    await write_all(settings, event_rows(data.events[::2]), [], chunk=777)  # duplicates
    ledger = data.ledger

    rows = admin.query(
        f"SELECT domain, sum(clicks), sum(course_purchases), sum(partner_orders), "
        f"sumMap(revenue_cents) FROM {unique}.kpi_minute GROUP BY domain"
    ).result_rows
    clicks = {d: c for d, c, _, _, _ in rows if c}
    purchases = {d: p for d, _, p, _, _ in rows if p}
    orders = {d: o for d, _, _, o, _ in rows if o}
    revenue = {d: dict(m) for d, _, _, _, m in rows if m}
    assert clicks == ledger.by_type_domain["click"]
    assert purchases == ledger.by_type_domain["course_purchase"]
    assert orders == ledger.by_type_domain["partner_order"]
    assert revenue == ledger.revenue_cents

    per_minute = admin.query(
        f"SELECT formatDateTime(minute, '%Y-%m-%dT%H:%i'), sum(clicks), sum(course_purchases), "
        f"sum(partner_orders) FROM {unique}.kpi_minute GROUP BY minute"
    ).result_rows
    got = {m: (c, p, o) for m, c, p, o in per_minute}
    want = {
        m: (t.get("click", 0), t.get("course_purchase", 0), t.get("partner_order", 0))
        for m, t in ledger.per_minute.items()
        if any(t.get(k) for k in ("click", "course_purchase", "partner_order"))
    }
    assert got == want

    impressions, attributed = admin.query(
        f"SELECT sum(impressions), sum(clicks) FROM {unique}.ctr_minute"
    ).result_rows[0]
    assert impressions == ledger.impressed_items
    assert attributed == ledger.attributed_clicks

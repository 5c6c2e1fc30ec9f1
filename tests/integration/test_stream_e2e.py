"""Issue 'The stream' end to end on the real local Kafka (and ClickHouse for the sink):
simulator traffic in → recommendations out, for the right users, across domains, with
consent honoured and no raw id on any topic after ingestion."""

from __future__ import annotations

import asyncio
import itertools
import time
from datetime import datetime, timedelta
from pathlib import Path

import orjson
import pytest

from schemas import (
    Click,
    Consent,
    CoursePurchase,
    Event,
    Forget,
    ItemUpsert,
    PartnerOrder,
    decode_event,
    decode_recommendation,
    encode_event,
    is_pseudonym,
    pseudonymise,
)
from simulator.payload import encode_all
from simulator.traffic import Traffic
from simulator.world import World
from streams.headers import is_copy
from streams.local.clickhouse import LocalClickHouse
from streams.local.kafka import LocalKafka
from tests.integration.clickhouse_io import wait_for_rows
from tests.integration.kafka_io import consume, produce
from tests.integration.worker_process import running_worker, worker_env

pytestmark = pytest.mark.integration


def _scripted(catalogue: list[ItemUpsert], after: datetime) -> list[Event]:
    """A cooking-course buyer, a fresh-food orderer and a user who opts out, then clicks."""
    cooking = next(i for i in catalogue if i.domain == "course" and "cooking" in i.tags)
    fresh = next(i for i in catalogue if i.domain == "fresh_food")
    ts = [after + timedelta(seconds=s) for s in range(1, 6)]
    return [
        CoursePurchase(
            event_id="e2e-purchase", ts=ts[0], user_id="user-e2e-cook",
            course_id=cooking.item_id, price=cooking.price, currency="EUR",
        ),
        PartnerOrder(
            event_id="e2e-order", ts=ts[1], user_id="user-e2e-order",
            partner_id=fresh.partner_id or "p", domain="fresh_food",
            item_ids=(fresh.item_id,), amount=fresh.price, currency="EUR",
        ),
        Consent(event_id="e2e-consent", ts=ts[2], user_id="user-e2e-optout", personalisation=False),
        Click(event_id="e2e-optout-click", ts=ts[3], user_id="user-e2e-optout",
              item_id=cooking.item_id, surface="home"),
    ]  # fmt: skip


async def test_simulated_traffic_yields_cross_domain_recommendations(
    kafka: LocalKafka, clickhouse: LocalClickHouse, unique: str, tmp_path: Path
) -> None:
    env = worker_env(kafka, clickhouse, unique, tmp_path)
    env["CROSSREC_EXPERIMENT"] = "e2e:full=1"
    key = env["CROSSREC_PSEUDONYM_KEY"].encode()

    world = World(seed=11, n_users=300, n_items=400)
    emitted = list(itertools.islice(encode_all(Traffic(world, seed=11)), 3_000))
    events = [decode_event(e.payload).event for e in emitted]
    catalogue = [e for e in events if isinstance(e, ItemUpsert)]
    scripted = _scripted(catalogue, after=max(e.ts for e in events))
    messages = [(e.key, e.payload) for e in emitted] + [
        (e.user_id.encode() if e.user_id else None, encode_event(e)) for e in scripted
    ]
    raw_user_of = {e.event_id: e.user_id for e in [*events, *scripted] if e.user_id}

    with running_worker(env, tmp_path / "worker.log"):
        await produce(kafka.bootstrap, env["CROSSREC_TOPIC_IN"], messages)
        # Catalogue upserts and erasures are also copied to every partition.
        copied = sum(isinstance(e, ItemUpsert | Forget) for e in [*events, *scripted])
        partitions = int(env["CROSSREC_TOPIC_PARTITIONS"])
        valid = await consume(
            kafka.bootstrap, env["CROSSREC_TOPIC_VALID"], len(messages) + copied * partitions
        )
        recs_raw = await _until_sources(
            kafka.bootstrap, env["CROSSREC_TOPIC_RECOMMENDATIONS"],
            {"e2e-purchase", "e2e-order", "e2e-optout-click"},
        )  # fmt: skip
        # Users the simulated traffic itself erased ("forget") lose their rows by design.
        erased = {pseudonymise(key, e.user_id) for e in events if isinstance(e, Forget)}
        rec_ids = {
            rec["rec_id"] for rec in map(orjson.loads, recs_raw) if rec["user_id"] not in erased
        }
        stored = await wait_for_rows(
            clickhouse,
            f"SELECT DISTINCT rec_id, trigger_type FROM {unique}.recommendations FINAL "
            "WHERE rec_id IN {ids:Array(String)}",
            until=len(rec_ids),
            parameters={"ids": sorted(rec_ids)},
        )
        # Forget: the cooking-course buyer's rows vanish from ClickHouse.
        cook = pseudonymise(key, "user-e2e-cook")
        before = await _rows_of(clickhouse, unique, cook, until=2)
        forget = Forget(
            event_id="e2e-forget", ts=max(e.ts for e in scripted) + timedelta(seconds=1),
            user_id="user-e2e-cook",
        )  # fmt: skip
        started = time.monotonic()
        await produce(kafka.bootstrap, env["CROSSREC_TOPIC_IN"], [(b"k", encode_event(forget))])
        while await _rows_of(clickhouse, unique, cook) and time.monotonic() - started < 60:
            await asyncio.sleep(0.2)
        erased_after = time.monotonic() - started
        after = await _rows_of(clickhouse, unique, cook)
    log = (tmp_path / "worker.log").read_text()[-3000:]
    copies = [r for r in valid if is_copy(r.headers)]
    assert len(valid) - len(copies) == len(messages), log
    assert len(copies) == copied * partitions, log

    recs = [decode_recommendation(r) for r in recs_raw]
    by_source = {r.source_event_id: r for r in recs}
    assert {"e2e-purchase", "e2e-order", "e2e-optout-click"} <= set(by_source), log
    assert len(recs) > 50, "simulated clicks, purchases and orders trigger recommendations"

    for rec in recs:  # each list goes to the user whose event triggered it, pseudonymised
        assert is_pseudonym(rec.user_id)
        assert rec.user_id == pseudonymise(key, raw_user_of[rec.source_event_id])
        assert 0 < len(rec.items) <= 10

    after_course = by_source["e2e-purchase"]
    assert any(i.domain != "course" for i in after_course.items), after_course
    after_order = by_source["e2e-order"]
    assert any(i.domain == "course" for i in after_order.items), after_order
    opted_out = by_source["e2e-optout-click"]
    assert all(i.reason.startswith("popular in ") for i in opted_out.items), opted_out

    assert {rec_id for rec_id, _ in stored} == rec_ids, "every served list reaches ClickHouse"
    assert {trigger for _, trigger in stored} <= {"click", "course_purchase", "partner_order"}

    assert before >= 2, "the buyer had event and recommendation rows"
    assert after == 0, f"forgotten user still has {after} rows after {erased_after:.1f} s"
    print(f"forget: rows erased from ClickHouse {erased_after:.2f} s after the event was sent")

    raw_ids = {u.encode() for u in raw_user_of.values()}
    for record in [*valid]:
        assert record.key is not None
        assert not any(raw in (record.value or b"") for raw in raw_ids)
        assert record.key not in raw_ids
    for raw in recs_raw:
        assert not any(r in raw for r in raw_ids)


async def _rows_of(server: LocalClickHouse, db: str, user: str, until: int = 0) -> int:
    sql = (
        f"SELECT (SELECT count() FROM {db}.events WHERE user_id = {{u:String}}) + "
        f"(SELECT count() FROM {db}.recommendations WHERE user_id = {{u:String}})"
    )
    rows = await wait_for_rows(server, sql, until=1, parameters={"u": user})
    if until:
        deadline = time.monotonic() + 30
        while rows[0][0] < until and time.monotonic() < deadline:
            await asyncio.sleep(0.3)
            rows = await wait_for_rows(server, sql, until=1, parameters={"u": user})
    return int(rows[0][0])


async def _until_sources(bootstrap: str, topic: str, wanted: set[str]) -> list[bytes]:
    """Read recommendations until every wanted source event has been answered."""
    for attempt in range(12):
        records = await consume(bootstrap, topic, expected=10**9, timeout=10.0)
        values = [r.value or b"" for r in records]
        sources = {orjson.loads(v)["source_event_id"] for v in values}
        if wanted <= sources or attempt == 11:
            return values
    return []

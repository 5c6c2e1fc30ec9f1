"""Shared tools of the resilience tests: ledger-counted traffic, reading topics to their end,
ClickHouse aggregates from ``events FINAL``, a Prometheus scrape, and waiting.

The tests compare what the system stored with an *independent* count of what was produced
(:class:`simulator.ledger.Ledger`), so the producer here records a message in the ledger only
once the broker acknowledged it; whatever was not acknowledged is handed back to be sent again.

>>> parse_gauge('# HELP x y\\nx{a="1",b="2"} 3.0\\nx 4.0\\n', "x", {"a": "1"})
3.0
>>> parse_gauge("x 4.0\\n", "x"), parse_gauge("x 4.0\\n", "y")
(4.0, None)
"""

from __future__ import annotations

import asyncio
import itertools
import re
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeAlias, TypeVar

import clickhouse_connect
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import ConsumerRecord

from schemas import pseudonymise
from simulator.hostile import mix_hostile
from simulator.ledger import Ledger, recount
from simulator.payload import Emitted, encode_all
from simulator.traffic import Traffic
from simulator.world import World
from streams.headers import is_copy
from streams.local.clickhouse import LocalClickHouse

T = TypeVar("T")
Record: TypeAlias = "ConsumerRecord[bytes, bytes]"


# ---------------------------------------------------------------------------- traffic
def simulated(
    seed: int, n: int, *, n_users: int = 400, n_items: int = 500, hostile: float = 0.0
) -> list[Emitted]:
    """``n`` messages of simulator traffic, a ``hostile`` share mixed in by the simulator's
    own mixer (replayed ids included), deterministic for a seed."""
    world = World(seed=seed, n_users=n_users, n_items=n_items)
    valid = encode_all(Traffic(world, seed=seed))
    stream = mix_hostile(valid, hostile, seed=seed) if hostile else valid
    return list(itertools.islice(stream, n))


async def produce_counted(
    bootstrap: str,
    topic: str,
    messages: Iterable[Emitted],
    ledger: Ledger,
    *,
    timeout_s: float = 30.0,
) -> list[Emitted]:
    """Send ``messages`` in order (``acks=all``); record each in ``ledger`` once acknowledged.

    Returns the messages that were *not* acknowledged (the broker was down, the send timed
    out), in order, for the caller to send again: the ledger then counts each exactly once.
    """
    pending = list(messages)
    timeout_ms = int(timeout_s * 1000)
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        linger_ms=5,
        request_timeout_ms=timeout_ms,
        max_request_size=2_097_152,
        metadata_max_age_ms=5_000,
    )
    try:
        await asyncio.wait_for(producer.start(), timeout_s)
    except Exception:
        await producer.stop()
        return pending
    futures: list[asyncio.Future[Any] | None] = []
    try:
        for message in pending:
            try:
                fut = await asyncio.wait_for(
                    producer.send(topic, value=message.payload, key=message.key), timeout_s
                )
            except Exception:
                fut = None
            futures.append(fut)
        done = [f for f in futures if f is not None]
        if done:
            await asyncio.wait(done, timeout=timeout_s)
    finally:
        await producer.stop()
    failed = []
    for message, fut in zip(pending, futures, strict=True):
        ok = fut is not None and fut.done() and not fut.cancelled() and fut.exception() is None
        if ok:
            ledger.record(message)
        else:
            failed.append(message)
    return failed


async def produce_all(
    bootstrap: str, topic: str, messages: Iterable[Emitted], ledger: Ledger, tries: int = 5
) -> None:
    """``produce_counted`` until every message is acknowledged (the broker is up)."""
    left = list(messages)
    for _ in range(tries):
        left = await produce_counted(bootstrap, topic, left, ledger)
        if not left:
            return
    raise AssertionError(f"{len(left)} messages could not be produced to {topic}")


# ---------------------------------------------------------------------------- Kafka
def originals(records: list[Record]) -> list[Record]:
    """``records`` without the copies ingestion adds to every partition of events.valid
    (catalogue upserts and erasures; see :data:`streams.headers.COPY_HEADER`)."""
    return [r for r in records if not is_copy(r.headers)]


async def read_topic(bootstrap: str, topic: str, timeout: float = 30.0) -> list[Record]:
    """Every record of ``topic`` from the beginning up to its end offsets of *now*."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None,
        auto_offset_reset="earliest", metadata_max_age_ms=1000,
        max_partition_fetch_bytes=4_194_304, fetch_max_bytes=16_777_216,
    )  # fmt: skip
    await consumer.start()  # subscribed without a group: every partition is assigned to us
    records: list[Record] = []
    try:
        tps = sorted(consumer.assignment())
        if not tps:
            return records
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            positions = [await consumer.position(tp) for tp in tps]
            if all(pos >= ends[tp] for pos, tp in zip(positions, tps, strict=True)):
                break
            batch = await consumer.getmany(timeout_ms=500, max_records=5000)
            for part in batch.values():
                records.extend(part)
    finally:
        await consumer.stop()
    return records


async def topic_size(bootstrap: str, topic: str) -> int:
    """Messages in ``topic`` so far (sum of end offsets; 0 while it does not exist)."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=None)
    try:
        await consumer.start()
        tps = sorted(consumer.assignment())
        return sum((await consumer.end_offsets(tps)).values()) if tps else 0
    except Exception:
        return 0
    finally:
        await consumer.stop()


# ---------------------------------------------------------------------------- ClickHouse
def _client(server: LocalClickHouse) -> Any:
    return clickhouse_connect.get_client(host="127.0.0.1", port=server.http_port)


def query(
    server: LocalClickHouse, sql: str, parameters: Mapping[str, Any] | None = None
) -> list[tuple[Any, ...]]:
    """Rows of ``sql`` as tuples, or ``[]`` while the server or the table is not there."""
    try:
        client = _client(server)
    except Exception:
        return []
    try:
        return [tuple(r) for r in client.query(sql, parameters=dict(parameters or {})).result_rows]
    except Exception:
        return []
    finally:
        client.close()


def _not_forgotten(pseudonyms: Collection[str]) -> tuple[str, dict[str, Any]]:
    return "user_id NOT IN {forgotten:Array(String)}", {"forgotten": sorted(pseudonyms)}


def stored_event_ids(
    server: LocalClickHouse, database: str, forgotten: Collection[str] = ()
) -> dict[str, int]:
    """event_id → rows in ``events FINAL`` (1 everywhere when nothing is doubled), leaving
    out the rows of ``forgotten`` pseudonyms."""
    where, params = _not_forgotten(forgotten)
    sql = f"SELECT event_id, count() FROM {database}.events FINAL WHERE {where} GROUP BY event_id"
    return {str(event_id): int(n) for event_id, n in query(server, sql, params)}


def counts_by_type(
    server: LocalClickHouse, database: str, forgotten: Collection[str] = ()
) -> dict[str, int]:
    where, params = _not_forgotten(forgotten)
    sql = (
        f"SELECT event_type, count() FROM {database}.events FINAL WHERE {where} GROUP BY event_type"
    )
    return {str(t): int(n) for t, n in query(server, sql, params)}


def revenue_cents(
    server: LocalClickHouse, database: str, forgotten: Collection[str] = ()
) -> dict[str, dict[str, int]]:
    """Per domain and currency, like :attr:`Ledger.revenue_cents` (purchases and orders)."""
    where, params = _not_forgotten(forgotten)
    sql = (
        f"SELECT domain, currency, sum(toInt64(round(amount * 100))) FROM {database}.events "
        f"FINAL WHERE event_type IN ('course_purchase', 'partner_order') AND {where} "
        "GROUP BY domain, currency"
    )
    out: dict[str, dict[str, int]] = {}
    for domain, currency, cents in query(server, sql, params):
        out.setdefault(str(domain), {})[str(currency)] = int(cents)
    return out


def stored_ids_of(server: LocalClickHouse, database: str, event_ids: Collection[str]) -> set[str]:
    """Which of ``event_ids`` are in ``events FINAL``."""
    sql = f"SELECT event_id FROM {database}.events FINAL WHERE event_id IN {{ids:Array(String)}}"
    return {str(r[0]) for r in query(server, sql, {"ids": sorted(event_ids)})}


# ---------------------------------------------------------------------------- forgetting
def kept(messages: Iterable[Emitted], ledger: Ledger) -> Ledger:
    """The independent count of what ClickHouse must hold exactly: every valid event of
    users who never sent ``forget``. (A forget erases the user's rows; which of the user's
    *later* events survive depends on batching, so those users are compared apart.)"""
    return recount(m for m in messages if m.kind is None and _user(m) not in ledger.forgotten_users)


def erased(messages: Iterable[Emitted], ledger: Ledger) -> set[str]:
    """Ids of the events each forgotten user sent up to (and with) their last ``forget``:
    none of them may stay in ClickHouse."""
    order = [m for m in messages if m.kind is None and _user(m) in ledger.forgotten_users]
    last_forget: dict[str, int] = {}
    for i, m in enumerate(order):
        if m.event is not None and m.event["event_type"] == "forget":
            last_forget[_user(m) or ""] = i
    return {
        m.event["event_id"]
        for i, m in enumerate(order)
        if m.event is not None and i <= last_forget.get(_user(m) or "", -1)
    }


def pseudonyms(key: str, users: Iterable[str]) -> list[str]:
    return [pseudonymise(key.encode(), u) for u in users]


def _user(message: Emitted) -> str | None:
    user = (message.event or {}).get("user_id")
    return user if isinstance(user, str) else None


# ---------------------------------------------------------------------------- Prometheus
def parse_gauge(text: str, name: str, labels: Mapping[str, str] | None = None) -> float | None:
    """The value of sample ``name`` whose labels include ``labels``, from exposition text."""
    wanted = dict(labels or {})
    pattern = re.compile(rf"^{re.escape(name)}(?:\{{(.*)\}})?\s+(\S+)$")
    for line in text.splitlines():
        match = pattern.match(line)
        if match is None:
            continue
        found = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', match.group(1) or ""))
        if all(found.get(k) == v for k, v in wanted.items()):
            return float(match.group(2))
    return None


def scrape(port: int, name: str, labels: Mapping[str, str] | None = None) -> float | None:
    """GET ``/metrics`` of a worker and read one sample; None if absent or not answering."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
            text = resp.read().decode()
    except (urllib.error.URLError, OSError):
        return None
    return parse_gauge(text, name, labels)


# ---------------------------------------------------------------------------- waiting
async def wait_until(
    probe: Callable[[], Awaitable[T]],
    done: Callable[[T], bool],
    timeout: float,
    interval: float = 0.5,
) -> T:
    """Await ``probe()`` until ``done(result)`` or ``timeout``; return the last result.
    (Blocking probes go through ``asyncio.to_thread``, so the loop keeps running.)"""
    deadline = time.monotonic() + timeout
    while True:
        value = await probe()
        if done(value) or time.monotonic() >= deadline:
            return value
        await asyncio.sleep(interval)


def worker_log_problems(log: Path) -> list[str]:
    """Lines of a worker log that show a crash: tracebacks and Faust's agent crash reports."""
    text = log.read_text(errors="replace") if log.exists() else ""
    markers = ("Traceback (most recent call last)", "crashed", "CRITICAL")
    return [line for line in text.splitlines() if any(m in line for m in markers)]

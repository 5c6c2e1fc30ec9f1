"""The ledger against an independent recount of the emitted (written) stream."""

from __future__ import annotations

import contextlib
import itertools
import json
from collections import Counter
from pathlib import Path

from simulator.hostile import REPLAYED_ID, mix_hostile
from simulator.ledger import Ledger, recount
from simulator.output import read_jsonl, write_jsonl
from simulator.payload import encode_all
from simulator.traffic import Traffic
from simulator.world import World
from tests.unit.test_simulator_wire import wire_violations


def _write(tmp_path: Path, n: int = 15_000) -> tuple[Ledger, list[bytes]]:
    world = World(seed=31, n_users=400, n_items=300)
    traffic = Traffic(world, seed=31, forget_rate=0.01, opt_out_rate=0.05, opt_in_rate=0.2)
    messages = itertools.islice(mix_hostile(encode_all(traffic), 0.05, seed=31), n)
    ledger = Ledger()
    path = tmp_path / "events.jsonl"
    assert write_jsonl(path, messages, ledger=ledger, progress=False) == n
    return ledger, read_jsonl(path)


def test_ledger_matches_a_recount_of_the_file(tmp_path: Path) -> None:
    ledger, lines = _write(tmp_path)
    assert ledger.payloads == len(lines)
    assert ledger.bytes_total == sum(len(line) for line in lines)

    # Independent recount: a line is a new valid event if it meets the contract (checked by
    # the tests' own reading of it) and its event_id was not seen before (a replay).
    by_type: Counter[str] = Counter()
    revenue: Counter[tuple[str, str]] = Counter()
    minutes: Counter[str] = Counter()
    ids: set[str] = set()
    opted_out: set[str] = set()
    forgotten: set[str] = set()
    replays = 0
    for line in lines:
        if wire_violations(line):
            continue
        doc = json.loads(line)
        if doc["event_id"] in ids:
            replays += 1
            continue
        ids.add(doc["event_id"])
        by_type[doc["event_type"]] += 1
        minutes[doc["ts"][:16]] += 1
        if doc["event_type"] == "course_purchase":
            revenue["course", doc["currency"]] += round(doc["price"] * 100)
        elif doc["event_type"] == "partner_order":
            revenue[doc["domain"], doc["currency"]] += round(doc["amount"] * 100)
        elif doc["event_type"] == "consent":
            (opted_out.discard if doc["personalisation"] else opted_out.add)(doc["user_id"])
        elif doc["event_type"] == "forget":
            forgotten.add(doc["user_id"])
            opted_out.discard(doc["user_id"])

    assert ledger.by_type == dict(by_type)
    assert ledger.event_ids == ids
    assert ledger.hostile_by_kind[REPLAYED_ID] == replays
    flat = Counter({(d, c): v for d, row in ledger.revenue_cents.items() for c, v in row.items()})
    assert flat == revenue
    assert {m: sum(row.values()) for m, row in ledger.per_minute.items()} == dict(minutes)
    assert ledger.opted_out_users == opted_out and opted_out
    assert ledger.forgotten_users == forgotten and forgotten
    assert ledger.valid_events + ledger.hostile == ledger.payloads


def test_ledger_json_round_trip(tmp_path: Path) -> None:
    ledger, _ = _write(tmp_path, 5_000)
    text = ledger.to_json()
    again = Ledger.from_json(text)
    assert again == ledger
    assert json.loads(text)["valid_events"] == ledger.valid_events
    assert "event_ids" not in ledger.summary()


def test_recount_equals_incremental_recording() -> None:
    world = World(seed=32, n_users=100, n_items=80)
    messages = list(itertools.islice(encode_all(Traffic(world, seed=32)), 3_000))
    incremental = Ledger()
    for m in messages:
        incremental.record(m)
    assert recount(messages) == incremental
    catalogue = Counter(world.item_domain(i) for i in range(80))
    updates = Counter(
        m.event["domain"] for m in messages[80:] if m.event and m.event["event_type"] == "item"
    )
    assert incremental.by_type_domain["item"] == catalogue + updates
    assert incremental.impressed_items == sum(
        len(m.event["item_ids"])
        for m in messages
        if m.event and m.event["event_type"] == "impression"
    )


def test_ledger_counts_only_what_was_written(tmp_path: Path) -> None:
    """A sink that stops early leaves a ledger of exactly the lines in the file."""
    world = World(seed=33, n_users=100, n_items=50)
    messages = encode_all(Traffic(world, seed=33))
    ledger = Ledger()

    def failing_after(n: int):  # type: ignore[no-untyped-def]
        for i, m in enumerate(messages):
            if i == n:
                raise RuntimeError("disk full")
            yield m

    path = tmp_path / "partial.jsonl"
    with contextlib.suppress(RuntimeError):
        write_jsonl(path, failing_after(777), ledger=ledger, progress=False)
    assert ledger.payloads == 777 == len(read_jsonl(path))

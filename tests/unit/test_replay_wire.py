"""``crossrec replay`` on the events.in wire format (``online_models.replay_wire``)."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from online_models import replay_command
from online_models.recommender import CrossDomainRecommender
from online_models.replay import ReplayEvent, ReplayInputError, read_events, replay
from online_models.replay_input import detect_format, read_input
from online_models.replay_wire import parse_wire, wire_interactions
from online_models.types import ItemInfo
from online_models.wire_events import interactions as worker_interactions
from schemas import (
    Click,
    CoursePurchase,
    Event,
    InvalidEvent,
    ItemUpsert,
    PartnerOrder,
    decode_event,
    encode_event,
)
from simulator import Ledger, Traffic, World, encode_all, mix_hostile
from simulator.output import write_jsonl
from tests.unit.strategies import events, json_values, mutated_documents, wire_documents

T0 = datetime(2026, 11, 29, 10, tzinfo=UTC)


def _ts(seconds: int) -> datetime:
    return datetime.fromtimestamp(T0.timestamp() + seconds, tz=UTC)


def _click(eid: str, user: str, item: str, s: int = 0) -> Click:
    return Click(event_id=eid, ts=_ts(s), user_id=user, item_id=item, surface="home")


def _upsert(eid: str, item: str, domain: str, s: int = 0, active: bool = True) -> ItemUpsert:
    return ItemUpsert(
        event_id=eid,
        ts=_ts(s),
        item_id=item,
        domain=domain,  # type: ignore[arg-type]
        partner_id=None if domain == "course" else "p1",
        title="t",
        tags=("cooking",),
        price=1.0,
        active=active,
    )


def _order(eid: str, user: str, items: tuple[str, ...], s: int = 0) -> PartnerOrder:
    return PartnerOrder(
        event_id=eid,
        ts=_ts(s),
        user_id=user,
        partner_id="p1",
        domain="fresh_food",
        item_ids=items,
        amount=3.0,
        currency="EUR",
    )


def _purchase(eid: str, user: str, course: str, s: int = 0) -> CoursePurchase:
    return CoursePurchase(
        event_id=eid, ts=_ts(s), user_id=user, course_id=course, price=9.0, currency="EUR"
    )


def _lines(*evs: Event) -> list[bytes]:
    return [encode_event(e) for e in evs]


def _decodes(raw: bytes) -> bool:
    try:
        decode_event(raw)
    except InvalidEvent:
        return False
    return True


# ---------------------------------------------------------------- properties
_LINE = st.one_of(
    wire_documents().map(orjson.dumps),
    mutated_documents().map(orjson.dumps),
    json_values().map(orjson.dumps),
    st.binary(max_size=80),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_LINE, max_size=12))
def test_parse_wire_counts_every_line_or_raises_the_documented_error(lines: list[bytes]) -> None:
    valid = [_decodes(x) for x in lines]
    if lines and not any(valid):  # the one documented error: nothing here is wire format
        with pytest.raises(ReplayInputError, match=r"no line is a valid events\.in event"):
            parse_wire(lines)
        return
    w = parse_wire(lines)
    assert w.lines == len(lines)
    assert sum(w.by_type.values()) + w.skipped_invalid + w.duplicates == len(lines)
    assert w.skipped_invalid == valid.count(False)
    assert [e.ts for e in w.events] == sorted(e.ts for e in w.events)
    assert all(e.user and e.item and e.rating is None for e in w.events)


@given(events())
def test_each_valid_event_maps_to_its_interactions(event: Event) -> None:
    got = [(e.user, e.item, e.kind, e.ts) for e in wire_interactions(event, {})]
    ts = event.ts.timestamp()
    if isinstance(event, Click):
        assert got == [(event.user_id, event.item_id, "click", ts)]
    elif isinstance(event, CoursePurchase):
        assert got == [(event.user_id, event.course_id, "course_purchase", ts)]
    elif isinstance(event, PartnerOrder):
        items = list(dict.fromkeys(event.item_ids))
        assert got == [(event.user_id, i, "partner_order", ts) for i in items]
    else:  # item upserts, impressions, consent, forget: no interaction
        assert got == []
    # The worker's adapter reads the same feedback from the same event.
    worker = [(i.user, i.item, i.kind, i.ts) for i in worker_interactions(event, {})]
    assert got == worker


# ---------------------------------------------------------------- mapping rules
def test_domain_comes_from_the_upsert_then_the_event_never_the_id_prefix() -> None:
    w = parse_wire(
        _lines(
            _upsert("i1", "fresh_food-1", "fashion", s=0),
            _upsert("i2", "fresh_food-1", "restaurant_deal", s=5),  # the latest wins
            _click("c1", "u", "fresh_food-1", s=1),
            _click("c2", "u", "course-9", s=2),  # never upserted: unknown
            _purchase("p1", "u", "x-7", s=3),  # a course by contract
            _order("o1", "u", ("fresh_food-1", "y-2", "y-2"), s=4),
        )
    )
    assert [(e.item, e.kind, e.domain) for e in w.events] == [
        ("fresh_food-1", "click", "restaurant_deal"),
        ("course-9", "click", None),
        ("x-7", "course_purchase", "course"),
        ("fresh_food-1", "partner_order", "restaurant_deal"),
        ("y-2", "partner_order", "fresh_food"),  # the order's domain; duplicate entry once
    ]
    assert [(ts, i.item_id, i.domain) for ts, i in w.catalogue_updates] == [
        (_ts(0).timestamp(), "fresh_food-1", "fashion"),
        (_ts(5).timestamp(), "fresh_food-1", "restaurant_deal"),
    ]


def test_time_order_is_stable_and_duplicates_blank_and_bad_lines_are_counted() -> None:
    lines = [
        encode_event(_click("a", "u1", "i1", s=5)),
        b"",
        encode_event(_click("b", "u2", "i2", s=1)),
        encode_event(_click("c", "u3", "i3", s=5)),
        encode_event(_click("a", "u1", "i1", s=5)),  # a producer retry
        b'{"event_type": "click", "ts": "2026-11-29T10:00:00Z"}\r\n',
        b"\xff\xfe{",
    ]
    w = parse_wire(lines)
    assert [e.user for e in w.events] == ["u2", "u1", "u3"]
    assert (w.lines, w.skipped_invalid, w.duplicates) == (7, 3, 1)
    assert w.invalid_by_code == {"not_json": 1, "missing_field": 1, "invalid_utf8": 1}
    assert w.summary()["valid"] == 3


def test_a_file_that_is_not_wire_format_fails_clearly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    p = tmp_path / "log.jsonl"
    p.write_text('{"user_id": "a", "item_id": "1", "timestamp": 5}\n')
    with pytest.raises(ReplayInputError, match=r"no line is a valid events\.in event"):
        read_input(p, "events")
    assert replay_command.main(["--input", str(p), "--format", "events", "--quiet"]) == 2
    assert "--format jsonl" in capsys.readouterr().err
    assert parse_wire([]).events == []  # an empty file is an empty stream, not an error


# ---------------------------------------------------------------- format detection
def test_auto_detects_wire_interactions_and_csv(tmp_path: Path) -> None:
    wire = b"[]\n" + encode_event(_click("a", "u", "i")) + b"\n"  # a hostile first line
    cases = {
        "sim.jsonl": (wire, "events"),
        "sim.out": (wire, "events"),
        "log.jsonl": (b'{"user_id": "a", "item_id": "1", "timestamp": 5}\n', "jsonl"),
        "log.txt": (b'{"user_id": "a", "item_id": "1", "timestamp": 5}\n', "jsonl"),
        "log.csv": (b"user_id,item_id,timestamp\na,1,5\n", "csv"),
        "log": (b"user_id,item_id,timestamp\na,1,5\n", "csv"),
    }
    for name, (data, fmt) in cases.items():
        (tmp_path / name).write_bytes(data)
        assert detect_format(tmp_path / name) == fmt, name
        assert len(read_input(tmp_path / name).events) == 1, name


def test_interaction_reader_points_wire_files_to_the_events_format(tmp_path: Path) -> None:
    p = tmp_path / "sim.jsonl"
    p.write_bytes(encode_event(_click("a", "u", "i")) + b"\n")
    with pytest.raises(ReplayInputError, match="--format events"):
        read_events(p, "jsonl")


# ---------------------------------------------------------------- replay + catalogue
def test_catalogue_updates_reach_the_models_when_due() -> None:
    made: list[CrossDomainRecommender] = []

    def factory() -> CrossDomainRecommender:
        made.append(CrossDomainRecommender(seed=0))
        return made[-1]

    events = [ReplayEvent("u", "a", float(t), "click", None, "course") for t in range(5)]
    updates = [
        (1.0, ItemInfo("b", "fresh_food", partner="p", tags=("x",))),
        (9.0, ItemInfo("c", "fashion", partner="p")),  # after the last event: never due
    ]
    replay(events, catalogue_updates=updates, recommender_factory=factory, progress=None)
    catalogue = made[0].catalogue
    assert "b" in catalogue and "c" not in catalogue
    assert catalogue.get("b") == updates[0][1]


# ---------------------------------------------------------------- end to end
def test_replay_reads_what_the_simulator_writes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    world = World(seed=3, n_users=150, n_items=80)
    stream = mix_hostile(encode_all(Traffic(world, seed=3)), 0.1, seed=3)
    path = tmp_path / "sim.jsonl"
    ledger = Ledger()
    write_jsonl(path, itertools.islice(stream, 600), ledger=ledger, progress=False)

    assert replay_command.main(["--input", str(path), "--quiet"]) == 0
    out, err = capsys.readouterr()
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    assert {"events", "seconds", "events_per_s", "mode", "crossrec", "popularity"} <= set(result)
    assert result["mode"] == "implicit" and result["events"] > 0
    replayed = ledger.hostile_by_kind.get("replayed_id", 0)
    hostile = sum(ledger.hostile_by_kind.values()) - replayed
    assert hostile > 0 and result["skipped_invalid"] == hostile
    assert f"skipped {hostile} invalid" in err
    summary = result["input"]
    assert summary["duplicates"] == replayed and summary["lines"] == 600
    assert summary["by_type"] == ledger.by_type  # every valid event read, once
    assert result["events"] == summary["interactions"] > 0

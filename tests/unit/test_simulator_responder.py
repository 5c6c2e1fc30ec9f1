"""The responder: served lists in, the simulated users' reactions out (no Kafka here)."""

from __future__ import annotations

import argparse
import itertools
from datetime import UTC, datetime

import orjson
import pytest

from schemas import pseudonymise
from schemas.recommendation import Recommendation, RecommendedItem, encode_recommendation
from simulator.command import configure_parser, run
from simulator.payload import Emitted, encode
from simulator.responder import OWN_EVENTS_REMEMBERED, Responder
from simulator.traffic import Traffic
from simulator.world import World, domain_of_item_id

KEY = b"responder-test-key"
SERVED_AT = datetime(2026, 11, 29, 10, 5, tzinfo=UTC)


def _pseudonym(raw: str) -> str:
    return pseudonymise(KEY, raw)


@pytest.fixture
def world() -> World:
    return World(seed=3, n_users=50, n_items=200)


def _list(
    world: World, user: int, items: list[int], *, rec_id: str = "rec-1", source: str = "ev-1"
) -> bytes:
    recommended = tuple(
        RecommendedItem(
            item_id=world.item_ids[i],
            domain=domain_of_item_id(world.item_ids[i]),  # type: ignore[arg-type]
            partner=world.item_partner[i],
            score=1.0,
            p_click=0.5,
            reason="test",
        )
        for i in items
    )
    return encode_recommendation(
        Recommendation(
            rec_id=rec_id,
            user_id=_pseudonym(World.user_id(user)),
            items=recommended,
            variant="full",
            model_version="test",
            source_event_id=source,
            event_ts=SERVED_AT,
            generated_at=SERVED_AT,
        )
    )


def _drain(responder: Responder) -> list[dict[str, object]]:
    """The queued reactions, in the order the sink would get them."""
    *queued, _ = responder.merge(iter([Emitted(b"generated", None, "raw", None)]))
    return [orjson.loads(message.payload) for message in queued]


def test_a_served_list_gets_the_users_impression_with_its_rec_id(world: World) -> None:
    responder = Responder(Traffic(world, seed=3), _pseudonym)
    assert responder.known_users == world.n_users
    queued = responder.answer(_list(world, 7, list(range(10)), rec_id="rec-42"))
    events = _drain(responder)
    assert queued == len(events) >= 1
    impression = events[0]
    assert impression["event_type"] == "impression"
    assert impression["user_id"] == World.user_id(7)  # raw id, as the simulated apps send
    assert impression["rec_id"] == "rec-42"
    assert impression["item_ids"] == [world.item_ids[i] for i in range(10)]
    assert impression["ts"] == "2026-11-29T10:05:00.000Z"
    for click in (e for e in events if e["event_type"] == "click"):
        assert click["rec_id"] == "rec-42"
        assert click["item_id"] in impression["item_ids"]
    assert responder.answered == 1 and responder.pending == 0


def test_the_reactions_follow_ground_truth(world: World) -> None:
    """Lists of each user's truly best items get more clicks than lists of their worst."""
    responder = Responder(Traffic(world, seed=3), _pseudonym)
    clicks = {"best": 0, "worst": 0}
    every = list(range(world.n_items))
    for user in range(world.n_users):
        raw = World.user_id(user)
        ranked = sorted(every, key=lambda i: world.expected_clicks(raw, [world.item_ids[i]]))
        for name, items in (("best", ranked[-10:]), ("worst", ranked[:10])):
            responder.answer(_list(world, user, items, rec_id=f"{name}-{user}"))
            clicks[name] += sum(e["event_type"] == "click" for e in _drain(responder))
    assert clicks["best"] > 2 * clicks["worst"]


def test_unknown_users_bad_messages_and_own_reactions_are_not_answered(world: World) -> None:
    responder = Responder(Traffic(world, seed=3), _pseudonym)
    stranger = Responder(Traffic(world, seed=3), lambda raw: pseudonymise(b"other", raw))
    assert stranger.answer(_list(world, 1, [0, 1, 2])) == 0 and stranger.skipped == 1
    assert responder.answer(b'{"rec_id": "half a message"') == 0
    assert responder.answer(b"not json") == 0
    assert responder.invalid == 2 and responder.pending == 0

    # Answer lists until an answer has a click and a purchase or an order: lists those
    # trigger are left alone (else the answers would feed back on themselves).
    for n in itertools.count():
        responder.answer(_list(world, n % world.n_users, list(range(10)), rec_id=f"r{n}"))
        reactions = _drain(responder)
        kinds = {str(e["event_type"]): str(e["event_id"]) for e in reactions}
        if "click" in kinds and kinds.keys() & {"course_purchase", "partner_order"}:
            break
    answered = responder.answered
    for own in kinds.values():
        assert responder.answer(_list(world, 2, [3, 4], source=own)) == 0
    assert responder.answered == answered and responder.skipped == len(kinds)
    # Remembered once: a second list from the same source is answered.
    assert responder.answer(_list(world, 2, [3, 4], source=kinds["click"])) >= 1


def test_own_reactions_are_remembered_within_a_bound(world: World) -> None:
    responder = Responder(Traffic(world, seed=3), _pseudonym)
    for n in range(OWN_EVENTS_REMEMBERED + 5):
        responder._remember_own(f"c{n}")
    assert len(responder._own_events) == OWN_EVENTS_REMEMBERED
    assert "c0" not in responder._own_events
    assert f"c{OWN_EVENTS_REMEMBERED + 4}" in responder._own_events


def test_merge_sends_queued_reactions_before_the_next_generated_event(world: World) -> None:
    responder = Responder(Traffic(world, seed=3), _pseudonym)
    generated = [encode({"event_id": f"g{n}", "event_type": "forget"}) for n in range(3)]
    merged = responder.merge(iter(generated))
    assert orjson.loads(next(merged).payload)["event_id"] == "g0"
    queued = responder.answer(_list(world, 4, [0, 1, 2]))
    rest = list(merged)
    events = [orjson.loads(m.payload) for m in rest]
    assert queued >= 1 and events[0]["event_type"] == "impression"
    assert [e["event_id"] for e in events[queued:]] == ["g1", "g2"]


def test_respond_needs_kafka(capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser()
    configure_parser(parser)
    args = parser.parse_args(["--output", "x.jsonl", "--respond"])
    code = run(args, default_bootstrap="b", default_topic="t", pseudonymise=_pseudonym)
    assert code == 2
    assert "--respond needs --kafka" in capsys.readouterr().err

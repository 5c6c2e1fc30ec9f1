"""The ingest agent in Faust's test context: no broker, real agent code."""

from __future__ import annotations

import orjson
import pytest

from schemas import is_pseudonym
from streams.agents import ingest as ingest_module
from streams.agents.ingest import ingest
from streams.app import settings
from streams.dead_letter_size import BUDGET_BYTES, size
from streams.headers import is_copy
from streams.ingest import Accepted, Rejected
from streams.kafka_config import PRODUCER_MAX_REQUEST_BYTES
from streams.outbox import RecordingOutbox


def _click(event_id: str) -> bytes:
    return orjson.dumps(
        {
            "event_id": event_id,
            "event_type": "click",
            "ts": "2026-11-29T10:00:00Z",
            "user_id": "user-7",
            "schema_version": 1,
            "item_id": "course-0001",
            "surface": "home",
            "email": "someone@example.com",
        }
    )


async def test_valid_bad_and_replayed_messages_each_get_one_outcome(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    outbox = RecordingOutbox()
    monkeypatch.setattr(ingest_module, "outbox", outbox)
    async with ingest.test_context() as agent:
        await agent.put(key=b"user-7", value=_click("agent-e1"))
        await agent.put(key=b"user-7", value=b"\xff\xfe not json")
        await agent.put(key=b"user-7", value=_click("agent-e1"))
        outcomes = [agent.results[i] for i in range(3)]

    accepted = outcomes[0]
    assert isinstance(accepted, Accepted)
    assert accepted.event.user_id is not None and is_pseudonym(accepted.event.user_id)
    assert b"user-7" not in accepted.value
    assert b"example.com" not in accepted.value
    assert accepted.stripped_pii == ("email",)
    assert isinstance(outcomes[1], Rejected) and outcomes[1].code == "invalid_utf8"
    assert isinstance(outcomes[2], Rejected) and outcomes[2].code == "duplicate"

    valid = outbox.sent[settings.topic_valid]
    assert [(key, value) for key, value, _ in valid] == [(accepted.key, accepted.value)]
    dead = outbox.sent[settings.topic_dlq]
    assert [value for _, value, _ in dead] == [b"\xff\xfe not json", _click("agent-e1")]
    headers = dict(dead[0][2] or [])
    assert headers["error_code"] == b"invalid_utf8"
    assert headers["error_reason"]
    assert headers["source_topic"] == settings.topic_in.encode()


async def test_a_dead_letter_always_fits_what_the_producer_may_send(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An input near the broker's size limit plus the refusal headers would not fit: Kafka
    would refuse the dead letter, and the worker does not commit past a failed write."""
    outbox = RecordingOutbox()
    monkeypatch.setattr(ingest_module, "outbox", outbox)
    huge = b"x" * PRODUCER_MAX_REQUEST_BYTES
    async with ingest.test_context() as agent:
        await agent.put(key=b"user-7", value=huge)
        assert isinstance(agent.results[0], Rejected)
    [(key, value, headers)] = outbox.sent[settings.topic_dlq]
    assert size(key, value, headers or []) <= BUDGET_BYTES
    assert value == huge[: len(value)] and len(value) > BUDGET_BYTES // 2
    found = dict(headers or [])
    assert found["error_code"] == b"too_large"
    assert found["truncated"] == f"key=6 value={len(huge)}".encode()


async def test_catalogue_upserts_and_erasures_reach_every_partition(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every worker needs the whole catalogue and every erasure, whichever partitions of
    events.valid it owns: the event goes where its key sends it, plus a marked copy on every
    partition (the sink writes only the unmarked one)."""
    outbox = RecordingOutbox()
    monkeypatch.setattr(ingest_module, "outbox", outbox)
    item = orjson.dumps(
        {
            "event_id": "agent-item", "event_type": "item", "ts": "2026-11-29T10:00:00Z",
            "schema_version": 1, "item_id": "course-0001", "domain": "course",
            "partner_id": None, "title": "Knife skills", "tags": ["cooking"], "price": 9.5,
            "active": True,
        }
    )  # fmt: skip
    forget = orjson.dumps(
        {
            "event_id": "agent-forget", "event_type": "forget", "ts": "2026-11-29T10:00:01Z",
            "schema_version": 1, "user_id": "user-7",
        }
    )  # fmt: skip
    async with ingest.test_context() as agent:
        await agent.put(key=b"item", value=item)
        await agent.put(key=b"user-7", value=forget)
        await agent.put(key=b"user-7", value=_click("agent-e2"))
        outcomes = [agent.results[i] for i in range(3)]

    assert all(isinstance(o, Accepted) for o in outcomes)
    valid = outbox.sent[settings.topic_valid]
    partitions = outbox.partitions[settings.topic_valid]
    n = settings.topic_partitions
    assert len(valid) == 2 * (1 + n) + 1
    for first, outcome in ((0, outcomes[0]), (1 + n, outcomes[1])):
        assert isinstance(outcome, Accepted)
        sent = valid[first : first + 1 + n]
        assert {(key, value) for key, value, _ in sent} == {(outcome.key, outcome.value)}
        assert partitions[first : first + 1 + n] == [None, *range(n)]
        copies = [is_copy(headers) for _, _, headers in sent]
        assert copies == [False] + [True] * n
    assert partitions[-1] is None and not is_copy(valid[-1][2])

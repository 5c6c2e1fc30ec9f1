"""End to end on the real services: events.in → worker → valid / dead letters → ClickHouse."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from schemas import decode_event, is_pseudonym
from streams.local.clickhouse import LocalClickHouse
from streams.local.kafka import LocalKafka
from tests.integration.clickhouse_io import wait_for_rows
from tests.integration.kafka_io import consume, produce
from tests.integration.worker_process import running_worker, worker_env

pytestmark = pytest.mark.integration


def _click(event_id: str, user: str) -> bytes:
    return orjson.dumps(
        {
            "event_id": event_id,
            "event_type": "click",
            "ts": "2026-11-29T10:00:00Z",
            "user_id": user,
            "schema_version": 1,
            "item_id": "course-0001",
            "surface": "home",
        }
    )


async def test_event_flows_to_valid_topic_dead_letters_and_clickhouse(
    kafka: LocalKafka, clickhouse: LocalClickHouse, unique: str, tmp_path: Path
) -> None:
    env = worker_env(kafka, clickhouse, unique, tmp_path)
    raw_user = "user-000042"
    good = _click(f"{unique}-1", raw_user)
    bad = b'{"event_type": "click", "user_id": ' + raw_user.encode() + b"}"  # not JSON
    with running_worker(env, tmp_path / "worker.log"):
        await produce(kafka.bootstrap, env["CROSSREC_TOPIC_IN"], [(b"k", good), (b"k", bad)])
        valid = await consume(kafka.bootstrap, env["CROSSREC_TOPIC_VALID"], expected=1)
        dlq = await consume(kafka.bootstrap, env["CROSSREC_TOPIC_DLQ"], expected=1)
        rows = await wait_for_rows(
            clickhouse,
            f"SELECT event_id, user_id, item_id FROM {unique}.events FINAL "
            "WHERE event_id = {id:String}",
            until=1,
            parameters={"id": f"{unique}-1"},
        )

    assert len(valid) == 1, (tmp_path / "worker.log").read_text()[-3000:]
    event = decode_event(valid[0].value or b"").event
    assert event.event_id == f"{unique}-1"
    assert event.user_id is not None and is_pseudonym(event.user_id)
    assert valid[0].key == event.user_id.encode()
    assert raw_user.encode() not in (valid[0].value or b"")

    assert len(dlq) == 1
    assert dlq[0].value == bad, "the dead letter keeps the original bytes"
    headers = dict(dlq[0].headers)
    assert headers["error_code"] == b"not_json"
    assert headers["source_topic"] == env["CROSSREC_TOPIC_IN"].encode()

    assert rows == [(f"{unique}-1", event.user_id, "course-0001")]

"""``crossrec worker`` as a supervisor of three role processes, on the real services: a role
that dies is restarted and nothing is lost, and a SIGKILLed supervisor leaves no orphans."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from schemas import decode_event
from streams.local.clickhouse import LocalClickHouse
from streams.local.kafka import LocalKafka
from tests.integration.kafka_io import consume, produce, raw_click
from tests.integration.resilience_tools import scrape
from tests.integration.worker_process import running_worker, worker_env

pytestmark = pytest.mark.integration


def _children(pid: int) -> dict[str, int]:
    """Role → pid of the supervisor's children, read from /proc."""
    roles: dict[str, int] = {}
    with open(f"/proc/{pid}/task/{pid}/children") as fh:
        for child in (int(p) for p in fh.read().split()):
            try:
                environ = Path(f"/proc/{child}/environ").read_bytes().split(b"\0")
            except FileNotFoundError:
                continue
            for entry in environ:
                if entry.startswith(b"CROSSREC_WORKER_ROLE="):
                    roles[entry.split(b"=", 1)[1].decode()] = child
    return roles


def _wait_for_roles(pid: int, timeout: float = 30.0) -> dict[str, int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        roles = _children(pid)
        if set(roles) == {"ingest", "learn", "sink"}:
            return roles
        time.sleep(0.2)
    raise AssertionError(f"the supervisor did not start every role: {_children(pid)}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not reaped yet) counts as gone.
    return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"


def _click(n: int) -> bytes:
    return raw_click(f"sup-{n}", f"user-{n}")


async def test_a_dead_role_is_restarted_and_loses_nothing(
    kafka: LocalKafka, clickhouse: LocalClickHouse, unique: str, tmp_path: Path
) -> None:
    env = worker_env(kafka, clickhouse, unique, tmp_path)
    with running_worker(env, tmp_path / "worker.log") as proc:
        roles = _wait_for_roles(proc.pid)
        await produce(kafka.bootstrap, env["CROSSREC_TOPIC_IN"], [(None, _click(0))])
        assert len(await consume(kafka.bootstrap, env["CROSSREC_TOPIC_VALID"], expected=1)) == 1

        os.kill(roles["ingest"], signal.SIGKILL)
        await produce(
            kafka.bootstrap, env["CROSSREC_TOPIC_IN"], [(None, _click(n)) for n in range(1, 6)]
        )
        valid = await consume(kafka.bootstrap, env["CROSSREC_TOPIC_VALID"], expected=6)
        restarted = _wait_for_roles(proc.pid)
        assert proc.poll() is None, "the supervisor must outlive a role"
        # The metrics port serves every process's counters, summed.
        assert (scrape(int(env["CROSSREC_METRICS_PORT"]), "crossrec_events_in_total") or 0) >= 5

    ids = {decode_event(r.value or b"").event.event_id for r in valid}
    assert {f"sup-{n}" for n in range(6)} <= ids, (tmp_path / "worker.log").read_text()[-3000:]
    assert restarted["ingest"] != roles["ingest"]
    assert restarted["learn"] == roles["learn"]


def test_killing_the_supervisor_leaves_no_orphans(
    kafka: LocalKafka, clickhouse: LocalClickHouse, unique: str, tmp_path: Path
) -> None:
    env = worker_env(kafka, clickhouse, unique, tmp_path)
    with running_worker(env, tmp_path / "worker.log") as proc:
        roles = _wait_for_roles(proc.pid)
        proc.kill()
        proc.wait()
        deadline = time.monotonic() + 10
        while any(_alive(pid) for pid in roles.values()) and time.monotonic() < deadline:
            time.sleep(0.1)
    assert not [role for role, pid in roles.items() if _alive(pid)]

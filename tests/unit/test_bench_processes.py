"""Several workers per run: unique names per run and worker, and stopping them all at once.

The stop tests run real (tiny) Python child processes: what is checked is how ``Subprocess``
reads an exit after our SIGTERM, a crash before it, and a child that ignores SIGTERM.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from streams.bench.processes import (
    Isolation,
    Subprocess,
    run_isolation,
    stop_all,
    worker_env,
    worker_name,
    worker_ports,
)

_runs = st.lists(
    st.tuples(st.integers(1, 200_000), st.integers(1, 8)), min_size=1, max_size=6, unique=True
)


@given(_runs)
def test_every_run_and_worker_gets_its_own_names(runs: list[tuple[int, int]]) -> None:
    isolations = [run_isolation("bench1", items, n, 4) for items, n in runs]
    for field in ("app_id", "topic_in", "topic_valid", "database"):
        assert len({getattr(iso, field) for iso in isolations}) == len(runs)
    names = [worker_name(items, n, i) for items, n in runs for i in range(1, n + 1)]
    assert len(set(names)) == len(names)


def test_the_workers_of_a_run_share_its_isolation_but_not_their_ports(tmp_path: Path) -> None:
    iso = Isolation("bench1_300_3w", 4)
    envs: list[dict[str, str]] = []
    taken: list[int] = []
    for i in (1, 2, 3):
        env = worker_env({}, iso, "k:9092", "http://c:8123", tmp_path / f"w{i}", taken)
        taken += worker_ports(env)
        envs.append(env)
    shared = ("CROSSREC_APP_ID", "CROSSREC_TOPIC_VALID", "CROSSREC_CLICKHOUSE_DATABASE",
              "CROSSREC_PSEUDONYM_KEY")  # fmt: skip
    for key in shared:
        assert len({env[key] for env in envs}) == 1, key
    assert len(set(taken)) == len(taken) == 6
    assert len({env["CROSSREC_DATA_DIR"] for env in envs}) == 3


def _child(tmp_path: Path, name: str, code: str) -> Subprocess:
    return Subprocess(name, [sys.executable, "-c", code], {}, tmp_path / f"{name}.log")


_WAITS = "import time; time.sleep(30)"
_IGNORES_SIGTERM = (
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
    "print('ready', flush=True); time.sleep(30)"
)


def _wait_for_log(child: Subprocess, text: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while text not in child.tail() and time.monotonic() < deadline:
        time.sleep(0.02)


def test_stop_all_stops_every_child_and_tells_clean_from_not(tmp_path: Path) -> None:
    waiting = [_child(tmp_path, f"w{i}", _WAITS) for i in (1, 2)]
    crashed = _child(tmp_path, "crashed", "raise SystemExit(3)")
    stubborn = _child(tmp_path, "stubborn", _IGNORES_SIGTERM)
    children = [*waiting, crashed, stubborn]
    for child in children:
        child.start()
    assert crashed.proc is not None
    crashed.proc.wait(10)
    _wait_for_log(stubborn, "ready")
    began = time.monotonic()
    stop_all(children, timeout=1.0)
    assert time.monotonic() - began < 5  # one shared timeout, not one per child
    assert not any(child.alive() for child in children)
    assert [c.stopped_cleanly for c in children] == [True, True, False, False]
    stop_all(children)  # stopping again changes nothing
    assert [c.stopped_cleanly for c in children] == [True, True, False, False]


def test_a_child_that_exits_after_our_sigterm_stopped_cleanly(tmp_path: Path) -> None:
    child = _child(tmp_path, "w", _WAITS)
    child.start()
    child.terminate()
    assert child.proc is not None
    child.proc.wait(10)  # gone before stop() looks: still our SIGTERM's doing
    child.stop()
    assert child.stopped_cleanly is True

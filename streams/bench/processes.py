"""The processes under test: a real ``crossrec worker``, the bare aiokafka loop, the Faust floor.

All run as subprocesses in their own session, so a Ctrl-C in the terminal reaches only the
benchmark, which then stops them itself with SIGTERM (a worker commits offsets and flushes
its sink on SIGTERM) and SIGKILLs only one that does not exit in time.

Several workers of one run form one consumer group: they share the run's :class:`Isolation`
(topics, app id, database, pseudonym key) and differ only in ports, data dir and log file
(docs/runbook.md, "Scale"). :func:`stop_all` sends SIGTERM to all of them before waiting for
any: stopped one by one, each exit would hand its partitions to the others (a rebalance) while
they are being stopped too.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from streams.local.process import free_port
from streams.settings import REPO_ROOT

_PROBLEM = re.compile(r"ERROR|CRITICAL|Traceback|Exception|exited|Crashed", re.IGNORECASE)


@dataclass(frozen=True)
class Isolation:
    """Names that keep one benchmark run apart from everything else on the broker."""

    unique: str
    partitions: int

    @property
    def app_id(self) -> str:
        """Faust's app id, which is also its consumer group id."""
        return f"crossrec-{self.unique}"

    @property
    def topic_in(self) -> str:
        return f"{self.unique}.events.in"

    @property
    def topic_valid(self) -> str:
        return f"{self.unique}.events.valid"

    @property
    def topic_recommendations(self) -> str:
        return f"{self.unique}.recommendations"

    @property
    def topic_dlq(self) -> str:
        return f"{self.unique}.events.dlq"

    @property
    def database(self) -> str:
        return self.unique

    def topics(self) -> list[str]:
        return [self.topic_in, self.topic_valid, self.topic_recommendations, self.topic_dlq]


def run_isolation(run_id: str, items: int, n_workers: int, partitions: int) -> Isolation:
    """The isolation of one crossrec run: unique per benchmark, catalogue size and worker count.

    >>> run_isolation("bench1", 300, 2, 4).app_id
    'crossrec-bench1_300_2w'
    """
    return Isolation(f"{run_id}_{items}_{n_workers}w", partitions)


def worker_name(items: int, n_workers: int, index: int) -> str:
    """Stem of a worker's log file and data dir: unique per run (items, worker count) and worker.

    One worker keeps the names of report version 2.

    >>> worker_name(300, 1, 1), worker_name(300, 2, 1), worker_name(300, 2, 2)
    ('worker-300', 'worker-300-2w-1', 'worker-300-2w-2')
    """
    return f"worker-{items}" if n_workers == 1 else f"worker-{items}-{n_workers}w-{index}"


def worker_env(
    base: dict[str, str],
    iso: Isolation,
    bootstrap: str,
    clickhouse_url: str,
    data_dir: Path,
    avoid_ports: Sequence[int] = (),
) -> dict[str, str]:
    """Settings for an isolated worker: its own topics, consumer group and database.

    Its metrics and web ports are free ports not in ``avoid_ports`` (those already given to
    the other workers of the run, which are not listening yet).
    """
    metrics_port, web_port = _free_ports(2, avoid_ports)
    env = dict(base)
    env.update(
        {
            "CROSSREC_KAFKA_BOOTSTRAP": bootstrap,
            "CROSSREC_APP_ID": iso.app_id,
            "CROSSREC_TOPIC_IN": iso.topic_in,
            "CROSSREC_TOPIC_VALID": iso.topic_valid,
            "CROSSREC_TOPIC_RECOMMENDATIONS": iso.topic_recommendations,
            "CROSSREC_TOPIC_DLQ": iso.topic_dlq,
            "CROSSREC_TOPIC_PARTITIONS": str(iso.partitions),
            "CROSSREC_CLICKHOUSE_URL": clickhouse_url,
            "CROSSREC_CLICKHOUSE_DATABASE": iso.database,
            "CROSSREC_PSEUDONYM_KEY": f"key-{iso.unique}",
            "CROSSREC_METRICS_PORT": str(metrics_port),
            "CROSSREC_WEB_PORT": str(web_port),
            "CROSSREC_DATA_DIR": str(data_dir),
            "OPENBLAS_NUM_THREADS": "1",
        }
    )
    return env


def worker_ports(env: dict[str, str]) -> list[int]:
    """The ports a worker's settings make it listen on."""
    return [int(env["CROSSREC_METRICS_PORT"]), int(env["CROSSREC_WEB_PORT"])]


def _free_ports(count: int, avoid: Sequence[int]) -> list[int]:
    ports: list[int] = []
    while len(ports) < count:
        port = free_port()
        if port not in ports and port not in avoid:
            ports.append(port)
    return ports


class Subprocess:
    """One child process with its output in a log file; ``stop`` is SIGTERM, then SIGKILL."""

    def __init__(self, name: str, cmd: list[str], env: dict[str, str], log_path: Path) -> None:
        self.name = name
        self.cmd = cmd
        self.env = env
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None
        self.stopped_cleanly: bool | None = None
        self._terminated = False  # we sent SIGTERM: an exit from now on is the clean stop

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                self.cmd,
                env=self.env,
                cwd=REPO_ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def terminate(self) -> None:
        """Send SIGTERM once, without waiting (so several children stop at the same time)."""
        if self.proc is not None and self.proc.poll() is None and not self._terminated:
            self.proc.send_signal(signal.SIGTERM)
            self._terminated = True

    def stop(self, timeout: float = 60.0) -> None:
        """SIGTERM (unless sent already), wait up to ``timeout`` s, then SIGKILL.

        ``stopped_cleanly`` is True when it exited after our SIGTERM, False when it had to be
        killed or had exited on its own before (a crash).
        """
        proc = self.proc
        if proc is None or self.stopped_cleanly is not None:
            return
        if proc.poll() is not None and not self._terminated:
            self.stopped_cleanly = False  # it had exited on its own
            return
        self.terminate()
        try:
            proc.wait(timeout)
            self.stopped_cleanly = True
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            self.stopped_cleanly = False

    def problems(self, limit: int = 20) -> list[str]:
        """Log lines that look like errors, for the report (the full log stays on disk)."""
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except FileNotFoundError:
            return []
        return [line[:300] for line in lines if _PROBLEM.search(line)][:limit]

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"


def stop_all(children: Sequence[Subprocess], timeout: float = 60.0) -> None:
    """SIGTERM every child first, then wait for each; all share one ``timeout``."""
    for child in children:
        child.terminate()
    deadline = time.monotonic() + timeout
    for child in children:
        child.stop(max(0.1, deadline - time.monotonic()))


def worker_process(
    env: dict[str, str], log_path: Path, loglevel: str = "warning", name: str = "worker"
) -> Subprocess:
    cmd = [sys.executable, "-m", "streams.cli", "worker", "--loglevel", loglevel]
    return Subprocess(name, cmd, env, log_path)


def _forwarding_cmd(
    module: str, bootstrap: str, topic_in: str, topic_out: str, group_id: str
) -> list[str]:
    return [
        sys.executable, "-m", module,
        "--bootstrap", bootstrap, "--in", topic_in, "--out", topic_out, "--group", group_id,
    ]  # fmt: skip


def bare_process(
    bootstrap: str, topic_in: str, topic_out: str, group_id: str, log_path: Path
) -> Subprocess:
    cmd = _forwarding_cmd("streams.bench.bare_loop", bootstrap, topic_in, topic_out, group_id)
    return Subprocess("bare loop", cmd, dict(os.environ), log_path)


def faust_floor_process(
    bootstrap: str,
    topic_in: str,
    topic_out: str,
    group_id: str,
    log_path: Path,
    datadir: Path,
    partitions: int,
    loglevel: str = "warning",
) -> Subprocess:
    """The one-agent Faust forwarder (:mod:`streams.bench.faust_loop`); ``group_id`` = app id.

    ``partitions`` must be those the topics were created with.
    """
    cmd = _forwarding_cmd("streams.bench.faust_loop", bootstrap, topic_in, topic_out, group_id)
    cmd += ["--datadir", str(datadir), "--partitions", str(partitions), "--loglevel", loglevel]
    return Subprocess("faust floor", cmd, dict(os.environ), log_path)

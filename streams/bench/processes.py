"""The processes under test: a real ``crossrec worker``, the bare aiokafka loop, the Faust floor.

All run as subprocesses in their own session, so a Ctrl-C in the terminal reaches only the
benchmark, which then stops them itself with SIGTERM (a worker commits offsets and flushes
its sink on SIGTERM) and SIGKILLs only one that does not exit in time.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
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


def worker_env(
    base: dict[str, str], iso: Isolation, bootstrap: str, clickhouse_url: str, data_dir: Path
) -> dict[str, str]:
    """Settings for an isolated worker: its own topics, consumer group and database."""
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
            "CROSSREC_METRICS_PORT": str(free_port()),
            "CROSSREC_WEB_PORT": str(free_port()),
            "CROSSREC_DATA_DIR": str(data_dir),
            "OPENBLAS_NUM_THREADS": "1",
        }
    )
    return env


class Subprocess:
    """One child process with its output in a log file; ``stop`` is SIGTERM, then SIGKILL."""

    def __init__(self, name: str, cmd: list[str], env: dict[str, str], log_path: Path) -> None:
        self.name = name
        self.cmd = cmd
        self.env = env
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None
        self.stopped_cleanly: bool | None = None

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

    def stop(self, timeout: float = 60.0) -> None:
        proc = self.proc
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
                self.stopped_cleanly = True
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                self.stopped_cleanly = False
        elif self.stopped_cleanly is None:
            self.stopped_cleanly = False  # it had exited on its own

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


def worker_process(env: dict[str, str], log_path: Path, loglevel: str = "warning") -> Subprocess:
    cmd = [sys.executable, "-m", "streams.cli", "worker", "--loglevel", loglevel]
    return Subprocess("worker", cmd, env, log_path)


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

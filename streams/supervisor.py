"""``crossrec worker``: ingest, learn and sink as three processes, one core each.

Why processes: a Faust worker runs every agent on one event loop under one GIL. Measured on
the 2-core bench machine, the learner's predict → emit → learn was only about a third of that
loop's time; decoding and pseudonymising raw events, writing ClickHouse batches and the
Kafka plumbing of four agents took the rest. Split by role, each process owns one consumer
group (:func:`streams.settings.role_group_id`) and reads at its own pace, and the learner's
loop does nothing but learn and recommend.

The supervisor prepares topics and schema once, starts the roles, serves the sum of their
Prometheus metrics (multiprocess files) on the metrics port, restarts a role that dies (each
role recovers on its own: committed offsets, the learner's checkpoint and catch-up replay)
and, on SIGTERM/SIGINT, stops them all gracefully. Children die with it (Linux parent-death
signal), so a SIGKILL of the supervisor is a crash of the whole worker, never orphans.
"""

from __future__ import annotations

import ctypes
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import deque
from types import FrameType

from streams.settings import ROLES, Settings

log = logging.getLogger(__name__)

RESTARTS_ALLOWED = 5
"""A role that dies more often than this within :data:`RESTART_WINDOW_S` stops the worker."""
RESTART_WINDOW_S = 60.0
STOP_TIMEOUT_S = 60.0


def _die_with_parent() -> None:
    """In the child before exec: SIGKILL when the supervisor dies (Linux prctl)."""
    pr_set_pdeathsig = 1
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
    except OSError:  # not Linux: children outlive a killed supervisor; nothing else differs
        return
    libc.prctl(pr_set_pdeathsig, signal.SIGKILL)


class Supervisor:
    """Runs one process per role (:data:`streams.settings.ROLES`) until told to stop."""

    def __init__(self, settings: Settings, loglevel: str = "info") -> None:
        self.settings = settings
        self.loglevel = loglevel
        self.metrics_dir = settings.data_dir / "metrics" / settings.app_id
        self.children: dict[str, subprocess.Popen[bytes]] = {}
        self.deaths: dict[str, deque[float]] = {role: deque() for role in ROLES}
        self.stopping = False

    def run(self) -> int:
        """Prepare, start every role, watch them; the exit code of the whole worker."""
        from streams.worker import prepare

        prepare(self.settings)
        self._fresh_metrics_dir()
        self._serve_metrics()
        previous = {
            sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGTERM, signal.SIGINT)
        }
        try:
            for role in ROLES:
                self._start(role)
            return self._watch()
        finally:
            self._stop_all()
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    # --- internals ------------------------------------------------------------------------
    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        log.info("supervisor: %s received, stopping the roles", signal.Signals(signum).name)
        self.stopping = True

    def _fresh_metrics_dir(self) -> None:
        """Prometheus multiprocess files must start empty, or old counts are summed in."""
        shutil.rmtree(self.metrics_dir, ignore_errors=True)
        self.metrics_dir.mkdir(parents=True)

    def _serve_metrics(self) -> None:
        if not self.settings.metrics_port:
            return
        from prometheus_client import start_http_server

        from streams.shared_metrics import aggregate_registry

        registry = aggregate_registry(self.metrics_dir)
        start_http_server(self.settings.metrics_port, self.settings.listen_host, registry)

    def _start(self, role: str) -> None:
        from streams.shared_metrics import MULTIPROC_ENV

        env = {
            **os.environ,
            "CROSSREC_WORKER_ROLE": role,
            MULTIPROC_ENV: str(self.metrics_dir),
            "OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS", "1"),
        }
        cmd = [sys.executable, "-m", "streams.cli", "worker", "--supervised"]
        self.children[role] = subprocess.Popen(
            [*cmd, "--loglevel", self.loglevel],
            env=env,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # a terminal's Ctrl-C reaches the supervisor only
            preexec_fn=_die_with_parent,
        )
        log.info("supervisor: %s started (pid %d)", role, self.children[role].pid)

    def _watch(self) -> int:
        while not self.stopping:
            for role, child in list(self.children.items()):
                code = child.poll()
                if code is None or self.stopping:
                    continue
                self._forget_metrics_of(child.pid)
                if not self._may_restart(role):
                    log.error(
                        "supervisor: %s exited %d, %d times within %.0f s: stopping",
                        role,
                        code,
                        RESTARTS_ALLOWED + 1,
                        RESTART_WINDOW_S,
                    )
                    return 1
                log.warning("supervisor: %s exited with code %d, restarting it", role, code)
                self._start(role)
            time.sleep(0.2)
        return 0

    def _may_restart(self, role: str) -> bool:
        now = time.monotonic()
        deaths = self.deaths[role]
        deaths.append(now)
        while deaths and now - deaths[0] > RESTART_WINDOW_S:
            deaths.popleft()
        return len(deaths) <= RESTARTS_ALLOWED

    def _forget_metrics_of(self, pid: int) -> None:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid, str(self.metrics_dir))  # type: ignore[no-untyped-call]

    def _stop_all(self) -> None:
        """SIGTERM every role at once (each snapshots/flushes/commits), SIGKILL stragglers."""
        running = {role: c for role, c in self.children.items() if c.poll() is None}
        for child in running.values():
            child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for role, child in running.items():
            try:
                child.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.error(
                    "supervisor: %s did not stop within %.0f s, killing it", role, STOP_TIMEOUT_S
                )
                child.kill()
                child.wait()
        self.children.clear()

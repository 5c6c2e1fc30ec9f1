"""``crossrec up``: the whole local system in one command, stopped cleanly by Ctrl-C.

Order matters both ways: Kafka and ClickHouse first (they must be ready before the worker
connects), then the worker, then the traffic simulator; on the way down the simulator stops
first, the worker gets SIGTERM (it flushes its sink and commits offsets), then the servers.

The simulated users also answer the lists the worker serves (``simulate --respond``): without
that, the worker's click metrics (CTR, log loss, AUC of ``p_click``) would have no labels.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time

from streams.checkpoint import checkpoint_path, set_aside_if_outdated
from streams.local.process import ServiceError, port_in_use, stop_on_sigterm
from streams.local.stack import local_clickhouse, local_kafka, start_clickhouse
from streams.settings import Settings


def _stop(proc: subprocess.Popen[bytes] | None, name: str, timeout: float = 60.0) -> None:
    if proc is None or proc.poll() is not None:
        return
    print(f"stopping {name} ...", flush=True)
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def run_everything(settings: Settings, simulate_rate: float) -> int:
    stop_on_sigterm()
    kafka = local_kafka(settings)
    clickhouse = local_clickhouse(settings)
    worker: subprocess.Popen[bytes] | None = None
    simulator: subprocess.Popen[bytes] | None = None
    try:
        print(f"starting Kafka on {kafka.bootstrap} ...", flush=True)
        kafka.start()
        print(f"starting ClickHouse on {clickhouse.url} ...", flush=True)
        start_clickhouse(clickhouse, settings)
        if port_in_use(settings.web_port):
            raise ServiceError(f"the worker's web port {settings.web_port} is already taken")
        outdated = set_aside_if_outdated(checkpoint_path(settings))
        if outdated is not None:
            print(
                f"the model snapshot is in another crossrec format; moved it to {outdated} "
                "(the worker rebuilds its models from events.valid)",
                flush=True,
            )
        # Children get their own sessions: a terminal's Ctrl-C reaches only this process,
        # which then stops them in order.
        worker = subprocess.Popen(
            [sys.executable, "-m", "streams.cli", "worker"], start_new_session=True
        )
        time.sleep(5)  # let the worker create its topics and join its group first
        # A new seed per run: the same seed would replay the same event ids, which the
        # (checkpointed) learner rightly ignores as duplicates.
        seed = str(int(time.time()))
        simulator = subprocess.Popen(
            [sys.executable, "-m", "streams.cli", "simulate", "--kafka", "--seed", seed,
             "--rate", str(simulate_rate), "--events", "1000000000", "--respond", "--quiet"],
            start_new_session=True,
        )  # fmt: skip
        print("crossrec is up — press Ctrl-C to stop everything", flush=True)
        while worker.poll() is None:
            time.sleep(0.5)
        print(f"the worker exited with code {worker.returncode}", flush=True)
        return worker.returncode or 1
    except KeyboardInterrupt:
        print("\nCtrl-C: shutting down", flush=True)
        return 0
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut shutdown
        _stop(simulator, "simulator")
        _stop(worker, "worker")
        print("stopping ClickHouse and Kafka ...", flush=True)
        clickhouse.stop()
        kafka.stop()
        print("all stopped", flush=True)

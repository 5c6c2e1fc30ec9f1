"""``simulate --respond`` closes the loop over real Kafka: the simulated users answer the lists a
real worker serves, so the worker labels its served ``p_click`` with clicks and non-clicks (the
quick start's CTR, log loss and AUC; open-loop traffic leaves them empty)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from streams.local.clickhouse import LocalClickHouse
from streams.local.kafka import LocalKafka
from tests.integration.resilience_tools import wait_until
from tests.integration.worker_process import running_worker, worker_env

pytestmark = pytest.mark.integration


def _variants(web_port: int) -> list[dict[str, Any]]:
    url = f"http://127.0.0.1:{web_port}/dashboard/data"
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            rows: list[dict[str, Any]] = json.loads(resp.read())["variants"]
            return rows
    except OSError:
        return []


def _labelled_both_ways(rows: list[dict[str, Any]]) -> bool:
    """Some variant has labelled impressions, clicked and not clicked."""
    return any(r["labelled_impressions"] and 0 < r["ctr"] < 1 for r in rows)


async def test_simulated_users_answer_the_served_lists(
    kafka: LocalKafka, clickhouse: LocalClickHouse, unique: str, tmp_path: Path
) -> None:
    env = worker_env(kafka, clickhouse, unique, tmp_path)
    # Simulated event time runs ~10x wall time at this rate; short windows close in seconds.
    env["CROSSREC_LABEL_WINDOW_S"] = "20"
    web_port = int(env["CROSSREC_WEB_PORT"])
    log = tmp_path / "worker.log"
    with running_worker(env, log):
        # Long enough for the worker's first lists to be answered and their windows to close
        # (~30 s); it ends by itself with its summary (a signal could be ignored: a background
        # job's shell starts its children with SIGINT ignored).
        simulate = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "streams.cli", "simulate", "--kafka", "--respond",
            "--events", "12000", "--rate", "400", "--users", "300", "--items", "500",
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        _, err = await asyncio.wait_for(simulate.communicate(), 180)
        rows = await wait_until(
            lambda: asyncio.to_thread(_variants, web_port), _labelled_both_ways, 60.0
        )
    text = err.decode()
    assert simulate.returncode == 0, text[-3000:]
    summary = json.loads(text[text.rindex("\n{") :])
    assert summary["lists_answered"] > 0, json.dumps(summary)
    assert _labelled_both_ways(rows), (rows, log.read_text()[-3000:])
    labelled = [r for r in rows if r["labelled_impressions"]]
    assert all(0.0 <= r["ctr_auc"] <= 1.0 and r["ctr_logloss"] > 0 for r in labelled), rows

"""``crossrec bench --quick`` end to end against the session's real Kafka and ClickHouse.

A smoke test of the harness, not a timed test: it checks that the pipelines (the real worker
alone and as two workers in one consumer group, the bare loop and the Faust floor) were
measured — positive throughput, latency samples whose percentiles are ordered — and that the
report's last stdout line is the JSON document scripts rely on. The two-worker run adds about
20 s.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from streams.local.clickhouse import LocalClickHouse
from streams.local.kafka import LocalKafka
from streams.local.process import pid_alive, read_pid

pytestmark = pytest.mark.integration


def _check_latency(name: str, latency_ms: dict[str, Any]) -> None:
    assert latency_ms, f"{name}: no fixed-rate phase was measured"
    for rate, figures in latency_ms.items():
        assert figures["count"] > 0, f"{name} at {rate} ev/s: no latency sample"
        assert 0 <= figures["p50"] <= figures["p95"] <= figures["p99"], (name, rate, figures)


def test_quick_bench_measures_one_and_two_workers_bare_loop_and_faust_floor(
    kafka: LocalKafka, clickhouse: LocalClickHouse, tmp_path: Path
) -> None:
    report_file = tmp_path / "bench.json"
    cmd = [
        sys.executable, "-m", "streams.bench", "--quick", "--workers", "1,2",
        "--bootstrap", kafka.bootstrap, "--clickhouse-url", clickhouse.url,
        "--workdir", str(tmp_path / "work"), "--output", str(report_file),
    ]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-4000:]

    last_line = done.stdout.strip().splitlines()[-1]
    report = json.loads(last_line)
    assert report == json.loads(report_file.read_text())
    assert report["report_version"] == 3
    assert report["machine"]["cpu_count"] >= 1
    assert report["services"] == {
        "bootstrap": kafka.bootstrap,
        "clickhouse_url": clickhouse.url,
        "own_kafka": False,
        "own_clickhouse": False,
    }

    summary = report["summary"]
    assert summary["bare"]["max_events_per_s"] > 0
    _check_latency("bare loop", summary["bare"]["latency_ms"])
    floor = report["faust_floor"]
    assert floor["error"] is None, floor["process"]
    assert floor["process"]["stopped_cleanly"] is True, floor["process"]
    assert floor["max_rate"]["processed"] == floor["max_rate"]["produced"] > 0, floor["max_rate"]
    assert summary["faust_floor"]["max_events_per_s"] > 0
    _check_latency("faust floor", summary["faust_floor"]["latency_ms"])
    floor_rows = [line for line in done.stdout.splitlines() if line.startswith("  faust floor")]
    assert len(floor_rows) == 1 + len(summary["faust_floor"]["latency_ms"]), done.stdout
    assert [(e["items"], e["n_workers"]) for e in summary["crossrec"]] == [(300, 1), (300, 2)]
    for ours, run in zip(summary["crossrec"], report["runs"], strict=True):
        name = ours["pipeline"]
        assert ours["error"] is None, (name, run["workers"])
        assert ours["max_events_per_s"] > 0, name
        assert ours["max_rate_vs_bare"] > 0, name
        assert ours["max_rate_vs_faust_floor"] > 0, name
        assert ours["max_rate_vs_one_worker"] > 0, name
        _check_latency(name, ours["latency_ms"])
        assert len(run["workers"]) == run["n_workers"], name
        assert all(w["stopped_cleanly"] is True for w in run["workers"]), (name, run["workers"])
        assert len({w["log"] for w in run["workers"]}) == run["n_workers"], name
        assert run["max_rate"]["processed"] == run["max_rate"]["produced"], (name, run["max_rate"])
    one, two = report["runs"]
    assert one["worker"] == one["workers"][0]  # report version 2's key stays for one worker
    assert one["app_id"] != two["app_id"]
    two_rows = [line for line in done.stdout.splitlines() if line.startswith(f"  {name}")]
    assert name == "crossrec 300 items (2 workers)"
    assert len(two_rows) == 1 + len(summary["crossrec"][1]["latency_ms"]), done.stdout


def test_sigterm_stops_the_servers_the_bench_started(tmp_path: Path) -> None:
    """A SIGTERM (a CI timeout, ``kill``) stops the bench like Ctrl-C: the Kafka and
    ClickHouse it started are stopped, not left running as orphans."""
    work = tmp_path / "work"
    cmd = [sys.executable, "-m", "streams.bench", "--quick", "--workdir", str(work)]
    bench = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seen: list[str] = []
    try:
        assert bench.stderr is not None
        for line in bench.stderr:  # both servers are up once the first phase starts
            seen.append(line)
            if "bare loop: max rate" in line:
                break
        servers = {name: read_pid(work / name / f"{name}.pid") for name in ("kafka", "clickhouse")}
        assert all(servers.values()), ("".join(seen[-20:]), servers)
        bench.send_signal(signal.SIGTERM)
        _, rest = bench.communicate(timeout=180)
    finally:
        if bench.poll() is None:
            bench.kill()
    assert bench.returncode == 130, rest[-4000:]
    assert "interrupted" in rest, rest[-4000:]
    still_running = {n: pid for n, pid in servers.items() if pid is not None and pid_alive(pid)}
    assert not still_running, rest[-4000:]

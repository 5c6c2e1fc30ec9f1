"""The deployment files parse and name what users rely on."""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_compose_names_kafka_clickhouse_worker_and_prometheus() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"kafka", "clickhouse", "worker", "prometheus"} <= set(services)
    assert services["kafka"]["image"].startswith("apache/kafka:4")
    assert services["clickhouse"]["image"].startswith("clickhouse/clickhouse-server")
    assert services["worker"]["build"]["dockerfile"] == "deploy/Dockerfile"
    assert (ROOT / "deploy" / "Dockerfile").exists()
    worker_env = services["worker"]["environment"]
    assert worker_env["CROSSREC_KAFKA_BOOTSTRAP"] == "kafka:9092"
    assert worker_env["CROSSREC_CLICKHOUSE_URL"] == "http://clickhouse:8123"


def test_compose_uses_only_documented_settings() -> None:
    from streams.settings import documented_settings

    known = {env for env, _, _ in documented_settings()}
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    for service in compose["services"].values():
        for name in service.get("environment", {}):
            if name.startswith("CROSSREC_"):
                assert name in known, f"{name} is not a crossrec setting"


def test_ci_runs_exactly_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "bash deploy/test.sh" in readme
    assert "bash deploy/test.sh" in ci

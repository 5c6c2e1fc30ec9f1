"""The operations files (Grafana, Prometheus rules, Kubernetes, runbook) parse and agree with
the code: dashboards and alerts query only metrics the worker exports, probes hit the worker's
endpoints on its web port, the ConfigMap holds only documented settings and the Secret
template holds no secret."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.metrics import MetricWrapperBase

import streams.metrics
from streams.settings import Settings, documented_settings

ROOT = Path(__file__).resolve().parents[2]
GRAFANA = ROOT / "deploy" / "grafana"
K8S = ROOT / "deploy" / "k8s"
PROMETHEUS = ROOT / "deploy" / "prometheus"
DASHBOARD = GRAFANA / "dashboards" / "crossrec.json"
RUNBOOK = ROOT / "docs" / "runbook.md"

SECRET_SETTINGS = {
    "CROSSREC_PSEUDONYM_KEY",
    "CROSSREC_CLICKHOUSE_PASSWORD",
    "CROSSREC_KAFKA_SASL_PASSWORD",
    "CROSSREC_ANALYST_PASSWORD",
}
CONSUMER_LAG = "crossrec_consumer_lag"  # being added to streams.metrics by the lead
_METRIC_NAME = re.compile(r"\bcrossrec_[a-z0-9_]+\b")


# --- helpers --------------------------------------------------------------------------------
def exported_series() -> set[str]:
    """Every series name ``streams.metrics`` exposes on /metrics (plus the consumer lag).

    Counters expose ``<name>_total``, histograms ``_bucket``/``_sum``/``_count``; both also
    ``_created``.
    """
    series = {CONSUMER_LAG}
    for value in vars(streams.metrics).values():
        if not isinstance(value, MetricWrapperBase):
            continue
        for family in value.describe():
            name = family.name
            if family.type == "counter":
                series |= {f"{name}_total", f"{name}_created"}
            elif family.type == "histogram":
                series |= {f"{name}_{s}" for s in ("bucket", "sum", "count", "created")}
            else:
                series.add(name)
    return series


def metric_names(expr: str) -> set[str]:
    """``crossrec_*`` identifiers in a PromQL expression (label values are quoted: skipped).

    >>> sorted(metric_names('sum by (v) (rate(crossrec_a_total{m="crossrec_no"}[5m]))'))
    ['crossrec_a_total']
    """
    unquoted = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    return set(_METRIC_NAME.findall(unquoted))


def panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in dashboard["panels"]:
        yield panel
        yield from panel.get("panels", [])


def dashboard_exprs() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [t["expr"] for p in panels(dashboard) for t in p.get("targets", [])]


def alert_rules() -> list[dict[str, Any]]:
    rules = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())
    return [rule for group in rules["groups"] for rule in group["rules"]]


def k8s_docs() -> dict[str, list[dict[str, Any]]]:
    """Every YAML document under deploy/k8s, by file name."""
    return {
        path.name: [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
        for path in sorted(K8S.glob("*.yaml"))
    }


def k8s_object(kind: str, name: str) -> dict[str, Any]:
    for docs in k8s_docs().values():
        for doc in docs:
            if doc["kind"] == kind and doc["metadata"]["name"] == name:
                return doc
    raise AssertionError(f"no {kind} {name} under deploy/k8s")


def worker_container() -> dict[str, Any]:
    sts = k8s_object("StatefulSet", "crossrec-worker")
    containers = sts["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    container: dict[str, Any] = containers[0]
    return container


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading.

    >>> github_anchor("ClickHouse is down or refuses writes")
    'clickhouse-is-down-or-refuses-writes'
    """
    slug = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return slug.replace(" ", "-")


# --- the helpers themselves must be able to fail --------------------------------------------
def test_exported_series_are_derived_from_streams_metrics() -> None:
    series = exported_series()
    assert {"crossrec_events_in_total", "crossrec_stage_seconds_bucket"} <= series
    assert {"crossrec_sink_degraded", "crossrec_online_metric", CONSUMER_LAG} <= series
    assert "crossrec_events_in" not in series  # a counter is only exposed with _total
    assert "crossrec_stage_seconds" not in series  # a histogram only as its parts


def test_metric_names_sees_every_metric_and_ignores_label_values() -> None:
    expr = 'a(crossrec_x_total[5m]) / b(crossrec_y{m="crossrec_z", n=~"a|crossrec_w"})'
    assert metric_names(expr) == {"crossrec_x_total", "crossrec_y"}


# --- Grafana --------------------------------------------------------------------------------
def test_grafana_provisioning_parses_and_points_at_compose_prometheus() -> None:
    datasources = yaml.safe_load(
        (GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text()
    )["datasources"]
    assert [d["type"] for d in datasources] == ["prometheus"]  # no plugin-only datasource
    assert datasources[0]["url"] == "http://prometheus:9090"
    providers = yaml.safe_load(
        (GRAFANA / "provisioning" / "dashboards" / "crossrec.yml").read_text()
    )["providers"]
    assert [p["type"] for p in providers] == ["file"]


def test_dashboard_uses_the_provisioned_datasource() -> None:
    uid = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text())[
        "datasources"
    ][0]["uid"]
    dashboard = json.loads(DASHBOARD.read_text())
    for panel in panels(dashboard):
        for target in panel.get("targets", []):
            assert target["datasource"]["uid"] == uid, panel["title"]


def test_dashboard_queries_only_metrics_the_worker_exports() -> None:
    exprs = dashboard_exprs()
    assert len(exprs) >= 10
    known = exported_series()
    for expr in exprs:
        names = metric_names(expr)
        assert names, f"query without a crossrec metric: {expr}"
        assert names <= known, f"{sorted(names - known)} not exported (query: {expr})"


def test_dashboard_covers_what_operators_asked_for() -> None:
    joined = "\n".join(dashboard_exprs())
    for needle in (
        "crossrec_events_in_total",
        "crossrec_events_valid_total",
        "crossrec_recommendations_out_total",
        "histogram_quantile(0.5, sum by (le, stage) (rate(crossrec_stage_seconds_bucket",
        "histogram_quantile(0.99, sum by (le, stage) (rate(crossrec_stage_seconds_bucket",
        "sum by (topic) (crossrec_consumer_lag)",
        "sum by (code) (rate(crossrec_dead_letters_total",
        "crossrec_sink_degraded",
        'crossrec_online_metric{metric="ctr"}',
        'crossrec_online_metric{metric="hit_rate"}',
        "rate(crossrec_event_loop_lag_seconds_bucket",
    ):
        assert needle in joined, needle


def test_dashboard_panel_ids_are_unique_and_panels_fit_the_grid() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    ids = [p["id"] for p in panels(dashboard)]
    assert len(ids) == len(set(ids))
    for panel in panels(dashboard):
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24, panel["title"]


# --- Prometheus -----------------------------------------------------------------------------
def test_prometheus_configs_parse_and_load_the_alert_rules() -> None:
    for name in ("prometheus.yml", "prometheus-kubernetes.yml"):
        config = yaml.safe_load((PROMETHEUS / name).read_text())
        assert config["rule_files"] == ["alerts.yml"]
        assert [job["job_name"] for job in config["scrape_configs"]] == ["crossrec-worker"]
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert any("alerts.yml" in v for v in compose["services"]["prometheus"]["volumes"])


def test_alerts_query_only_exported_metrics_and_link_to_runbook_sections() -> None:
    known = exported_series()
    anchors = {
        github_anchor(line.lstrip("#"))
        for line in RUNBOOK.read_text().splitlines()
        if line.startswith("#")
    }
    rules = alert_rules()
    assert len({r["alert"] for r in rules}) == len(rules)
    for rule in rules:
        names = metric_names(rule["expr"])
        assert names <= known, f"{rule['alert']}: {sorted(names - known)} not exported"
        link = rule["annotations"]["runbook"]
        assert link.startswith("docs/runbook.md#")
        assert link.split("#", 1)[1] in anchors, f"{rule['alert']}: dead link {link}"


# --- docker compose -------------------------------------------------------------------------
def test_compose_still_parses_with_grafana_provisioned() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"kafka", "clickhouse", "worker", "simulator", "prometheus", "grafana"} <= set(services)
    grafana = services["grafana"]
    assert grafana["image"].startswith("grafana/grafana:")
    assert "3000:3000" in grafana["ports"]
    assert grafana["environment"]["GF_AUTH_ANONYMOUS_ENABLED"] == "true"
    assert grafana["environment"]["GF_AUTH_ANONYMOUS_ORG_ROLE"] == "Viewer"
    mounts = {v.split(":")[0]: v.split(":")[1] for v in grafana["volumes"]}
    assert mounts["./deploy/grafana/provisioning"] == "/etc/grafana/provisioning"
    provider = yaml.safe_load(
        (GRAFANA / "provisioning" / "dashboards" / "crossrec.yml").read_text()
    )["providers"][0]
    assert mounts["./deploy/grafana/dashboards"] == provider["options"]["path"]
    for source in mounts:
        if source.startswith("./"):
            assert (ROOT / source).exists(), source


# --- Kubernetes -----------------------------------------------------------------------------
def test_every_k8s_file_parses_to_objects_with_kind_and_name() -> None:
    docs = k8s_docs()
    assert {"configmap.yaml", "secret.template.yaml", "statefulset.yaml", "service.yaml"} <= set(
        docs
    )
    for name, objects in docs.items():
        assert objects, name
        for obj in objects:
            assert obj["apiVersion"] and obj["kind"], name
            if obj["kind"] != "Kustomization":
                assert obj["metadata"]["name"], name


def test_kustomization_lists_existing_files_but_never_the_secret_template() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    resources = kustomization["resources"]
    assert "secret.template.yaml" not in resources
    for resource in resources:
        assert (K8S / resource).exists(), resource
    assert set(resources) == set(k8s_docs()) - {"kustomization.yaml", "secret.template.yaml"}


def test_configmap_holds_only_documented_non_secret_settings() -> None:
    documented = {env for env, _, _ in documented_settings()}
    data = k8s_object("ConfigMap", "crossrec-config")["data"]
    assert data
    for name, value in data.items():
        assert name in documented, f"{name} is not a crossrec setting"
        assert name not in SECRET_SETTINGS, f"{name} is a secret: Secret, not ConfigMap"
        assert isinstance(value, str), f"{name}: ConfigMap values must be strings"
    Settings.from_env(data)  # every value parses as its setting's type


def test_secret_template_has_the_four_secrets_as_placeholders_only() -> None:
    secret = k8s_object("Secret", "crossrec-secrets")
    values: dict[str, str] = secret["stringData"]
    assert set(values) == SECRET_SETTINGS
    assert "data" not in secret  # base64 values would hide what is in there
    defaults = {env: default for env, default, _ in documented_settings()}
    for name, value in values.items():
        assert value.startswith("<REPLACE") and value.endswith(">"), name
        assert value != defaults[name]
        assert not re.search(r"[0-9a-fA-F]{16,}|[A-Za-z0-9+/=]{24,}", value), name


def test_the_configmap_and_secret_are_what_the_worker_reads() -> None:
    env_from = worker_container()["envFrom"]
    assert {"configMapRef": {"name": "crossrec-config"}} in env_from
    assert {"secretRef": {"name": "crossrec-secrets"}} in env_from


def test_probes_hit_health_and_ready_on_the_web_port() -> None:
    container = worker_container()
    data = k8s_object("ConfigMap", "crossrec-config")["data"]
    web_port = Settings.from_env(data).web_port
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports["web"] == web_port == 6066
    assert ports["metrics"] == Settings.from_env(data).metrics_port == 9464
    expected = {"startupProbe": "/health", "livenessProbe": "/health", "readinessProbe": "/ready"}
    for probe, path in expected.items():
        get = container[probe]["httpGet"]
        assert get["path"] == path, probe
        assert get["port"] in ("web", web_port), probe


def test_listen_host_lets_probes_reach_the_pod() -> None:
    data = k8s_object("ConfigMap", "crossrec-config")["data"]
    assert data["CROSSREC_LISTEN_HOST"] == "0.0.0.0"


def test_worker_keeps_its_snapshots_on_its_own_volume() -> None:
    sts = k8s_object("StatefulSet", "crossrec-worker")
    data_dir = k8s_object("ConfigMap", "crossrec-config")["data"]["CROSSREC_DATA_DIR"]
    claims = {c["metadata"]["name"] for c in sts["spec"]["volumeClaimTemplates"]}
    mounts = {m["name"]: m["mountPath"] for m in worker_container()["volumeMounts"]}
    assert "data" in claims and mounts["data"] == data_dir
    assert worker_container()["workingDir"] == data_dir  # Faust's data dir must be writable


def test_worker_resources_are_set() -> None:
    resources = worker_container()["resources"]
    assert resources["requests"]["cpu"] == "1"
    assert resources["requests"]["memory"] == "1536Mi"
    assert "memory" in resources["limits"]


def test_service_exposes_web_and_metrics_and_selects_the_worker_pods() -> None:
    sts = k8s_object("StatefulSet", "crossrec-worker")
    pod_labels = sts["spec"]["template"]["metadata"]["labels"]
    for name in ("crossrec-worker", sts["spec"]["serviceName"]):
        service = k8s_object("Service", name)
        assert {p["port"] for p in service["spec"]["ports"]} == {6066, 9464}
        assert service["spec"]["selector"].items() <= pod_labels.items()


def test_pdb_selects_the_worker_pods() -> None:
    pdb = k8s_object("PodDisruptionBudget", "crossrec-worker")
    pod_labels = k8s_object("StatefulSet", "crossrec-worker")["spec"]["template"]["metadata"][
        "labels"
    ]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    assert pdb["spec"]["maxUnavailable"] == 1


# --- runbook --------------------------------------------------------------------------------
_CITED = re.compile(r"(?<!-n )(?<![\w/.-])crossrec ([a-z]+)\b")


def runbook_command_lines() -> list[str]:
    """Every ``crossrec <command> ...`` written as code in the runbook, without comments.

    >>> _CITED.findall("kubectl -n crossrec logs x; crossrec up; /crossrec worker")
    ['up']
    """
    text = RUNBOOK.read_text()
    code: list[str] = []
    for block in re.findall(r"```(?:bash)?\n(.*?)```", text, re.S):
        code += block.splitlines()
    code += re.findall(r"(?<!`)`([^`\n]+)`(?!`)", re.sub(r"```.*?```", "", text, flags=re.S))
    lines = []
    for line in code:
        match = _CITED.search(line)
        if match:
            lines.append(line[match.start() :].split("#", 1)[0].strip())
    return lines


def test_runbook_commands_parse_with_the_real_cli() -> None:
    import shlex

    from streams.cli import build_parser

    lines = runbook_command_lines()
    cited = {shlex.split(line)[1] for line in lines}
    assert {"up", "worker", "kafka", "simulate", "replay", "report"} <= cited
    parser = build_parser()
    for line in lines:
        try:
            parser.parse_args(shlex.split(line)[1:])
        except SystemExit:
            pytest.fail(f"the runbook cites a command the CLI refuses: {line}")

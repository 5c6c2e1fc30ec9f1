"""Every setting crossrec has, read once from environment variables.

Each field names its variable and default below; `Settings.from_env()` is called once at
start-up and the resulting object is passed down — nothing else reads ``os.environ``.
Defaults point at the local services that ``crossrec up`` starts (Kafka on 127.0.0.1:9092,
ClickHouse HTTP on 127.0.0.1:8123), so a fresh checkout runs without any configuration.

>>> s = Settings.from_env({"CROSSREC_KAFKA_BOOTSTRAP": "k1:9092,k2:9092"})
>>> s.kafka_bootstrap
'k1:9092,k2:9092'
>>> s.topic_valid
'events.valid'
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent


class SettingsError(ValueError):
    """A setting has a value crossrec cannot use; the message names the variable."""


def _env(name: str, default: str, doc: str, *, secret: bool = False) -> Any:
    """Declare a setting: its environment variable, default and meaning live side by side.

    Secrets are kept out of ``repr`` so a logged Settings object never leaks them.
    """
    return field(repr=not secret, metadata={"env": name, "default": default, "doc": doc})


@dataclass(frozen=True)
class Settings:
    """crossrec's configuration. Build with :meth:`from_env`; fields are typed after parsing."""

    # --- Kafka -----------------------------------------------------------------------------
    kafka_bootstrap: str = _env(
        "CROSSREC_KAFKA_BOOTSTRAP", "127.0.0.1:9092", "Kafka bootstrap servers, comma separated."
    )
    kafka_security_protocol: str = _env(
        "CROSSREC_KAFKA_SECURITY_PROTOCOL",
        "PLAINTEXT",
        "PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL.",
    )
    kafka_sasl_mechanism: str = _env(
        "CROSSREC_KAFKA_SASL_MECHANISM", "", "SASL mechanism, e.g. SCRAM-SHA-512 (empty: none)."
    )
    kafka_sasl_username: str = _env("CROSSREC_KAFKA_SASL_USERNAME", "", "SASL user name.")
    kafka_sasl_password: str = _env(
        "CROSSREC_KAFKA_SASL_PASSWORD", "", "SASL password.", secret=True
    )
    kafka_ssl_cafile: str = _env(
        "CROSSREC_KAFKA_SSL_CAFILE", "", "CA bundle for TLS to Kafka (empty: system default)."
    )
    topic_in: str = _env("CROSSREC_TOPIC_IN", "events.in", "Raw events from apps and partners.")
    topic_valid: str = _env(
        "CROSSREC_TOPIC_VALID", "events.valid", "Validated, pseudonymised events keyed by user."
    )
    topic_recommendations: str = _env(
        "CROSSREC_TOPIC_RECOMMENDATIONS", "recommendations", "Recommendations out."
    )
    topic_dlq: str = _env(
        "CROSSREC_TOPIC_DLQ", "events.dlq", "Rejected input: original bytes plus the reason."
    )
    topic_partitions: int = _env(
        "CROSSREC_TOPIC_PARTITIONS", "4", "Partitions for topics crossrec creates."
    )
    app_id: str = _env(
        "CROSSREC_APP_ID", "crossrec", "Faust app id (consumer group and internal topic prefix)."
    )
    producer_linger_ms: int = _env(
        "CROSSREC_PRODUCER_LINGER_MS",
        "5",
        "How long the worker's producer waits to batch sends: 0 answers ~4 ms sooner per hop "
        "at light load, 5 carries ~20 % more events/s near capacity.",
    )
    # --- ClickHouse ------------------------------------------------------------------------
    clickhouse_url: str = _env(
        "CROSSREC_CLICKHOUSE_URL", "http://127.0.0.1:8123", "ClickHouse HTTP(S) interface."
    )
    clickhouse_user: str = _env("CROSSREC_CLICKHOUSE_USER", "default", "ClickHouse writer user.")
    clickhouse_password: str = _env(
        "CROSSREC_CLICKHOUSE_PASSWORD",
        "",
        "ClickHouse writer password (never in code).",
        secret=True,
    )
    clickhouse_database: str = _env(
        "CROSSREC_CLICKHOUSE_DATABASE", "crossrec", "ClickHouse database for crossrec's tables."
    )
    sink_batch_rows: int = _env(
        "CROSSREC_SINK_BATCH_ROWS", "500", "ClickHouse sink: flush after this many rows..."
    )
    sink_batch_seconds: float = _env(
        "CROSSREC_SINK_BATCH_SECONDS", "1.0", "...or after this many seconds, whichever first."
    )
    analyst_user: str = _env(
        "CROSSREC_ANALYST_USER", "crossrec_analyst", "Read-only ClickHouse user for analysts."
    )
    analyst_password: str = _env(
        "CROSSREC_ANALYST_PASSWORD",
        "analyst-local-change-me",
        "Password of the analyst user (set it in production).",
        secret=True,
    )
    k_anonymity: int = _env(
        "CROSSREC_K_ANONYMITY",
        "10",
        "Analyst views suppress groups with fewer distinct users than this.",
    )
    dp_epsilon: float = _env(
        "CROSSREC_DP_EPSILON",
        "1.0",
        "Privacy budget of the noisy (Laplace) views shared outside the team.",
    )
    # --- Learning and experiments -----------------------------------------------------------
    experiment: str = _env(
        "CROSSREC_EXPERIMENT",
        "ranker-v1:full=50,mf_only=25,popularity=25",
        "A/B experiment: name:strategy=weight,... (first = control); strategies: "
        "full, mf_only, popularity.",
    )
    label_window_s: float = _env(
        "CROSSREC_LABEL_WINDOW_S",
        "1800",
        "A click counts for an impression if it comes within this many seconds (event time).",
    )
    attribution_window_s: float = _env(
        "CROSSREC_ATTRIBUTION_WINDOW_S",
        "86400",
        "A purchase/order counts as converted from a recommendation within this window.",
    )
    recommend_on: str = _env(
        "CROSSREC_RECOMMEND_ON",
        "click,course_purchase,partner_order",
        "Event types that trigger a fresh recommendation, comma separated: any of click, "
        "course_purchase, partner_order (another name is refused at start).",
    )
    recommend_k: int = _env("CROSSREC_RECOMMEND_K", "10", "Items per recommendation.")
    never_reoffer: str = _env(
        "CROSSREC_NEVER_REOFFER",
        "course,restaurant_deal,fresh_food,food_delivery,fashion",
        "Domains whose items a user bought or ordered are never offered to them again, by "
        "any variant; comma separated (empty: anything bought may be offered again).",
    )
    debounce_s: float = _env(
        "CROSSREC_DEBOUNCE_S",
        "10",
        "After a recommendation, clicks by the same user within this many seconds "
        "(event time) do not trigger another one.",
    )
    snapshot_every_s: float = _env(
        "CROSSREC_SNAPSHOT_EVERY_S", "60", "How often the worker snapshots its models."
    )
    gc_freeze_every_s: float = _env(
        "CROSSREC_GC_FREEZE_EVERY_S",
        "10",
        "How often long-lived objects are moved out of the garbage collector's full passes "
        "(keeps GC pauses in milliseconds as the learner grows; 0: Python's default GC).",
    )
    gc_sweep_every_s: float = _env(
        "CROSSREC_GC_SWEEP_EVERY_S",
        "21600",
        "How often a full collection over everything (frozen included) looks for leaked "
        "cycles; it pauses the worker in proportion to its state (0: never).",
    )
    # --- Privacy ---------------------------------------------------------------------------
    pseudonym_key: str = _env(
        "CROSSREC_PSEUDONYM_KEY",
        "local-development-key-change-me",
        "Secret HMAC key that turns raw user ids into pseudonyms. Set it in production.",
        secret=True,
    )
    # --- Worker ----------------------------------------------------------------------------
    metrics_port: int = _env(
        "CROSSREC_METRICS_PORT", "9464", "Port of the Prometheus /metrics endpoint (0: off)."
    )
    web_port: int = _env("CROSSREC_WEB_PORT", "6066", "Port of the worker's web server.")
    listen_host: str = _env(
        "CROSSREC_LISTEN_HOST",
        "127.0.0.1",
        "Address the worker's web and metrics servers bind (0.0.0.0 in containers).",
    )
    data_dir: Path = _env(
        "CROSSREC_DATA_DIR",
        str(REPO_ROOT / "var"),
        "Where local services and the worker keep state (Kafka log, ClickHouse data, snapshots).",
    )
    local_kafka_port: int = _env(
        "CROSSREC_LOCAL_KAFKA_PORT", "9092", "Port of the local Kafka broker started by crossrec."
    )
    local_clickhouse_http_port: int = _env(
        "CROSSREC_LOCAL_CLICKHOUSE_HTTP_PORT", "8123", "HTTP port of the local ClickHouse."
    )
    local_clickhouse_tcp_port: int = _env(
        "CROSSREC_LOCAL_CLICKHOUSE_TCP_PORT", "9000", "Native TCP port of the local ClickHouse."
    )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read every setting once; unset variables take their documented default."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(f.metadata["env"], f.metadata["default"])
            values[f.name] = _parse(f.metadata["env"], f.type, raw)
        return cls(**values)

    @property
    def pseudonym_key_bytes(self) -> bytes:
        return self.pseudonym_key.encode()


def _parse(name: str, type_name: Any, raw: Any) -> Any:
    """Coerce a raw string to the field's type, naming the variable when it cannot."""
    if type_name in ("int", int):
        try:
            return int(raw)
        except (TypeError, ValueError) as exc:
            raise SettingsError(f"{name} must be an integer, got {raw!r}") from exc
    if type_name in ("float", float):
        try:
            return float(raw)
        except (TypeError, ValueError) as exc:
            raise SettingsError(f"{name} must be a number, got {raw!r}") from exc
    if type_name in ("Path", Path):
        return Path(raw)
    return str(raw)


def comma_list(raw: str) -> list[str]:
    """The entries of a comma-separated setting, stripped, empty ones dropped.

    >>> comma_list(" a, b,,c ")
    ['a', 'b', 'c']
    """
    return [part.strip() for part in raw.split(",") if part.strip()]


def documented_settings() -> list[tuple[str, str, str]]:
    """(variable, default, meaning) for every setting — the README table is built from this."""
    return [(f.metadata["env"], f.metadata["default"], f.metadata["doc"]) for f in fields(Settings)]

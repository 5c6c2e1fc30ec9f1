from __future__ import annotations

from pathlib import Path

import pytest

from streams.kafka_config import aiokafka_options, faust_broker_url, faust_credentials
from streams.settings import Settings, SettingsError, documented_settings


def test_defaults_point_at_the_local_services() -> None:
    s = Settings.from_env({})
    assert s.kafka_bootstrap == "127.0.0.1:9092"
    assert s.clickhouse_url == "http://127.0.0.1:8123"
    assert isinstance(s.metrics_port, int)
    assert isinstance(s.data_dir, Path)


def test_every_setting_is_documented_with_a_crossrec_variable() -> None:
    docs = documented_settings()
    assert len(docs) == len({env for env, _, _ in docs})
    for env, _, doc in docs:
        assert env.startswith("CROSSREC_")
        assert doc


def test_bad_integer_names_the_variable() -> None:
    with pytest.raises(SettingsError, match="CROSSREC_METRICS_PORT"):
        Settings.from_env({"CROSSREC_METRICS_PORT": "ninety"})


def test_secrets_stay_out_of_repr() -> None:
    s = Settings.from_env(
        {"CROSSREC_PSEUDONYM_KEY": "s3cret-key", "CROSSREC_CLICKHOUSE_PASSWORD": "pw-123"}
    )
    assert "s3cret-key" not in repr(s)
    assert "pw-123" not in repr(s)


def test_sasl_scram_over_tls_reaches_both_clients() -> None:
    s = Settings.from_env(
        {
            "CROSSREC_KAFKA_BOOTSTRAP": "a:9093,b:9093",
            "CROSSREC_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "CROSSREC_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
            "CROSSREC_KAFKA_SASL_USERNAME": "svc",
            "CROSSREC_KAFKA_SASL_PASSWORD": "pw",
        }
    )
    assert faust_broker_url(s) == "kafka://a:9093;kafka://b:9093"
    creds = faust_credentials(s)
    assert creds.username == "svc"
    assert creds.ssl_context is not None
    options = aiokafka_options(s)
    assert options["security_protocol"] == "SASL_SSL"
    assert options["sasl_mechanism"] == "SCRAM-SHA-512"


def test_sasl_without_mechanism_is_a_clear_error() -> None:
    s = Settings.from_env({"CROSSREC_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT"})
    with pytest.raises(SettingsError, match="CROSSREC_KAFKA_SASL_MECHANISM"):
        aiokafka_options(s)

"""Kafka connection options from settings, in the two shapes our clients want (Faust, aiokafka).

>>> from streams.settings import Settings
>>> faust_broker_url(Settings.from_env({"CROSSREC_KAFKA_BOOTSTRAP": "a:9092,b:9092"}))
'kafka://a:9092;kafka://b:9092'
"""

from __future__ import annotations

import ssl
from typing import Any

from streams.settings import Settings, SettingsError

_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")


def faust_broker_url(settings: Settings) -> str:
    hosts = [h.strip() for h in settings.kafka_bootstrap.split(",") if h.strip()]
    return ";".join(f"kafka://{h}" for h in hosts)


def _ssl_context(settings: Settings) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=settings.kafka_ssl_cafile or None)


def _check(settings: Settings) -> str:
    protocol = settings.kafka_security_protocol.upper()
    if protocol not in _PROTOCOLS:
        raise SettingsError(
            f"CROSSREC_KAFKA_SECURITY_PROTOCOL must be one of {', '.join(_PROTOCOLS)}, "
            f"got {settings.kafka_security_protocol!r}"
        )
    if protocol.startswith("SASL") and not settings.kafka_sasl_mechanism:
        raise SettingsError("CROSSREC_KAFKA_SASL_MECHANISM is required for SASL protocols")
    return protocol


def faust_credentials(settings: Settings) -> Any:
    """Faust's credentials object for SASL/SCRAM or TLS, or None for plaintext."""
    import faust

    protocol = _check(settings)
    if protocol == "PLAINTEXT":
        return None
    if protocol == "SSL":
        return faust.SSLCredentials(_ssl_context(settings))
    return faust.SASLCredentials(
        username=settings.kafka_sasl_username,
        password=settings.kafka_sasl_password,
        mechanism=settings.kafka_sasl_mechanism,
        ssl_context=_ssl_context(settings) if protocol == "SASL_SSL" else None,
    )


def aiokafka_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for AIOKafkaProducer/Consumer with the same security settings."""
    protocol = _check(settings)
    options: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap,
        "security_protocol": protocol,
    }
    if protocol in ("SSL", "SASL_SSL"):
        options["ssl_context"] = _ssl_context(settings)
    if protocol.startswith("SASL"):
        options["sasl_mechanism"] = settings.kafka_sasl_mechanism
        options["sasl_plain_username"] = settings.kafka_sasl_username
        options["sasl_plain_password"] = settings.kafka_sasl_password
    return options

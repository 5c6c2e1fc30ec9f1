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


def faust_app_options(settings: Settings) -> dict[str, Any]:
    """The ``faust.App`` options every crossrec Faust app shares (the worker, the bench's
    Faust floor): they set Faust's per-message cost, so a comparison must keep them equal.

    Raw bytes on every topic (the contract in ``schemas`` does the decoding, so a bad message
    reaches our code and the dead-letter topic instead of killing an agent); acks from all
    replicas; a 5 ms linger to batch sends. ``stream_wait_empty`` is off: Faust's wait_empty
    can spin forever on messages its flow control dropped from a ``take()`` buffer at
    shutdown (seen here: SIGTERM never finished), and everything downstream is replay-safe.
    """
    return {
        "broker": faust_broker_url(settings),
        "broker_credentials": faust_credentials(settings),
        "store": "memory://",
        "topic_replication_factor": 1,
        "key_serializer": "raw",
        "value_serializer": "raw",
        "consumer_auto_offset_reset": "earliest",
        "producer_acks": -1,
        "producer_max_request_size": 2_097_152,
        "producer_linger_ms": 5,
        "producer_max_batch_size": 262_144,
        "autodiscover": False,
        "stream_wait_empty": False,
    }


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

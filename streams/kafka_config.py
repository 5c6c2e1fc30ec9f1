"""Kafka connection options from settings, in the two shapes our clients want (Faust, aiokafka).

>>> from streams.settings import Settings
>>> faust_broker_url(Settings.from_env({"CROSSREC_KAFKA_BOOTSTRAP": "a:9092,b:9092"}))
'kafka://a:9092;kafka://b:9092'
"""

from __future__ import annotations

import ssl
from typing import Any

from streams.settings import Settings, SettingsError, comma_list

_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")


def faust_broker_url(settings: Settings) -> str:
    return ";".join(f"kafka://{h}" for h in comma_list(settings.kafka_bootstrap))


PRODUCER_MAX_REQUEST_BYTES = 2_097_152
"""The largest request the worker's producer sends (the local broker accepts 2 MiB messages)."""


def faust_app_options(settings: Settings) -> dict[str, Any]:
    """The ``faust.App`` options every crossrec Faust app shares (the worker, the bench's
    Faust floor): they set Faust's per-message cost, so a comparison must keep them equal.

    Raw bytes on every topic (the contract in ``schemas`` does the decoding, so a bad message
    reaches our code and the dead-letter topic instead of killing an agent); acks from all
    replicas; a linger of ``CROSSREC_PRODUCER_LINGER_MS`` (5 ms by default) to batch sends.
    Linger 0 vs 5, side by side (session 5, ``crossrec bench --items 10000 --events 20000
    --rates 500``, two alternating rounds, 2-core VM): the Faust floor answered a hop in 9.3 /
    7.4 ms instead of 13.6 / 13.2 ms at p50, but forwarded 2,330 / 3,542 instead of 4,250 /
    4,637 events/s; crossrec ran at 612 / 740 instead of 655 / 878 events/s, and at 500 ev/s
    (near its capacity here) answered in 60 / 74 ms instead of 37 / 41 ms at p50. Unbatched
    sends cost the broker and the worker CPU that the learner needs, so 5 stays the default.
    ``stream_wait_empty`` is off: Faust's wait_empty can spin forever on messages its flow
    control dropped from a ``take()`` buffer at shutdown (seen here: SIGTERM never finished),
    and everything downstream is replay-safe.

    Per-message cost (session 4, py-spy on the Faust floor, 2-core VM): asyncio's own machinery
    (task/future/handle creation, ``call_soon``, socket writes) dominates; the default Monitor
    sensor is ~3 % and Faust's settings barely move it. CPU µs per forwarded message in three
    alternating rounds: these options 163/159/173; with a no-op Monitor 188/160/165 (no gain);
    ``stream_buffer_maxsize=16384`` 172/161/178 (no gain); a 20 ms linger 160/142/155 (−5 %,
    but up to +15 ms per hop at low rates: not worth it). The gain is the event loop, see
    :func:`use_fast_event_loop`.
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
        "producer_max_request_size": PRODUCER_MAX_REQUEST_BYTES,
        "producer_linger_ms": settings.producer_linger_ms,
        "producer_max_batch_size": 262_144,
        "autodiscover": False,
        "stream_wait_empty": False,
    }


def use_fast_event_loop() -> bool:
    """Run Faust on uvloop when it is installed; return whether it is in use.

    Call it once in every Faust entry point, before the worker is created (it sets asyncio's
    event-loop policy for the process): the worker's ``run_worker`` and the bench's Faust floor,
    so the two stay equal. Not at import: tests that import the app keep their own loop.
    Why: most of Faust's per-message cost is asyncio itself — a task per message in the
    consumer's hand-off (``wait_first``), queue hops, futures, ``call_soon`` — and uvloop runs
    that machinery in C. Measured on the Faust floor (2-core VM, 40k events, three alternating
    rounds under load): CPU per forwarded message −3 %, −14 %, −18 % and ev/s 0.92x, 1.35x,
    1.40x of the asyncio loop in the same round; a second run, two rounds: −10 %, −19 % and
    1.11x, 1.23x (the bare aiokafka loop: ~18 µs per message, Faust ~150-185 µs). Delivery is
    unchanged: same consumer, same acks, same commit-after-flush. Without uvloop the standard
    asyncio loop is used.
    """
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return False
    import mode.loop

    mode.loop.use("uvloop")
    return True


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

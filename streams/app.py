"""The Faust app, its topics and shared state, declared once (agents live in streams.agents).

Every topic carries raw bytes: the contract in ``schemas`` does the (de)serialisation, so a
message Faust could not decode never exists — bad bytes reach our code and the dead-letter
topic with a reason instead of killing the agent.
"""

from __future__ import annotations

import faust

from streams.kafka_config import faust_broker_url, faust_credentials
from streams.settings import Settings

settings = Settings.from_env()

app = faust.App(
    settings.app_id,
    broker=faust_broker_url(settings),
    broker_credentials=faust_credentials(settings),
    store="memory://",
    datadir=str(settings.data_dir / "faust"),  # not the working directory (read-only in images)
    topic_partitions=settings.topic_partitions,
    topic_replication_factor=1,
    key_serializer="raw",
    value_serializer="raw",
    web_port=settings.web_port,
    web_host=settings.listen_host,
    consumer_auto_offset_reset="earliest",
    producer_acks=-1,
    producer_max_request_size=2_097_152,
    producer_linger_ms=5,
    producer_max_batch_size=262_144,
    autodiscover=False,
    # Faust's wait_empty can spin forever on messages its flow control dropped from a
    # take() buffer at shutdown (seen here: SIGTERM never finished). Everything downstream
    # is replay-safe, so shutdown commits what was acked and moves on.
    stream_wait_empty=False,
)


def _topic(name: str) -> faust.TopicT:
    return app.topic(
        name,
        key_type=bytes,
        value_type=bytes,
        partitions=settings.topic_partitions,
        allow_empty=True,
    )


events_in = _topic(settings.topic_in)
events_valid = _topic(settings.topic_valid)
recommendations = _topic(settings.topic_recommendations)
dead_letters = _topic(settings.topic_dlq)

"""The Faust app, its topics and shared state, declared once (agents live in streams.agents).

Every topic carries raw bytes: the contract in ``schemas`` does the (de)serialisation, so a
message Faust could not decode never exists — bad bytes reach our code and the dead-letter
topic with a reason instead of killing the agent.
"""

from __future__ import annotations

import faust

from streams.kafka_config import faust_app_options
from streams.outbox import DrainingApp
from streams.settings import Settings

settings = Settings.from_env()

# DrainingApp: a commit waits until Kafka has every message the agents handed over (see
# streams.outbox.DrainingProducer), so a crash never loses the output of a committed event.
app = DrainingApp(
    settings.app_id,
    **faust_app_options(settings),
    datadir=str(settings.data_dir / "faust"),  # not the working directory (read-only in images)
    topic_partitions=settings.topic_partitions,
    web_port=settings.web_port,
    web_host=settings.listen_host,
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

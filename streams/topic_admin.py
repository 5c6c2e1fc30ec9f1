"""Create crossrec's topics with the configured partition counts before the worker starts.

Faust creates only its internal topics; a source topic that does not exist yet when the
consumer subscribes is ignored ("Ignoring missing topic") until a rebalance, so the worker
makes sure all four exist first. Existing topics are left as they are.
"""

from __future__ import annotations

import asyncio
import logging

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from streams.kafka_config import aiokafka_options
from streams.settings import Settings

log = logging.getLogger(__name__)


def topic_names(settings: Settings) -> list[str]:
    return [
        settings.topic_in,
        settings.topic_valid,
        settings.topic_recommendations,
        settings.topic_dlq,
    ]


async def ensure_topics(settings: Settings, replication: int = 1) -> list[str]:
    """Create missing topics; return the names created."""
    admin = AIOKafkaAdminClient(**aiokafka_options(settings))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in topic_names(settings) if t not in existing]
        if missing:
            new = [NewTopic(t, settings.topic_partitions, replication) for t in missing]
            try:
                await admin.create_topics(new)
            except TopicAlreadyExistsError:
                log.info("topics were created concurrently by another worker")
        return missing
    finally:
        await admin.close()


def ensure_topics_sync(settings: Settings) -> list[str]:
    return asyncio.run(ensure_topics(settings))

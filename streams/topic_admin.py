"""Create crossrec's topics with the configured partition counts before the worker starts.

Faust creates only its internal topics; a source topic that does not exist yet when the
consumer subscribes is ignored ("Ignoring missing topic") until a rebalance, so the worker
makes sure all four exist first. Existing topics are left as they are, but an existing
events.valid must have ``CROSSREC_TOPIC_PARTITIONS`` partitions: ingestion copies catalogue
upserts and erasures to each of them by number, and a copy that misses a partition leaves
its worker without part of the catalogue, or holding an erased user.
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


class TopicLayoutError(RuntimeError):
    """An existing topic does not have the layout the settings describe."""


async def ensure_topics(settings: Settings, replication: int = 1) -> list[str]:
    """Create missing topics; return the names created. Raises :class:`TopicLayoutError`
    when an existing events.valid has another partition count than the settings."""
    admin = AIOKafkaAdminClient(**aiokafka_options(settings))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        if settings.topic_valid in existing:
            found = await _partition_count(admin, settings.topic_valid)
            if found and found != settings.topic_partitions:  # 0: no metadata yet, unknown
                raise TopicLayoutError(
                    f"topic {settings.topic_valid} has {found} partitions but "
                    f"CROSSREC_TOPIC_PARTITIONS is {settings.topic_partitions}: set it to "
                    f"{found} (catalogue and erasure copies must reach every partition)"
                )
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


async def _partition_count(admin: AIOKafkaAdminClient, topic: str) -> int:
    for described in await admin.describe_topics([topic]):
        if described.get("topic") == topic:
            return len(described.get("partitions") or ())
    return 0


def ensure_topics_sync(settings: Settings) -> list[str]:
    return asyncio.run(ensure_topics(settings))

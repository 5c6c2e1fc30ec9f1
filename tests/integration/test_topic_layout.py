"""The worker refuses an events.valid whose partition count differs from its settings
(catalogue upserts and erasures are copied to each partition by number), on the real Kafka."""

from __future__ import annotations

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from streams.local.kafka import LocalKafka
from streams.settings import Settings
from streams.topic_admin import TopicLayoutError, ensure_topics

pytestmark = pytest.mark.integration


async def test_an_events_valid_with_other_partitions_than_configured_is_refused(
    kafka: LocalKafka, unique: str
) -> None:
    env = {
        "CROSSREC_KAFKA_BOOTSTRAP": kafka.bootstrap,
        "CROSSREC_TOPIC_IN": f"{unique}.events.in",
        "CROSSREC_TOPIC_VALID": f"{unique}.events.valid",
        "CROSSREC_TOPIC_RECOMMENDATIONS": f"{unique}.recommendations",
        "CROSSREC_TOPIC_DLQ": f"{unique}.events.dlq",
        "CROSSREC_TOPIC_PARTITIONS": "2",
    }
    settings = Settings.from_env(env)
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka.bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(settings.topic_valid, 3, 1)])
    finally:
        await admin.close()
    with pytest.raises(TopicLayoutError, match="has 3 partitions but CROSSREC_TOPIC_PARTITIONS"):
        await ensure_topics(settings)

    matching = Settings.from_env({**env, "CROSSREC_TOPIC_PARTITIONS": "3"})
    created = await ensure_topics(matching)
    assert settings.topic_valid not in created and settings.topic_in in created

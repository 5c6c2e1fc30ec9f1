"""Where agents send what they produce — injected, so agent tests run without a broker.

In the worker, :class:`TopicOutbox` sends to Kafka through Faust's producer. Agent tests
(``agent.test_context()``) swap in :class:`RecordingOutbox` and read what would have been sent;
the agent code under test is the same.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

Headers = list[tuple[str, bytes]]

TRACE_HEADER = "produced_at_ns"
"""Set by producers (the simulator does) to the wall-clock ns of the original produce; carried
through to the recommendation so the benchmark measures event → recommendation latency."""

TRIGGER_HEADER = "trigger_type"
"""On recommendation messages: the event type that caused it (for analytics)."""


class Outbox(Protocol):
    async def send(
        self, topic: Any, key: bytes | None, value: bytes, headers: Headers | None = None
    ) -> None: ...


class TopicOutbox:
    """Sends through the Faust topic object (buffered, acknowledged by the producer)."""

    async def send(
        self, topic: Any, key: bytes | None, value: bytes, headers: Headers | None = None
    ) -> None:
        await topic.send(key=key, value=value, headers=headers)


@dataclass
class RecordingOutbox:
    """Keeps every message per topic name, for agent tests."""

    sent: dict[str, list[tuple[bytes | None, bytes, Headers | None]]] = field(default_factory=dict)

    async def send(
        self, topic: Any, key: bytes | None, value: bytes, headers: Headers | None = None
    ) -> None:
        self.sent.setdefault(topic.get_topic_name(), []).append((key, value, headers))

"""events.in → events.valid (pseudonymous, keyed by user) or events.dlq (bytes + reason).

The agent never raises on input: every message becomes exactly one outcome, valid or
dead-lettered, and it yields the outcome so tests can read ``agent.results``. A valid event is
one message on events.valid, except catalogue upserts and erasures: every worker needs those,
so a marked copy of each also goes to every partition (see
:attr:`streams.ingest.Accepted.to_every_partition`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from streams.app import app, dead_letters, events_in, events_valid, settings
from streams.dead_letter_size import fit
from streams.dedupe import RecentIds
from streams.headers import COPY_HEADER, TRACE_HEADER
from streams.ingest import Accepted, Ingestor, Rejected
from streams.metrics import DEAD_LETTERS, EVENTS_IN, EVENTS_VALID, PII_STRIPPED, STAGE_SECONDS
from streams.outbox import Outbox, TopicOutbox

log = logging.getLogger(__name__)

ingestor = Ingestor(settings.pseudonym_key_bytes, RecentIds())
outbox: Outbox = TopicOutbox(app)
_decode_seconds = STAGE_SECONDS.labels(stage="decode")


def dead_letter_headers(rejected: Rejected, message: Any) -> list[tuple[str, bytes]]:
    """Where the message came from and why it was refused, as Kafka headers."""
    return [
        ("error_code", rejected.code.encode()),
        ("error_reason", rejected.reason.encode("utf-8", "replace")[:2000]),
        ("source_topic", str(message.topic).encode()),
        ("source_partition", str(message.partition).encode()),
        ("source_offset", str(message.offset).encode()),
    ]


def _trace(headers: Any) -> list[tuple[str, bytes]] | None:
    """Carry the producer's timestamp header along, so latency is measured end to end."""
    items = headers.items() if isinstance(headers, dict) else (headers or [])
    kept = [(k, v) for k, v in items if k == TRACE_HEADER]
    return kept or None


async def _send_everywhere(outcome: Accepted, trace: list[tuple[str, bytes]] | None) -> None:
    """The event where its key sends it, then a marked copy on every partition of
    events.valid (see :attr:`Accepted.to_every_partition`)."""
    await outbox.send(events_valid, outcome.key, outcome.value, trace)
    copy = [*(trace or []), (COPY_HEADER, b"1")]
    for partition in range(events_valid.partitions or 1):
        await outbox.send(events_valid, outcome.key, outcome.value, copy, partition)


@app.agent(events_in)
async def ingest(stream: Any) -> AsyncIterator[Accepted | Rejected]:
    async for event in stream.events():
        EVENTS_IN.inc()
        started = time.perf_counter()
        outcome = ingestor.process(event.value, now=time.time())
        _decode_seconds.observe(time.perf_counter() - started)
        if isinstance(outcome, Accepted):
            EVENTS_VALID.labels(event_type=outcome.event.EVENT_TYPE).inc()
            for field in outcome.stripped_pii:
                PII_STRIPPED.labels(field=field).inc()
            trace = _trace(event.headers)
            if outcome.to_every_partition:
                await _send_everywhere(outcome, trace)
            else:
                await outbox.send(events_valid, outcome.key, outcome.value, trace)
        else:
            DEAD_LETTERS.labels(code=outcome.code).inc()
            log.info("dead-lettered a message: %s", outcome.code)
            headers = dead_letter_headers(outcome, event.message)
            key, value, headers = fit(event.key, event.value or b"", headers)
            await outbox.send(dead_letters, key, value, headers)
        yield outcome

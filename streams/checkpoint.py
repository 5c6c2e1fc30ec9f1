"""Model state that survives crashes: snapshot + the offsets it covers + catch-up replay.

A :class:`Checkpoint` is the whole learner (the :class:`RecommendationService`: models,
catalogue, consent, label join) together with, per partition of ``events.valid``, the offset
of the last event it has learnt. It is written with :mod:`online_models.snapshot` (versioned,
checked before unpickling, atomic rename).

Writing must not stall the event loop, so :func:`save_in_background` forks: the child owns a
copy-on-write image of the learner at that instant, pickles it and writes the file, while the
parent keeps consuming (the same trick as Redis' BGSAVE).

A checkpoint is only published (renamed to its final name) once every recommendation of the
events it holds is written to Kafka. Those events may not be committed yet, and a restarted
worker skips them; had a crash lost their output still in the producer, they would never be
answered. So the child writes an unpublished file, and the parent renames it once the writes
handed over before the fork are acknowledged. A child orphaned by a killed worker thus never
publishes either.

On start the worker loads the newest checkpoint and :func:`catch_up` replays ``events.valid``
from the checkpoint's offsets up to the consumer group's committed offsets, learning only
(those events' recommendations were already published). From there Faust resumes at the
committed offsets, so every event is learnt exactly once; events the checkpoint already holds
but that were not yet committed are skipped by offset in the agent.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from online_models import snapshot
from schemas import InvalidEvent, decode_event
from streams.kafka_config import aiokafka_options
from streams.recommend_service import RecommendationService
from streams.settings import Settings

log = logging.getLogger(__name__)

CHECKPOINT_FILE = "learner.snap"


@dataclass
class Checkpoint:
    service: RecommendationService
    topic: str
    offsets: dict[int, int] = field(default_factory=dict)
    """Partition → offset of the last event learnt."""
    taken_at: float = 0.0


def checkpoint_path(settings: Settings) -> Path:
    return settings.data_dir / "snapshots" / settings.app_id / CHECKPOINT_FILE


def load_checkpoint(path: Path) -> Checkpoint | None:
    """The checkpoint at ``path``, or None if there is none; a bad file is an error."""
    if not path.exists():
        return None
    return snapshot.load(path, expected=Checkpoint)


def set_aside_if_outdated(path: Path) -> Path | None:
    """Rename a snapshot written in another format version; return where it went, or None.

    A worker refuses such a file (the runbook: move it aside, the worker then replays
    ``events.valid``). ``crossrec up`` does that move for you, so the quick start keeps working
    after an upgrade; a corrupt or foreign file is still left for the worker to refuse.
    """
    try:
        with path.open("rb") as fh:
            head = fh.read(64 * 1024)
    except FileNotFoundError:
        return None
    try:
        snapshot.read_header(head)
    except snapshot.IncompatibleSnapshot:
        aside = path.with_name(f"{path.name}.{int(time.time())}.outdated")
        path.rename(aside)
        return aside
    except snapshot.SnapshotError:
        pass  # corrupt or not ours: for the worker to refuse, loudly
    return None


def save_now(checkpoint: Checkpoint, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    checkpoint.taken_at = time.time()
    snapshot.save(checkpoint, path)


_saving = asyncio.Lock()


async def save_in_background(
    checkpoint: Checkpoint, path: Path, outputs_written: Callable[[], Awaitable[None]]
) -> bool:
    """Fork; the child writes the snapshot of this instant, which is published once what
    ``outputs_written()`` (called just before the fork) awaits is done. True once published.

    ``outputs_written`` is the outbox's :meth:`~streams.outbox.Outbox.written`: no await
    separates learning an event from handing its output over, so the messages handed over
    before the fork are exactly those of the events in the image.
    """
    async with _saving:
        path.parent.mkdir(parents=True, exist_ok=True)
        written = outputs_written()
        pid = os.fork()
        if pid == 0:  # the child: no event loop, no logging, just write and leave
            code = 0
            try:
                save_now(checkpoint, _unpublished(path, os.getpid()))
            except BaseException:
                code = 1
            os._exit(code)
        unpublished = _unpublished(path, pid)
        try:
            await written
        except Exception as exc:
            log.error("not publishing the model snapshot: its events' output failed: %s", exc)
            ok = False
        else:
            ok = True
        _, status = await asyncio.to_thread(os.waitpid, pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            log.error("writing the model snapshot to %s failed", unpublished)
            ok = False
        if ok:
            os.replace(unpublished, path)
        discard_unpublished(path)
        return ok


def _unpublished(path: Path, pid: int) -> Path:
    return path.with_name(f".{path.name}.{pid}.unpublished")


def discard_unpublished(path: Path) -> None:
    """Delete snapshots of ``path`` never published and half-written temporary files (left by
    a killed worker or its orphaned child; an orphan still writing then fails to rename)."""
    for leftover in path.parent.glob(f".*{path.name}.*"):
        leftover.unlink(missing_ok=True)


COORDINATOR_WAIT_S = 30.0
"""How long :func:`committed_offsets` waits for a just-started broker to elect the group's
coordinator."""


async def committed_offsets(settings: Settings, topic: str) -> dict[int, int]:
    """The worker group's committed offset for each partition of ``topic`` that has one.

    Asked through the admin client: on a broker that has just started, the group coordinator
    is not elected yet, and the admin client raises that as an error we retry quietly,
    where a consumer's ``committed()`` logs an ERROR before retrying by itself. Partitions
    come from cluster metadata (an unsubscribed consumer's ``partitions_for_topic`` stays
    empty even after ``topics()`` in aiokafka 0.14)."""
    from aiokafka import TopicPartition
    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.errors import (
        GroupCoordinatorNotAvailableError,
        GroupLoadInProgressError,
        NotCoordinatorForGroupError,
    )

    admin = AIOKafkaAdminClient(**aiokafka_options(settings))
    await admin.start()
    try:
        described = await admin.describe_topics([topic])
        partitions = [
            TopicPartition(topic, p["partition"])
            for t in described
            if t["topic"] == topic
            for p in t["partitions"]
        ]
        deadline = time.monotonic() + COORDINATOR_WAIT_S
        while True:
            try:
                found = await admin.list_consumer_group_offsets(
                    settings.app_id, partitions=partitions
                )
                break
            except (
                GroupCoordinatorNotAvailableError,
                GroupLoadInProgressError,
                NotCoordinatorForGroupError,
            ):
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.1)
    finally:
        await admin.close()
    return {tp.partition: meta.offset for tp, meta in found.items() if meta.offset >= 0}


async def catch_up(checkpoint: Checkpoint, settings: Settings) -> int:
    """Learn the events between the checkpoint and the group's committed offsets."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    committed = await committed_offsets(settings, checkpoint.topic)
    consumer = AIOKafkaConsumer(
        group_id=settings.app_id, enable_auto_commit=False, **aiokafka_options(settings)
    )
    await consumer.start()
    replayed = 0
    try:
        for partition, end in sorted(committed.items()):
            tp = TopicPartition(checkpoint.topic, partition)
            start = checkpoint.offsets.get(partition, -1) + 1
            if end <= start:
                continue
            consumer.assign([tp])
            consumer.seek(tp, start)
            position = start
            while position < end:
                batch = await consumer.getmany(tp, timeout_ms=1000, max_records=1000)
                records = batch.get(tp, [])
                if not records:
                    break
                for record in records:
                    if record.offset >= end:
                        break
                    try:
                        checkpoint.service.handle(decode_event(record.value or b"").event)
                    except InvalidEvent:
                        log.error("skipping a bad message at offset %d", record.offset)
                    checkpoint.offsets[partition] = record.offset
                    replayed += 1
                position = records[-1].offset + 1
    finally:
        await consumer.stop()
    return replayed

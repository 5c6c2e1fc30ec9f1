"""Topic set-up and consumer-group lag, read from the broker (never from the worker).

Lag is ``end offset - committed offset`` of a consumer group, summed over the partitions of the
topics it reads. Faust's consumer group id equals the app id. A group commits periodically
(Faust every 2.8 s by default), so "lag reached zero" is an upper bound on when processing
ended; the benchmark uses output timestamps for the precise figure and lag for completion.

Several workers in one group rebalance as each joins; :meth:`KafkaProbe.wait_group_stable`
waits, before anything is measured, until the broker says all of them are members of a settled
group, so no phase measures a group that is still forming.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterable
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError


class BenchError(RuntimeError):
    """The benchmark cannot go on; the message says what failed and where to look."""


class KafkaProbe:
    """Admin client plus a group-less consumer, for offsets, lag and topic housekeeping."""

    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        self._admin = AIOKafkaAdminClient(**options)
        self._consumer = AIOKafkaConsumer(**options, enable_auto_commit=False, group_id=None)
        self._partitions: dict[str, list[TopicPartition]] = {}

    async def start(self) -> None:
        await self._admin.start()
        await self._consumer.start()

    async def stop(self) -> None:
        with contextlib.suppress(Exception):
            await self._consumer.stop()
        with contextlib.suppress(Exception):
            await self._admin.close()

    async def create_topics(self, names: Iterable[str], partitions: int) -> None:
        """Create the topics up front, so every partition exists before anyone measures."""
        new = [NewTopic(name, num_partitions=partitions, replication_factor=1) for name in names]
        await self._admin.create_topics(new)
        for topic in new:
            await self.partitions(topic.name)

    async def delete_topics(self, names: list[str]) -> None:
        with contextlib.suppress(Exception):
            await self._admin.delete_topics(names)

    async def partitions(self, topic: str, timeout: float = 30.0) -> list[TopicPartition]:
        """The topic's partitions, waiting for its metadata to appear."""
        if topic in self._partitions:
            return self._partitions[topic]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            await self._consumer._client.force_metadata_update()
            found = self._consumer.partitions_for_topic(topic)
            if found:
                tps = [TopicPartition(topic, p) for p in sorted(found)]
                self._partitions[topic] = tps
                return tps
            await asyncio.sleep(0.2)
        raise BenchError(f"topic {topic!r} has no metadata after {timeout:.0f} s")

    async def end_offsets(self, topics: Iterable[str]) -> dict[TopicPartition, int]:
        tps = [tp for topic in topics for tp in await self.partitions(topic)]
        ends = await self._consumer.end_offsets(tps)
        return {tp: int(offset) for tp, offset in ends.items()}

    async def lag(self, group_id: str, topics: Iterable[str]) -> int | None:
        """Messages the group has not committed yet, over all partitions of ``topics``.

        ``None`` when the broker cannot say right now (a retriable error).
        """
        topics = list(topics)
        try:
            committed = await self._admin.list_consumer_group_offsets(group_id)
        except KafkaError:
            return None  # e.g. the group coordinator is still being elected: ask again later
        ends = await self.end_offsets(topics)  # after the commits: never a negative lag
        total = 0
        for tp, end in ends.items():
            meta = committed.get(tp)
            done = meta.offset if meta is not None and meta.offset >= 0 else 0
            total += max(0, end - done)
        return total

    async def group_state(self, group_id: str) -> tuple[str, int] | None:
        """The group's state (``"Stable"``, ``"PreparingRebalance"``, ...) and member count.

        ``None`` when the broker cannot say right now (a retriable error).
        """
        try:
            [response] = await self._admin.describe_consumer_groups([group_id])
        except KafkaError:
            return None
        groups = response.to_object()["groups"]
        if len(groups) != 1 or groups[0]["error_code"]:
            return None
        return str(groups[0]["state"]), len(groups[0]["members"])

    async def wait_group_stable(
        self,
        group_id: str,
        members: int,
        timeout: float,
        alive: Callable[[], bool] = lambda: True,
        poll_s: float = 0.25,
    ) -> None:
        """Wait until the group is ``Stable`` with exactly ``members`` members twice in a row.

        Twice, because a member that joins right after a rebalance settles starts another one.
        Raises :class:`BenchError` when a process behind the group died (``alive`` returns
        False) or ``timeout`` passed first; the message gives the last state seen.
        """
        deadline = time.monotonic() + timeout
        seen: tuple[str, int] | None = None
        settled_once = False
        while time.monotonic() < deadline:
            if not alive():
                raise BenchError(f"a process of consumer group {group_id!r} exited")
            seen = await self.group_state(group_id)
            if seen == ("Stable", members):
                if settled_once:
                    return
                settled_once = True
            else:
                settled_once = False
            await asyncio.sleep(poll_s)
        raise BenchError(
            f"consumer group {group_id!r} did not settle with {members} members in "
            f"{timeout:.0f} s (last seen: {seen or 'no answer'})"
        )

    async def wait_drained(
        self,
        group_id: str,
        topics: list[str],
        timeout: float,
        alive: Callable[[], bool] = lambda: True,
        poll_s: float = 0.2,
    ) -> float | None:
        """Wait until the group's lag is 0 twice in a row; return that ``time.time()``.

        Twice, because output sent by one stage reaches the next stage's topic a moment
        after the first stage commits. ``None`` when ``timeout`` passed first. Raises when the
        process behind the group died (``alive`` returns False).
        """
        deadline = time.monotonic() + timeout
        first_zero: float | None = None
        while time.monotonic() < deadline:
            if not alive():
                raise BenchError(f"the process of consumer group {group_id!r} exited")
            now = time.time()
            if await self.lag(group_id, topics) == 0:
                if first_zero is not None:
                    return first_zero
                first_zero = now
            else:
                first_zero = None
            await asyncio.sleep(poll_s)
        return None

"""The one place crossrec writes to ClickHouse: batched inserts that are retried, never dropped.

Used from inside a ``stream.take()`` loop body: ``write`` returns only once ClickHouse has the
rows, so the batch's offsets are acknowledged after the data is durable (DESIGN.md: an
exception escaping the body could still ack the batch, so failures are retried *here*). While
ClickHouse is unreachable the agent waits — back-pressure on the consumer, no unbounded buffer —
and the worker reports itself degraded. Replays are harmless: tables are ReplacingMergeTree on
deterministic ids, and each insert carries a deduplication token derived from its rows.

Shutdown. Faust stops an agent by *cancelling* it, possibly in the middle of a write, and
``take()`` acknowledges the batch on the way out whatever happened to it; a cancelled insert
is aborted by ClickHouse (measured: 0 rows). So an operation that has started is finished
before a cancellation goes on (:func:`finish_despite_cancel`, bounded by ``finish_on_cancel_s``
for when ClickHouse is down). ``close`` never cuts an operation in progress: the client is
closed once the last one ends, and an operation that starts after ``close`` (a straggler
batch or timer) still lands, on a client closed as soon as it is done — no aiohttp session is
ever left open ("Unclosed client session" at worker exit).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from streams.metrics import SINK_DEGRADED, SINK_FAILURES, SINK_ROWS
from streams.settings import Settings

log = logging.getLogger(__name__)

T = TypeVar("T")


async def connect(settings: Settings) -> Any:
    """An async clickhouse-connect client for the writer user and crossrec's database."""
    import clickhouse_connect

    return await clickhouse_connect.get_async_client(
        dsn=settings.clickhouse_url,
        username=settings.clickhouse_user,
        password=settings.clickhouse_password,
        database=settings.clickhouse_database,
        connect_timeout=5,
        send_receive_timeout=30,
    )


class ClickHouseWriter:
    """Writes batches to tables; ``degraded`` while any kind of write is failing."""

    def __init__(
        self, settings: Settings, max_backoff_s: float = 5.0, finish_on_cancel_s: float = 5.0
    ) -> None:
        self.settings = settings
        self.max_backoff_s = max_backoff_s
        self.finish_on_cancel_s = finish_on_cancel_s
        self._failing: set[str] = set()
        self._client: Any = None
        self._connecting = asyncio.Lock()  # several agents share one writer
        self._in_progress = 0  # operations started and not yet ended
        self._closed = False

    async def write(self, table: str, columns: Sequence[str], rows: list[list[Any]]) -> None:
        """Insert ``rows``; on failure retry with capped back-off until it succeeds."""
        if not rows:
            return
        settings = {"insert_deduplication_token": _dedup_token(table, rows)}
        await self._until_done(
            f"write to {table}",
            lambda client: client.insert(
                table, rows, column_names=list(columns), settings=settings
            ),
        )
        SINK_ROWS.labels(table=table).inc(len(rows))

    async def erase_users(self, users: Sequence[str], tables: Sequence[str]) -> None:
        """Delete every row of these pseudonymous users (right to be forgotten), retried
        like inserts. Lightweight deletes: rows vanish from queries at once, from disk at
        the next merge."""
        parameters = {"users": list(users)}
        for table in tables:
            sql = f"DELETE FROM {table} WHERE user_id IN {{users:Array(String)}}"
            await self._until_done(
                f"erasure in {table}",
                lambda client, sql=sql: client.command(sql, parameters=parameters),  # type: ignore[misc]
            )

    async def erase_answers_until(self, table: str, user: str, until_ts: float) -> None:
        """Delete ``user``'s recommendation rows answering events up to ``until_ts`` (epoch
        seconds): the second pass of an erasure, which keeps what a returning user did later."""
        sql = (
            f"DELETE FROM {table} WHERE user_id = {{user:String}} "
            "AND event_ts <= fromUnixTimestamp64Milli({until:Int64}, 'UTC')"
        )
        parameters = {"user": user, "until": int(until_ts * 1000)}
        await self._until_done(
            f"erasure in {table}",
            lambda client: client.command(sql, parameters=parameters),
        )

    async def _until_done(self, what: str, action: Callable[[Any], Awaitable[Any]]) -> None:
        self._in_progress += 1
        try:
            await finish_despite_cancel(self._retried(what, action), self.finish_on_cancel_s)
        finally:
            self._in_progress -= 1
            if self._closed and not self._in_progress:
                await self._reset()

    async def _retried(self, what: str, action: Callable[[Any], Awaitable[Any]]) -> None:
        backoff = 0.1
        while True:
            try:
                await action(await self._connected())
            except Exception as exc:
                SINK_FAILURES.inc()
                if what not in self._failing:
                    log.warning("ClickHouse %s failed, retrying: %s", what, exc)
                self._mark(what, failing=True)
                await self._reset()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.max_backoff_s)
                continue
            if what in self._failing:
                log.warning("ClickHouse %s succeeded again: recovered", what)
                self._mark(what, failing=False)
            return

    async def _connected(self) -> Any:
        async with self._connecting:
            if self._client is None:
                self._client = await connect(self.settings)
            return self._client

    async def close(self) -> None:
        """Close the client now if idle, else once the operations in progress have ended.

        Closing is not refusing: a write that arrives later still lands (its rows may already
        be on their way to an acknowledgement) and closes its own client when done.
        """
        self._closed = True
        if not self._in_progress:
            await self._reset()

    @property
    def degraded(self) -> bool:
        """True while any table's writes (or erasures) keep failing: one healthy table does
        not mask another that is down."""
        return bool(self._failing)

    def _mark(self, what: str, failing: bool) -> None:
        if failing:
            self._failing.add(what)
        else:
            self._failing.discard(what)
        SINK_DEGRADED.set(1 if self._failing else 0)

    async def _reset(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            try:
                await client.close()
            except Exception:
                log.debug("closing a failed ClickHouse client raised", exc_info=True)


async def finish_despite_cancel(work: Awaitable[T], grace_s: float) -> T:
    """Await ``work``; if the caller is cancelled meanwhile, let ``work`` finish first (for at
    most ``grace_s`` seconds, then cancel it too) and only then let the cancellation go on.

    For I/O whose completion something else relies on — rows a stream will acknowledge
    anyway, an erasure a user asked for. The result is lost to a cancelled caller, so the
    work must have its effect by itself.

    >>> async def slow() -> str:
    ...     await asyncio.sleep(0.05)
    ...     done.append("written")
    ...     return "ok"
    >>> async def cancelled_midway() -> list[str]:
    ...     caller = asyncio.ensure_future(finish_despite_cancel(slow(), grace_s=1.0))
    ...     await asyncio.sleep(0.01)
    ...     caller.cancel()
    ...     try:
    ...         await caller
    ...     except asyncio.CancelledError:
    ...         done.append("cancelled")
    ...     return done
    >>> done: list[str] = []
    >>> asyncio.run(cancelled_midway())
    ['written', 'cancelled']
    """
    job = asyncio.ensure_future(work)
    try:
        return await asyncio.shield(job)
    except asyncio.CancelledError:
        try:
            await asyncio.wait_for(asyncio.shield(job), grace_s)
        except TimeoutError:
            log.warning("gave up finishing a ClickHouse operation after %.1f s", grace_s)
        finally:
            if not job.done():
                job.cancel()
        raise


def _dedup_token(table: str, rows: list[list[Any]]) -> str:
    """Same rows → same token, so a replayed insert is recognised by ClickHouse."""
    digest = hashlib.sha256(table.encode())
    for row in rows:
        digest.update(repr(row[0]).encode())
    return digest.hexdigest()[:32]

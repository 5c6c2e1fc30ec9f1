"""The ingestion step as a pure function: raw bytes in, an outcome out — never an exception.

decode + validate (``schemas``) → strip personal data → de-duplicate by ``event_id`` →
pseudonymise ``user_id`` with a keyed HMAC. The agent in :mod:`streams.agents.ingest` only
routes the outcome: :class:`Accepted` to ``events.valid`` keyed by the pseudonym, anything
else to the dead-letter topic with its code and reason. Keeping it pure means the hostile
cases are tested here, with hypothesis, without a broker.
"""

from __future__ import annotations

from dataclasses import dataclass

from schemas import (
    Event,
    Forget,
    InvalidEvent,
    ItemUpsert,
    decode_event,
    encode_event,
    pseudonymise,
    with_user,
)
from streams.dedupe import RecentIds


@dataclass(frozen=True, slots=True)
class Accepted:
    """A valid event, pseudonymised and encoded for ``events.valid``.

    ``to_every_partition``: a catalogue upsert or an erasure. ``events.valid`` is keyed by
    user so that each worker learns the users of its partitions, but every worker needs the
    whole catalogue, and an erasure must reach every worker that may hold the user (one that
    owned the user's partition before a rebalance still does, in its model and checkpoint).
    The agent writes such an event as any other, plus a marked copy to every partition.
    Learners apply an upsert once (by ``event_id``) and every copy of an erasure (it is
    idempotent, and the copy on the user's own partition comes after the user's earlier
    events there, whichever copy arrived first)."""

    key: bytes
    value: bytes
    event: Event
    stripped_pii: tuple[str, ...]
    to_every_partition: bool = False


@dataclass(frozen=True, slots=True)
class Rejected:
    """Why a message cannot go on: a short ``code`` (a metric label) and a readable reason."""

    code: str
    reason: str


class Ingestor:
    """Turns raw messages into outcomes; holds only the de-duplication window as state."""

    def __init__(self, pseudonym_key: bytes, dedupe: RecentIds, max_bytes: int = 65536) -> None:
        self.pseudonym_key = pseudonym_key
        self.dedupe = dedupe
        self.max_bytes = max_bytes

    def process(self, raw: bytes | None, now: float) -> Accepted | Rejected:
        if raw is None:
            return Rejected("empty", "message has no value")
        try:
            decoded = decode_event(raw, max_bytes=self.max_bytes)
        except InvalidEvent as exc:
            return Rejected(exc.code, exc.reason)
        except Exception as exc:  # the decoder promises InvalidEvent only; never trust that
            return Rejected("internal_error", f"decoder failed: {type(exc).__name__}: {exc}")
        event = decoded.event
        if self.dedupe.check_and_add(event.event_id, now):
            return Rejected("duplicate", f"event_id {event.event_id!r} was already ingested")
        if isinstance(event, ItemUpsert):
            key = b"item:" + event.item_id.encode()
        else:
            pseudonym = pseudonymise(self.pseudonym_key, event.user_id)
            event = with_user(event, pseudonym)
            key = pseudonym.encode()
        everywhere = isinstance(event, ItemUpsert | Forget)
        return Accepted(key, encode_event(event), event, decoded.stripped_pii, everywhere)

"""The messages the benchmark sends, generated up front from the simulator.

Generating events costs CPU (~25k events/s here); doing it before the worker starts keeps the
generator out of the measurement. The dict behind each message is dropped to keep memory at
the payload size (a 100k catalogue plus traffic is ~250k messages).

The drain batch ends with a few *sentinel* clicks by users seen nowhere else: each fresh user
gets a cold-start recommendation, and with enough of them every partition of events.valid
carries one, so the last recommendation marks the end of processing precisely.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import orjson

from simulator.payload import Emitted, encode_all
from simulator.traffic import Traffic
from simulator.world import World

SENTINELS = 32


@dataclass(frozen=True)
class Workload:
    """Catalogue upserts, one batch to drain at full speed, and one batch per fixed rate."""

    items: int
    catalogue: list[Emitted]
    drain: list[Emitted]
    paced: list[list[Emitted]]


def _lean(message: Emitted) -> Emitted:
    return Emitted(message.payload, message.key, None, None)


def _sentinels(last_event: dict[str, object], item_id: str, tag: str) -> list[Emitted]:
    out = []
    for i in range(SENTINELS):
        user = f"bench-sentinel-{tag}-{i:03d}"
        event = {
            "event_id": f"ev-sentinel-{tag}-{i:03d}",
            "event_type": "click",
            "ts": last_event["ts"],
            "user_id": user,
            "schema_version": 1,
            "item_id": item_id,
            "surface": "home",
        }
        out.append(Emitted(orjson.dumps(event), user.encode(), None, None))
    return out


def build_workload(
    items: int, users: int, drain_events: int, paced_counts: list[int], seed: int = 0
) -> Workload:
    """Catalogue of ``items`` upserts, then ``drain_events`` (+ sentinels), then paced batches.

    >>> w = build_workload(items=20, users=10, drain_events=30, paced_counts=[5, 7])
    >>> len(w.catalogue), len(w.drain), [len(b) for b in w.paced]
    (20, 62, [5, 7])
    """
    world = World(seed=seed, n_users=users, n_items=items)
    stream = iter(Traffic(world, seed=seed, catalogue=True))
    catalogue = [_lean(m) for m in encode_all(itertools.islice(stream, items))]
    raw_drain = list(itertools.islice(stream, drain_events))
    drain = [_lean(m) for m in encode_all(raw_drain)]
    if raw_drain:
        drain.extend(_sentinels(raw_drain[-1], world.item_ids[0], tag=f"{seed}-{items}"))
    paced = [[_lean(m) for m in encode_all(itertools.islice(stream, n))] for n in paced_counts]
    return Workload(items=items, catalogue=catalogue, drain=drain, paced=paced)

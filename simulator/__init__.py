"""Cross-domain traffic simulator with ground truth.

- :mod:`simulator.world` — catalogue, users with latent cross-domain tastes, true click and
  purchase probabilities;
- :mod:`simulator.traffic` — the event stream in wire format, and ``respond`` for closed-loop
  evaluation of a recommender against the truth;
- :mod:`simulator.hostile` — payloads the decoder must reject, and the mixer;
- :mod:`simulator.ledger` — an independent count of what was emitted;
- :mod:`simulator.output` — JSONL and Kafka sinks;
- :mod:`simulator.command` — the ``crossrec simulate`` sub-command.
"""

from simulator.hostile import HOSTILE_KINDS, REPLAYED_ID, hostile_payloads, mix_hostile
from simulator.ledger import Ledger, recount
from simulator.payload import Emitted, encode, encode_all
from simulator.traffic import Traffic
from simulator.world import DOMAINS, THEMES, World

__all__ = [
    "DOMAINS",
    "HOSTILE_KINDS",
    "REPLAYED_ID",
    "THEMES",
    "Emitted",
    "Ledger",
    "Traffic",
    "World",
    "encode",
    "encode_all",
    "hostile_payloads",
    "mix_hostile",
    "recount",
]

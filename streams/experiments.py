"""A/B experiments: which strategy a user sees, decided by a stable hash of the pseudonym.

An experiment is declared as ``name:variant=weight,variant=weight`` (setting
``CROSSREC_EXPERIMENT``), e.g. ``ranker-v1:full=50,mf_only=25,popularity=25``. The first variant
is the control. Assignment hashes ``name/pseudonym`` so it is stable across restarts, workers
and replays, independent between experiments, and never needs the raw user id.

>>> exp = Experiment.parse("ranker-v1:full=50,popularity=50")
>>> exp.control
'full'
>>> exp.assign("p:0123456789abcdef0123456789abcdef") in {"full", "popularity"}
True
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from streams.settings import SettingsError

STRATEGIES = ("full", "mf_only", "popularity")


@dataclass(frozen=True)
class Experiment:
    name: str
    variants: tuple[tuple[str, int], ...]

    @classmethod
    def parse(cls, spec: str) -> Experiment:
        name, sep, body = spec.partition(":")
        if not sep or not name.strip():
            raise SettingsError(
                f"CROSSREC_EXPERIMENT must look like 'name:full=50,popularity=50', got {spec!r}"
            )
        variants = []
        for part in body.split(","):
            variant, eq, weight = part.strip().partition("=")
            if not eq or variant not in STRATEGIES or not weight.isdigit() or int(weight) <= 0:
                raise SettingsError(
                    f"CROSSREC_EXPERIMENT variant {part.strip()!r} must be STRATEGY=WEIGHT with "
                    f"STRATEGY in {', '.join(STRATEGIES)} and a positive integer weight"
                )
            variants.append((variant, int(weight)))
        if len({v for v, _ in variants}) != len(variants):
            raise SettingsError(f"CROSSREC_EXPERIMENT names a variant twice: {spec!r}")
        return cls(name.strip(), tuple(variants))

    @property
    def control(self) -> str:
        return self.variants[0][0]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(v for v, _ in self.variants)

    def assign(self, pseudonym: str) -> str:
        digest = hashlib.sha256(f"{self.name}/{pseudonym}".encode()).digest()
        point = int.from_bytes(digest[:8], "big") % sum(w for _, w in self.variants)
        for variant, weight in self.variants:
            if point < weight:
                return variant
            point -= weight
        raise AssertionError("unreachable: weights cover the range")

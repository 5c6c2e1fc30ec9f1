"""Which of the three replay formats a file is in, and reading it.

Formats: ``csv`` and ``jsonl`` interaction logs (:func:`online_models.replay.read_events`)
and ``events``, the ``events.in`` wire format (:mod:`online_models.replay_wire`).

``auto`` decides in two steps. JSON Lines or CSV: by the suffix (``.jsonl``, ``.ndjson``,
``.json`` -> JSON Lines; ``.csv`` -> CSV); any other suffix is JSON Lines if one of the
first lines parses as a JSON object, else CSV (so ``crossrec simulate --output sim.out``
works). Then, for JSON Lines, the first line that parses as a JSON object decides between
interaction records and wire events (:func:`online_models.replay.looks_like_wire`); lines
before it that are not JSON objects (hostile payloads) are passed over. Only the first
:data:`SNIFF_LINES` lines are looked at.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal, cast

from online_models.replay import ReplayEvent, ReplayInputError, looks_like_wire, read_events
from online_models.replay_wire import WireInput, read_wire
from online_models.types import ItemInfo

Format = Literal["csv", "jsonl", "events"]
FORMATS: Final[tuple[str, ...]] = ("auto", "csv", "jsonl", "events")
SNIFF_LINES: Final = 1000
_JSON_SUFFIXES: Final = frozenset({".jsonl", ".ndjson", ".json"})


@dataclass(frozen=True, slots=True)
class ReplayInput:
    """What :func:`online_models.replay.replay` needs, plus how the file was read."""

    format: Format
    events: list[ReplayEvent]
    catalogue_updates: list[tuple[float, ItemInfo]] = field(default_factory=list)
    wire: WireInput | None = None
    """The wire reader's counts (``format == "events"`` only)."""


def _first_object(path: Path) -> dict[str, Any] | None:
    with path.open("rb") as fh:
        for n, line in enumerate(fh):
            if n >= SNIFF_LINES:
                break
            try:
                obj = json.loads(line)
            except (ValueError, RecursionError):  # also bad UTF-8 (UnicodeDecodeError)
                continue
            if isinstance(obj, dict):
                return obj
    return None


def detect_format(path: Path) -> Format:
    """The format ``auto`` chooses for ``path`` (see the module docstring)."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    first = _first_object(path)
    if suffix not in _JSON_SUFFIXES and first is None:
        return "csv"
    return "events" if first is not None and looks_like_wire(first) else "jsonl"


def read_input(path: Path, fmt: str = "auto") -> ReplayInput:
    """Read ``path`` in format ``fmt`` (one of :data:`FORMATS`); raises ``ReplayInputError``
    (or ``OSError``) when it cannot be read as one."""
    if fmt not in FORMATS:
        raise ReplayInputError(f"unknown format {fmt!r}")
    chosen = detect_format(path) if fmt == "auto" else cast(Format, fmt)
    if chosen == "events":
        wire = read_wire(path)
        return ReplayInput("events", wire.events, wire.catalogue_updates, wire)
    return ReplayInput(chosen, read_events(path, chosen))

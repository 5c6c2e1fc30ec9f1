"""Hostile payloads: what a careless or malicious producer sends to ``events.in``.

Every kind except ``replayed_id`` violates the wire contract (/work/briefs/wire.md) and must
be rejected by the decoder with a reason.  ``replayed_id`` is a byte-identical copy of an
earlier *valid* event: it decodes fine and has to be caught by de-duplication on
``event_id``, so it is marked distinctly and the ledger does not count it as a new event.

No payload contains a raw newline, so a JSONL file keeps one payload per line.

>>> from itertools import islice
>>> kinds = [k for _, k in islice(hostile_payloads(seed=1), 200)]
>>> sorted(set(kinds)) == sorted(k for k in HOSTILE_KINDS if k != "replayed_id")
True
"""

from __future__ import annotations

import json
import random
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from simulator.payload import Emitted, Event

REPLAYED_ID = "replayed_id"
HOSTILE_KINDS: tuple[str, ...] = (
    "malformed_json",
    "not_an_object",
    "wrong_type",
    "missing_field",
    "huge_payload",
    "deep_nesting",
    "unknown_event_type",
    "invalid_utf8",
    "lone_surrogate",
    "nul_byte",
    "control_char",
    "bool_for_int",
    "nan",
    "bad_schema_version",
    "long_string",
    "bad_timestamp",
    "bad_value",
    REPLAYED_ID,
)

_REQUIRED: dict[str, tuple[str, ...]] = {
    "click": ("item_id", "surface"),
    "course_purchase": ("course_id", "price", "currency"),
    "partner_order": ("partner_id", "domain", "item_ids", "amount", "currency"),
    "impression": ("rec_id", "item_ids", "positions", "surface"),
    "item": ("item_id", "domain", "title", "tags", "price", "active"),  # partner_id optional
    "consent": ("personalisation",),
    "forget": (),
}
_COMMON = ("event_id", "event_type", "ts", "user_id", "schema_version")
_ID_FIELDS = ("event_id", "user_id", "item_id", "course_id", "partner_id", "rec_id")


def _dumps(obj: Any) -> bytes:
    """Compact JSON; NaN/Infinity and lone surrogates pass through as escapes."""
    return json.dumps(obj, separators=(",", ":"), allow_nan=True).encode()


def _template(rng: random.Random, event_type: str | None = None) -> Event:
    """A valid event of a random (or given) type, the raw material for mutations."""
    et = event_type or rng.choice(list(_REQUIRED))
    ev: Event = {
        "event_id": f"ev-hostile-{rng.getrandbits(64):016x}",
        "event_type": et,
        "ts": f"2026-11-29T10:{rng.randrange(60):02d}:{rng.randrange(60):02d}.000Z",
        "user_id": f"user-{rng.randrange(1_000_000):06d}",
        "schema_version": 1,
    }
    n = rng.randrange(1000)
    if et == "click":
        ev.update(item_id=f"course-{n:06d}", surface="home", rec_id="rec-1", position=2)
    elif et == "course_purchase":
        ev.update(course_id=f"course-{n:06d}", price=49.99, currency="EUR")
    elif et == "partner_order":
        ev.update(
            partner_id="partner-fresh_food-001",
            domain="fresh_food",
            item_ids=[f"fresh_food-{n:06d}"],
            amount=23.5,
            currency="EUR",
        )
    elif et == "impression":
        ev.update(
            rec_id="rec-2",
            item_ids=[f"course-{n:06d}", f"fashion-{n:06d}"],
            positions=[0, 1],
            surface="home",
        )
    elif et == "item":
        del ev["user_id"]
        ev.update(
            item_id=f"fashion-{n:06d}",
            domain="fashion",
            partner_id="partner-fashion-001",
            title="Vintage style collection",
            tags=["style", "vintage"],
            price=45.0,
            active=True,
        )
    elif et == "consent":
        ev["personalisation"] = False
    return ev


def _string_fields(ev: Event) -> list[str]:
    return [k for k, v in ev.items() if isinstance(v, str) and k not in ("event_type", "ts")]


def _malformed_json(rng: random.Random) -> bytes:
    raw = _dumps(_template(rng))
    variant = rng.randrange(6)
    if variant == 0:
        return raw[: rng.randrange(len(raw) - 1)]  # a proper prefix of an object is invalid
    if variant == 1:
        return raw + b"}"
    if variant == 2:
        return raw.replace(b'"', b"'")
    if variant == 3:
        return raw[:-1] + b",}"
    if variant == 4:
        return raw.replace(b",", b" ", 1)
    return b"event_type=click&user_id=user-000001"


def _not_an_object(rng: random.Random) -> bytes:
    return rng.choice([b"[]", b'"click"', b"42", b"null", b"true", b"", b"   ", b"[{}]"])


def _wrong_type(rng: random.Random) -> bytes:
    options: list[tuple[str, str, Any]] = [
        ("course_purchase", "price", "49.99"),
        ("partner_order", "item_ids", "fresh_food-000001"),
        ("partner_order", "amount", [23.5]),
        ("click", "user_id", 123456),
        ("click", "ts", 1_795_946_400),
        ("click", "position", "3"),
        ("click", "item_id", 17),
        ("item", "tags", "style,vintage"),
        ("item", "active", "true"),
        ("item", "price", {"value": 45}),
        ("consent", "personalisation", "false"),
        ("impression", "positions", "0,1"),
        ("impression", "item_ids", {"0": "course-000001"}),
        ("forget", "event_id", 99),
        ("course_purchase", "schema_version", "1"),
    ]
    et, field, value = rng.choice(options)
    ev = _template(rng, et)
    ev[field] = value
    return _dumps(ev)


def _missing_field(rng: random.Random) -> bytes:
    ev = _template(rng)
    et = ev["event_type"]
    fields = [f for f in (*_COMMON, *_REQUIRED[et]) if f in ev]
    del ev[rng.choice(fields)]
    return _dumps(ev)


def _huge_payload(rng: random.Random) -> bytes:
    ev = _template(rng)
    ev["notes"] = ["x" * 1000] * (66 + rng.randrange(40))
    return _dumps(ev)


def _deep_nesting(rng: random.Random) -> bytes:
    ev = _template(rng)
    depth = rng.randrange(9, 200)
    inner: Any = "deep"
    for i in range(depth):
        inner = [inner] if i % 2 else {"k": inner}
    ev["meta"] = inner
    return _dumps(ev)


def _unknown_event_type(rng: random.Random) -> bytes:
    ev = _template(rng, "click")
    ev["event_type"] = rng.choice(["like", "purchase", "CLICK", "", "Click ", "view", None])
    return _dumps(ev)


def _invalid_utf8(rng: random.Random) -> bytes:
    ev = _template(rng)
    marker = "@@BAD@@"
    field = rng.choice(_string_fields(ev))
    ev[field] = ev[field] + marker
    bad = rng.choice([b"\xff", b"\xc3\x28", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf8\x88\x80\x80"])
    return _dumps(ev).replace(marker.encode(), bad)


def _lone_surrogate(rng: random.Random) -> bytes:
    ev = _template(rng)
    field = rng.choice(_string_fields(ev))
    ev[field] = ev[field] + rng.choice(["\ud800", "\udc00", "\udfff"])
    return _dumps(ev)  # json.dumps escapes it as \udXXX: valid JSON syntax, invalid text


def _nul_byte(rng: random.Random) -> bytes:
    ev = _template(rng)
    if rng.random() < 0.5:
        field = rng.choice([f for f in _ID_FIELDS if f in ev])
        ev[field] = ev[field] + "\x00"  # escaped \u0000 inside an id: a control character
        return _dumps(ev)
    field = rng.choice(_string_fields(ev))
    marker = "@@NUL@@"
    ev[field] = ev[field] + marker
    return _dumps(ev).replace(marker.encode(), b"\x00")  # raw NUL: not even valid JSON


def _control_char(rng: random.Random) -> bytes:
    ev = _template(rng)
    field = rng.choice([f for f in _ID_FIELDS if f in ev])
    ev[field] = ev[field] + rng.choice(["\n", "\t", "\x1b", "\x7f", "\r"])
    return _dumps(ev)


def _bool_for_int(rng: random.Random) -> bytes:
    options = [
        ("click", "position", True),
        ("click", "schema_version", True),
        ("course_purchase", "price", False),
        ("partner_order", "amount", True),
        ("impression", "positions", [True, False]),
        ("item", "price", True),
    ]
    et, field, value = rng.choice(options)
    ev = _template(rng, et)
    ev[field] = value
    return _dumps(ev)


def _nan(rng: random.Random) -> bytes:
    options = [("course_purchase", "price"), ("partner_order", "amount"), ("item", "price")]
    et, field = rng.choice(options)
    ev = _template(rng, et)
    ev[field] = rng.choice([float("nan"), float("inf"), float("-inf")])
    return _dumps(ev)


def _bad_schema_version(rng: random.Random) -> bytes:
    ev = _template(rng)
    ev["schema_version"] = rng.choice([0, 2, 99, -1, 1.5])
    return _dumps(ev)


def _long_string(rng: random.Random) -> bytes:
    ev = _template(rng)
    if ev["event_type"] == "item" and rng.random() < 0.5:
        ev["title"] = "T" * rng.randrange(301, 1000)  # over the 300-char title limit
    else:
        field = rng.choice(_string_fields(ev))
        ev[field] = "x" * rng.randrange(1025, 4000)
    return _dumps(ev)


def _bad_timestamp(rng: random.Random) -> bytes:
    ev = _template(rng)
    ev["ts"] = rng.choice(
        [
            "2026-11-29T10:00:00",  # no timezone
            "2026-11-29T10:00:00.123",
            "yesterday",
            "2026-13-45T10:00:00Z",
            "29/11/2026 10:00",
            "",
            "2026-11-29T25:61:00Z",
        ]
    )
    return _dumps(ev)


def _bad_value(rng: random.Random) -> bytes:
    mutations: list[tuple[str, Callable[[Event], None]]] = [
        ("course_purchase", lambda e: e.update(price=-5.0)),
        ("course_purchase", lambda e: e.update(currency="eur")),
        ("course_purchase", lambda e: e.update(currency="EURO")),
        ("partner_order", lambda e: e.update(domain="groceries")),
        ("partner_order", lambda e: e.update(domain="course")),
        ("partner_order", lambda e: e.update(item_ids=[])),
        ("partner_order", lambda e: e.update(item_ids=[f"fresh_food-{i:06d}" for i in range(51)])),
        ("partner_order", lambda e: e.update(amount=-0.01)),
        ("impression", lambda e: e.update(positions=[0])),
        ("impression", lambda e: e.update(positions=[0, -1])),
        ("impression", lambda e: e.update(item_ids=[], positions=[])),
        (
            "impression",
            lambda e: e.update(
                item_ids=[f"course-{i:06d}" for i in range(101)], positions=list(range(101))
            ),
        ),
        ("click", lambda e: e.update(position=-1)),
        ("click", lambda e: e.update(item_id="")),
        ("item", lambda e: e.update(domain="books")),
        ("item", lambda e: e.update(tags=[f"t{i}" for i in range(33)])),
        ("item", lambda e: e.update(price=-1)),
        ("forget", lambda e: e.update(user_id="")),
        ("click", lambda e: e.update(event_id="")),
        ("click", lambda e: e.update(event_id="e" * 129)),
        ("consent", lambda e: e.update(personalisation=None)),
        ("click", lambda e: e.__delitem__("user_id")),
    ]
    et, mutate = rng.choice(mutations)
    ev = _template(rng, et)
    mutate(ev)
    return _dumps(ev)


_MAKERS: dict[str, Callable[[random.Random], bytes]] = {
    "malformed_json": _malformed_json,
    "not_an_object": _not_an_object,
    "wrong_type": _wrong_type,
    "missing_field": _missing_field,
    "huge_payload": _huge_payload,
    "deep_nesting": _deep_nesting,
    "unknown_event_type": _unknown_event_type,
    "invalid_utf8": _invalid_utf8,
    "lone_surrogate": _lone_surrogate,
    "nul_byte": _nul_byte,
    "control_char": _control_char,
    "bool_for_int": _bool_for_int,
    "nan": _nan,
    "bad_schema_version": _bad_schema_version,
    "long_string": _long_string,
    "bad_timestamp": _bad_timestamp,
    "bad_value": _bad_value,
}


def hostile_payloads(
    seed: int, *, previous: Sequence[bytes] | None = None
) -> Iterator[tuple[bytes, str]]:
    """Endless deterministic stream of ``(payload, kind)``.

    ``previous`` is a (possibly growing) sequence of valid payloads already sent; when it is
    non-empty, ``replayed_id`` copies one of them byte for byte.  Without it that kind is
    skipped, since a replay of something never sent is not a replay.
    """
    rng = random.Random(f"hostile-{seed}")
    while True:
        kind = rng.choice(HOSTILE_KINDS)
        if kind == REPLAYED_ID:
            if previous:
                yield previous[rng.randrange(len(previous))], kind
            continue
        payload = _MAKERS[kind](rng)
        yield payload.replace(b"\n", b"\\n").replace(b"\r", b"\\r"), kind


def mix_hostile(
    valid: Iterable[Emitted], fraction: float, seed: int, *, replay_window: int = 1_000
) -> Iterator[Emitted]:
    """Interleave hostile payloads into a valid stream, deterministically.

    Each output message is hostile with probability ``fraction`` (0 ≤ fraction < 1);
    the valid messages keep their order.  Replays copy one of the last ``replay_window``
    valid payloads, with the original key, as a producer retry would.
    """
    if not 0.0 <= fraction < 1.0:
        raise ValueError("fraction must be in [0, 1)")
    rng = random.Random(f"mix-{seed}")
    recent: deque[Emitted] = deque(maxlen=replay_window)
    hostile = hostile_payloads(seed)
    replay_share = 1.0 / len(HOSTILE_KINDS)
    for message in valid:
        while fraction and rng.random() < fraction:
            if recent and rng.random() < replay_share:
                original = recent[rng.randrange(len(recent))]
                yield Emitted(original.payload, original.key, REPLAYED_ID, None)
            else:
                payload, kind = next(hostile)
                yield Emitted(payload, None, kind, None)
        recent.append(message)
        yield message

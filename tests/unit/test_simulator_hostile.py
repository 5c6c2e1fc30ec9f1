"""The hostile generator and the mixer: coverage, determinism, proportions, order."""

from __future__ import annotations

import itertools

import pytest

from simulator.hostile import HOSTILE_KINDS, REPLAYED_ID, hostile_payloads, mix_hostile
from simulator.payload import encode_all
from simulator.traffic import Traffic
from simulator.world import World


def _valid(n: int, seed: int = 1):  # type: ignore[no-untyped-def]
    traffic = Traffic(World(seed=seed, n_users=200, n_items=100), seed=seed)
    return itertools.islice(encode_all(traffic), n)


def test_hostile_stream_is_deterministic_and_seed_dependent() -> None:
    a = list(itertools.islice(hostile_payloads(7), 500))
    b = list(itertools.islice(hostile_payloads(7), 500))
    c = list(itertools.islice(hostile_payloads(8), 500))
    assert a == b
    assert a != c


def test_size_and_depth_attacks_exceed_the_limits() -> None:
    sizes: list[int] = []
    for payload, kind in itertools.islice(hostile_payloads(1), 2_000):
        if kind == "huge_payload":
            sizes.append(len(payload))
        if kind == "deep_nesting":
            assert payload.count(b"[") + payload.count(b"{") > 9
    assert sizes and min(sizes) > 64 * 1024


def test_raw_byte_attacks_really_contain_the_bytes() -> None:
    found = {"invalid_utf8": 0, "nul_byte": 0, "lone_surrogate": 0}
    for payload, kind in itertools.islice(hostile_payloads(2), 3_000):
        if kind == "invalid_utf8":
            with pytest.raises(UnicodeDecodeError):
                payload.decode("utf-8")
            found[kind] += 1
        elif kind == "nul_byte":
            assert b"\x00" in payload or b"\\u0000" in payload
            found[kind] += 1
        elif kind == "lone_surrogate":
            assert b"\\ud" in payload
            found[kind] += 1
    assert all(found.values()), found


@pytest.mark.parametrize("fraction", [0.0, 0.05, 0.3])
def test_mixer_hits_the_fraction_and_keeps_valid_order(fraction: float) -> None:
    valid = list(_valid(6_000))
    mixed = list(mix_hostile(iter(valid), fraction, seed=3))
    passed = [m for m in mixed if m.kind is None]
    assert passed == valid  # every valid message, once, in order
    hostile = len(mixed) - len(passed)
    share = hostile / len(mixed)
    assert share == pytest.approx(fraction, abs=0.015)


def test_mixer_is_deterministic_and_replays_earlier_valid_payloads() -> None:
    a = list(mix_hostile(_valid(4_000), 0.1, seed=9))
    b = list(mix_hostile(_valid(4_000), 0.1, seed=9))
    assert a == b
    sent: dict[bytes, bytes | None] = {}
    replays = 0
    kinds: set[str] = set()
    for m in a:
        if m.kind is None:
            sent[m.payload] = m.key
        elif m.kind == REPLAYED_ID:
            assert m.payload in sent  # byte-identical copy of something already sent
            assert m.event is None and m.key == sent[m.payload]  # same key as the original
            replays += 1
        else:
            kinds.add(m.kind)
            assert m.key is None and m.event is None
    assert replays > 5
    assert kinds == set(HOSTILE_KINDS) - {REPLAYED_ID}


def test_mixer_rejects_a_fraction_of_one() -> None:
    with pytest.raises(ValueError, match="fraction"):
        next(mix_hostile(_valid(10), 1.0, seed=1))

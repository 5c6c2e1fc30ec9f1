"""Pseudonyms: keyed HMAC-SHA256, 'p:' + 32 hex chars, stable and key-dependent."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas import is_pseudonym, pseudonymise

KEY = b"0123456789abcdef0123456789abcdef"


# Lone surrogates (Cs) never come off the wire: the decoder rejects them.
@given(st.text(st.characters(codec="utf-8"), min_size=1, max_size=128))
def test_matches_the_documented_formula(user_id: str) -> None:
    raw = user_id.encode("utf-8")
    expected = "p:" + hmac.new(KEY, raw, hashlib.sha256).hexdigest()[:32]
    assert pseudonymise(KEY, user_id) == expected
    assert is_pseudonym(expected)


def test_stable_per_key_and_different_across_keys_and_users() -> None:
    assert pseudonymise(KEY, "u1") == pseudonymise(KEY, "u1")
    assert pseudonymise(KEY, "u1") != pseudonymise(KEY, "u2")
    assert pseudonymise(KEY, "u1") != pseudonymise(KEY[::-1], "u1")


def test_is_pseudonym_is_exact() -> None:
    good = pseudonymise(KEY, "u1")
    assert is_pseudonym(good)
    near_misses = [good.upper(), good[:-1], good + "0", good + "\n", "q" + good[1:]]
    for bad in ["u1", "p:" + "g" * 32, *near_misses]:
        assert not is_pseudonym(bad), bad


def test_an_empty_key_is_refused() -> None:
    with pytest.raises(ValueError, match="key"):
        pseudonymise(b"", "u1")

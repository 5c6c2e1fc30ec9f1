"""A dead letter always fits the producer's budget; one that fits is left exactly as is."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

import streams.dead_letter_size
from streams.dead_letter_size import fit, size

header = st.tuples(st.text(max_size=12), st.binary(max_size=40))


@given(
    st.none() | st.binary(max_size=300),
    st.binary(max_size=600),
    st.lists(header, max_size=2),  # the agent's headers are bounded and far below the budget
    st.integers(300, 800),
)
def test_fits_the_budget_and_keeps_what_fits(
    key: bytes | None, value: bytes, headers: list[tuple[str, bytes]], budget: int
) -> None:
    got_key, got_value, got_headers = fit(key, value, headers, budget)
    if size(key, value, headers) <= budget:
        assert (got_key, got_value, got_headers) == (key, value, headers)
        return
    assert size(got_key, got_value, got_headers) <= budget
    assert got_headers[:-1] == headers  # the reasons are kept, the note comes last
    assert got_headers[-1] == ("truncated", f"key={len(key or b'')} value={len(value)}".encode())
    assert value.startswith(got_value) and (key or b"").startswith(got_key or b"")
    assert (got_key is None) == (key is None)


def test_docstring_examples() -> None:
    import doctest

    assert doctest.testmod(streams.dead_letter_size).failed == 0

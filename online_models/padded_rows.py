"""Fixed-width mirror of a CSR token matrix, so a request gathers many rows in one op.

Why
---
:class:`online_models.content.ContentSimilarity` stores each item's tokens in flat CSR
arrays (``start`` / ``length`` per row, a weight per slot). Scoring ~1,500 reached rows
straight from CSR needs ``cumsum`` / ``repeat`` / ``arange`` to build positions, two
gathers from scattered memory and two ``reduceat`` calls. Items carry few tokens (domain,
partner, 1-3 tags), and a token's weight depends only on its kind (tag, domain, partner),
so a ``rows x width`` matrix of token ids padded with an empty slot, plus one weight per
token, serves the same rows with one gather of one cache line per row.

Layout
------
- ``tokens[row, j]`` is the ``j``-th token id of ``row`` **plus one**; ``0`` marks an empty
  slot. Per-token vectors are laid out the same way (entry ``0`` for the empty slot, token
  ``t`` at ``t + 1``), so an empty slot reads a neutral value with no mask.
- ``token_weight[t + 1]`` is token ``t``'s weight; ``uniform`` stays True while every slot
  of a token has carried that same weight (it can only differ if the owner's weight
  parameters were changed after items were stored); callers must not use the mirror
  otherwise.
- ``width`` grows with the longest row, up to :data:`MAX_WIDTH`; a longer row keeps only
  its first ``width`` slots here and ``overflow`` tells callers that rows with
  ``length > width`` exist and must be scored another way.

Memory: ``4 x width`` bytes per row of capacity (20 bytes for the 5 tokens of a partner
item with 3 tags, at most 32) and 8 bytes per token.

Sums are taken in the order ``np.add.reduceat`` uses for a segment of at most
:data:`MAX_WIDTH` values, ``a0 + (((a1 + a2) + a3) + ...)``, so results are bit-identical to
the CSR computation (empty slots add exact zeros at the end).

>>> rows = PaddedRows.from_csr(
...     np.array([0, 2]), np.array([2, 1]), np.array([4, 7, 9]), np.array([1.0, 0.5, 2.0]), 2
... )
>>> rows.width, rows.tokens[:2].tolist(), rows.token_weight[[5, 8, 10]].tolist(), rows.uniform
(2, [[5, 8], [10, 0]], [1.0, 0.5, 2.0], True)
>>> row_sums(np.array([[1.0, 2.0], [3.0, 0.0]])).tolist()
[4.0, 2.0]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

__all__ = ["MAX_WIDTH", "PaddedRows", "csr_positions", "row_sums"]

MAX_WIDTH = 8
"""Widest mirrored row: ``reduceat`` sums at most 8 values one by one (pairwise beyond)."""

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


def csr_positions(starts: IntArray, lengths: IntArray) -> tuple[IntArray, IntArray]:
    """Flat positions of the CSR segments ``[start, start + length)`` laid end to end, and
    the offset of each segment in that concatenation (for ``np.add.reduceat``).

    >>> positions, offsets = csr_positions(np.array([5, 0]), np.array([2, 3]))
    >>> positions.tolist(), offsets.tolist()
    ([5, 6, 0, 1, 2], [0, 2])
    """
    ends = np.cumsum(lengths)
    offsets = ends - lengths
    total = int(ends[-1]) if ends.shape[0] else 0
    positions = np.repeat(starts - offsets, lengths) + np.arange(total)
    return positions, offsets


def row_sums(columns: FloatArray) -> FloatArray:
    """Sums over the first (slot) axis of a ``width x ...`` array, added as
    ``np.add.reduceat`` adds a segment of at most :data:`MAX_WIDTH` values: the first, plus
    the sequential sum of the rest."""
    first: FloatArray = columns[0]
    if columns.shape[0] == 1:
        return first.copy()
    # A reduction over the outer axis adds whole slices one after another (no pairwise
    # summation: that only happens along the innermost axis), so rest = ((a1 + a2) + a3)...
    rest: FloatArray = np.add.reduce(columns[1:], axis=0)
    return first + rest


class PaddedRows:
    """Each row's first ``width`` tokens (shifted by one), and each token's weight."""

    def __init__(self, width: int, capacity: int) -> None:
        self.width = width
        self.overflow = False
        self.uniform = True
        self.tokens = np.zeros((capacity, width), dtype=np.int32)
        self.token_weight = np.zeros(64, dtype=np.float64)

    @classmethod
    def from_csr(
        cls,
        start: IntArray,
        length: IntArray,
        flat_token: IntArray,
        flat_weight: FloatArray,
        n_rows: int,
    ) -> PaddedRows:
        """Mirror the first ``n_rows`` rows of a CSR layout."""
        lengths = length[:n_rows]
        longest = int(lengths.max()) if n_rows else 1
        padded = cls(min(MAX_WIDTH, max(1, longest)), max(64, n_rows))
        padded.overflow = longest > padded.width
        starts = start[:n_rows]
        for j in range(padded.width):
            has = np.flatnonzero(lengths > j)
            padded.tokens[has, j] = flat_token[starts[has] + j] + 1
        # Every live slot, not only the mirrored ones, decides the token weights.
        live, _ = csr_positions(starts, lengths)
        shifted = flat_token[live] + 1
        size = int(shifted.max()) + 1 if shifted.shape[0] else 1
        padded.token_weight = np.zeros(max(64, size), dtype=np.float64)
        padded.token_weight[shifted] = flat_weight[live]
        padded.uniform = bool((padded.token_weight[shifted] == flat_weight[live]).all())
        return padded

    def set_row(self, row: int, tokens: Sequence[int], weights: Sequence[float]) -> None:
        """Replace ``row``'s slots (growing capacity or width as needed)."""
        if row >= self.tokens.shape[0]:
            self._resize(self.width, max(row + 1, 2 * self.tokens.shape[0]))
        if len(tokens) > self.width:
            if self.width < MAX_WIDTH:
                self._resize(min(MAX_WIDTH, len(tokens)), self.tokens.shape[0])
            self.overflow = self.overflow or len(tokens) > self.width
        size = min(len(tokens), self.width)
        self.tokens[row] = 0
        self.tokens[row, :size] = np.asarray(tokens[:size], dtype=np.int64) + 1
        for token, weight in zip(tokens, weights, strict=True):
            self._set_weight(token + 1, weight)

    def _set_weight(self, shifted: int, weight: float) -> None:
        if shifted >= self.token_weight.shape[0]:
            bigger = np.zeros(max(shifted + 1, 2 * self.token_weight.shape[0]))
            bigger[: self.token_weight.shape[0]] = self.token_weight
            self.token_weight = bigger
        known = float(self.token_weight[shifted])
        if known == 0.0:  # stored weights are positive: 0.0 means "not seen yet"
            self.token_weight[shifted] = weight
        elif known != weight:
            self.uniform = False

    def _resize(self, width: int, capacity: int) -> None:
        tokens = np.zeros((capacity, width), dtype=np.int32)
        old_capacity, old_width = self.tokens.shape
        tokens[:old_capacity, :old_width] = self.tokens
        self.width, self.tokens = width, tokens

    def shifted_weights(self, n_tokens: int) -> FloatArray:
        """Weights of tokens ``0 .. n_tokens - 1`` laid out like :attr:`tokens` (entry 0 for
        the empty slot)."""
        if n_tokens + 1 > self.token_weight.shape[0]:
            self._set_weight(n_tokens, 0.0)  # grows the vector; 0.0 stays "not seen yet"
        weights: FloatArray = self.token_weight[: n_tokens + 1]
        return weights

    @property
    def nbytes(self) -> int:
        """Bytes held by the mirror."""
        return int(self.tokens.nbytes + self.token_weight.nbytes)

"""Summarise closed-loop runs over several seeds: mean, spread, and wins against a baseline.

Why: the closed loop is chaotic — one served list changes the traffic that follows — so a
single run can put any strategy ahead (popularity's ground-truth recall@10 ranged 0.010–0.064
over six seeds). Strategies are compared on means over seeds, each run serving every variant
side by side, with the count of seeds in which a variant beat the baseline.

>>> runs = [
...     {"seed": 1, "variants": {"full": {"ctr": 0.2}, "popularity": {"ctr": 0.1}}},
...     {"seed": 2, "variants": {"full": {"ctr": 0.3}, "popularity": {"ctr": 0.1}}},
... ]
>>> s = summarise(runs, metrics=("ctr",), baseline="popularity")
>>> s["full"]["ctr"]["mean"], s["full"]["ctr"]["vs_baseline"], s["full"]["ctr"]["wins"]
(0.25, 2.5, 2)
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any


def summarise(
    runs: Sequence[dict[str, Any]], metrics: Sequence[str], baseline: str | None
) -> dict[str, dict[str, dict[str, float]]]:
    """Per variant and metric: ``mean``, ``sd`` (0 for one run), ``min``, ``max``; with a
    ``baseline`` variant present, also ``vs_baseline`` (ratio of the means) and ``wins``
    (runs in which the variant scored higher than the baseline)."""
    variants = list(runs[0]["variants"]) if runs else []
    out: dict[str, dict[str, dict[str, float]]] = {}
    for variant in variants:
        out[variant] = {}
        for metric in metrics:
            values = [float(run["variants"][variant][metric]) for run in runs]
            row = {
                "mean": round(statistics.fmean(values), 5),
                "sd": round(statistics.stdev(values), 5) if len(values) > 1 else 0.0,
                "min": min(values),
                "max": max(values),
            }
            if baseline in runs[0]["variants"] and variant != baseline:
                base = [float(run["variants"][baseline][metric]) for run in runs]
                mean_base = statistics.fmean(base)
                row["vs_baseline"] = round(row["mean"] / mean_base, 3) if mean_base else 0.0
                row["wins"] = sum(v > b for v, b in zip(values, base, strict=True))
            out[variant][metric] = row
    return out


def parse_seeds(text: str) -> list[int]:
    """``"1-3,7"`` → ``[1, 2, 3, 7]``.

    >>> parse_seeds("1-3,7")
    [1, 2, 3, 7]
    """
    seeds: list[int] = []
    for part in text.split(","):
        first, _, last = part.strip().partition("-")
        seeds.extend(range(int(first), int(last or first) + 1))
    if not seeds:
        raise ValueError("no seeds given")
    return seeds

"""Small statistics for the benchmark: latency percentiles and rates.

Percentiles use linear interpolation between closest ranks (numpy's default), so p50 of
an even-length sample is the mean of the two middle values.

>>> summary = latency_summary([1_000_000, 2_000_000, 3_000_000, 4_000_000])
>>> summary["count"], summary["p50"], summary["max"]
(4, 2.5, 4.0)
>>> latency_summary([])["count"]
0
>>> rate(1000, 0.5)
2000.0
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

PERCENTILES: tuple[int, ...] = (50, 95, 99)


def latency_summary(latencies_ns: Sequence[int]) -> dict[str, float | int | None]:
    """Count, p50/p95/p99, mean and max of latencies given in ns, reported in milliseconds.

    An empty sample gives ``None`` for every figure: "not measured" must not look like 0 ms.
    """
    summary: dict[str, float | int | None] = {"count": len(latencies_ns)}
    if not latencies_ns:
        summary.update({f"p{p}": None for p in PERCENTILES})
        summary.update(mean=None, max=None)
        return summary
    ms = np.asarray(latencies_ns, dtype=np.float64) / 1e6
    for p, value in zip(PERCENTILES, np.percentile(ms, PERCENTILES), strict=True):
        summary[f"p{p}"] = round(float(value), 3)
    summary["mean"] = round(float(ms.mean()), 3)
    summary["max"] = round(float(ms.max()), 3)
    return summary


def rate(count: int, seconds: float) -> float | None:
    """Events per second, or ``None`` when the window is empty (one event has no rate)."""
    if seconds <= 0:
        return None
    return round(count / seconds, 1)


def ratio(ours: float | None, bare: float | None) -> float | None:
    """``ours / bare`` rounded to 3 digits; ``None`` when either side was not measured.

    >>> ratio(500.0, 2000.0)
    0.25
    >>> ratio(None, 2000.0) is None
    True
    """
    if ours is None or bare is None or bare == 0:
        return None
    return round(ours / bare, 3)

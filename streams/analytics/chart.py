"""CTR and conversion over time per variant, as one self-contained HTML file (inline SVG).

No plotting library and no network: the file opens anywhere and can be attached to a ticket.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape

from streams.analytics.queries import TimelinePoint

_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#17becf")
_W, _H, _PAD_L, _PAD_R, _PAD_T, _PAD_B = 720, 260, 60, 150, 30, 40


def ctr(p: TimelinePoint) -> float | None:
    return p.clicks / p.impressions if p.impressions else None


def conversion(p: TimelinePoint) -> float | None:
    return p.converting_users / p.users if p.users else None


def render_html(points: Sequence[TimelinePoint], title: str = "crossrec A/B over time") -> str:
    """The whole page: one panel for CTR, one for conversion rate, a line per variant."""
    panels = [
        _panel(points, "CTR (clicks / impressions)", ctr),
        _panel(points, "Conversion rate (converting users / users)", conversion),
    ]
    body = "\n".join(panels) if points else "<p>No data (or every bucket was suppressed).</p>"
    return (
        "<!DOCTYPE html>\n<html><head><meta charset='utf-8'>"
        f"<title>{escape(title)}</title>"
        "<style>body{font-family:sans-serif;margin:2em}svg{display:block;margin-bottom:2em}"
        "</style></head><body>"
        f"<h1>{escape(title)}</h1>\n{body}\n"
        "<p>Each point is a time bucket of served recommendations (their later clicks and "
        "conversions count in the bucket of the recommendation).</p></body></html>\n"
    )


def _panel(
    points: Sequence[TimelinePoint],
    label: str,
    metric: Callable[[TimelinePoint], float | None],
) -> str:
    buckets = sorted({p.bucket for p in points})
    index = {b: i for i, b in enumerate(buckets)}
    variants = sorted({p.variant for p in points})
    series: dict[str, list[tuple[int, float]]] = {v: [] for v in variants}
    for p in sorted(points, key=lambda q: (q.variant, index[q.bucket])):
        value = metric(p)
        if value is not None:
            series[p.variant].append((index[p.bucket], value))
    top = max((v for s in series.values() for _, v in s), default=0.0) or 1.0
    plot_w, plot_h = _W - _PAD_L - _PAD_R, _H - _PAD_T - _PAD_B
    span = max(len(buckets) - 1, 1)

    def xy(i: int, v: float) -> str:
        return f"{_PAD_L + plot_w * i / span:.1f},{_PAD_T + plot_h * (1 - v / top):.1f}"

    parts = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{_W}' height='{_H}' role='img' "
        f"aria-label='{escape(label)}'>",
        f"<text x='{_PAD_L}' y='18' font-size='14'>{escape(label)}</text>",
        f"<line x1='{_PAD_L}' y1='{_PAD_T + plot_h}' x2='{_PAD_L + plot_w}' "
        f"y2='{_PAD_T + plot_h}' stroke='#444'/>",
        f"<line x1='{_PAD_L}' y1='{_PAD_T}' x2='{_PAD_L}' y2='{_PAD_T + plot_h}' stroke='#444'/>",
        f"<text x='{_PAD_L - 5}' y='{_PAD_T + 4}' font-size='11' text-anchor='end'>"
        f"{top:.2%}</text>",
        f"<text x='{_PAD_L - 5}' y='{_PAD_T + plot_h}' font-size='11' text-anchor='end'>0%</text>",
    ]
    if buckets:
        parts.append(
            f"<text x='{_PAD_L}' y='{_H - 12}' font-size='11'>{escape(str(buckets[0]))}</text>"
        )
        parts.append(
            f"<text x='{_PAD_L + plot_w}' y='{_H - 12}' font-size='11' text-anchor='end'>"
            f"{escape(str(buckets[-1]))}</text>"
        )
    for n, variant in enumerate(variants):
        colour = _COLOURS[n % len(_COLOURS)]
        coords = " ".join(xy(i, v) for i, v in series[variant])
        if coords:
            parts.append(
                f"<polyline fill='none' stroke='{colour}' stroke-width='2' points='{coords}'>"
                f"<title>{escape(variant)}</title></polyline>"
            )
        y = _PAD_T + 16 * n + 8
        parts.append(
            f"<rect x='{_W - _PAD_R + 15}' y='{y - 8}' width='12' height='12' fill='{colour}'/>"
            f"<text x='{_W - _PAD_R + 32}' y='{y + 2}' font-size='12'>{escape(variant)}</text>"
        )
    parts.append("</svg>")
    return "\n".join(parts)

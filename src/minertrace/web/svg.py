"""Server-drawn SVG charts for the dashboard: no script, no library, nothing fetched. Pure.

Every function returns an SVG element as a string (markup-safe: every text it draws is
escaped), sized by its viewBox so it scales to the page width. Missing values (None or NaN)
break a line instead of being drawn as zero.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape

W, H = 640, 220
PAD_L, PAD_R, PAD_T, PAD_B = 56, 16, 14, 30

STATUS_COLORS = {
    "verified": "#2f9e44",
    "included": "#74b816",
    "committed": "#1c7ed6",
    "mismatch": "#f08c00",
    "failed": "#e03131",
    "orphaned": "#9c36b5",
    "skipped": "#868e96",
    "computed": "#adb5bd",
    "submitting": "#adb5bd",
}
PATHWAY_COLORS = {
    "excellence": "#1c7ed6",
    "diversity": "#2f9e44",
    "none": "#adb5bd",
    "no record": "#dee2e6",
}
SERIES_COLORS = ("#1c7ed6", "#2f9e44", "#e8590c", "#9c36b5", "#c2255c")


@dataclass(frozen=True)
class Series:
    """One line of a line chart."""

    label: str
    xs: Sequence[datetime]
    ys: Sequence[float | None]
    color: str = SERIES_COLORS[0]


def _ok(v: float | None) -> bool:
    return v is not None and math.isfinite(v)


def fmt(v: float) -> str:
    """A compact axis label."""
    if v == 0:
        return "0"
    a = abs(v)
    if a >= 1000 or a < 0.001:
        return f"{v:.1e}"
    return f"{v:.3g}"


def _svg(body: str, label: str, w: int = W, h: int = H) -> str:
    return (
        f'<svg class="chart" viewBox="0 0 {w} {h}" role="img" aria-label="{escape(label)}" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{escape(label)}</title>{body}</svg>'
    )


def _empty(label: str, h: int = 80) -> str:
    return _svg(
        f'<text x="{W / 2}" y="{h / 2}" text-anchor="middle" class="muted">no data yet</text>',
        label,
        h=h,
    )


def _y_axis(
    lo: float, hi: float, h: int, invert: bool, top: int = PAD_T
) -> tuple[str, float, float]:
    if hi <= lo:
        hi = lo + (abs(lo) or 1.0)
    parts = []
    bottom = h - PAD_B
    for k in range(5):
        v = lo + (hi - lo) * k / 4
        frac = k / 4
        y = top + frac * (bottom - top) if invert else bottom - frac * (bottom - top)
        parts.append(
            f'<line x1="{PAD_L}" x2="{W - PAD_R}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
            f'<text x="{PAD_L - 6}" y="{y + 4:.1f}" text-anchor="end" class="tick">{fmt(v)}</text>'
        )
    return "".join(parts), lo, hi


def line_chart(
    series: Sequence[Series],
    label: str,
    *,
    invert: bool = False,
    y_min: float | None = None,
    y_max: float | None = None,
    h: int = H,
) -> str:
    """Lines over time; `invert` puts small values on top (ranks)."""
    xs = [x for s in series for x, y in zip(s.xs, s.ys, strict=True) if _ok(y)]
    top_pad = PAD_T + (16 if len(series) > 1 else 0)
    ys = [float(y) for s in series for y in s.ys if y is not None and _ok(y)]
    if not xs:
        return _empty(label)
    lo = y_min if y_min is not None else min(0.0, min(ys))
    hi = y_max if y_max is not None else max(ys)
    axis, lo, hi = _y_axis(lo, hi, h, invert, top_pad)
    t0, t1 = min(xs).timestamp(), max(xs).timestamp()
    span = (t1 - t0) or 1.0
    top, bottom = top_pad, h - PAD_B

    def px(x: datetime) -> float:
        return PAD_L + (x.timestamp() - t0) / span * (W - PAD_L - PAD_R)

    def py(y: float) -> float:
        frac = (y - lo) / (hi - lo)
        return top + frac * (bottom - top) if invert else bottom - frac * (bottom - top)

    body = [axis]
    for s in series:
        runs: list[list[str]] = [[]]
        for x, y in zip(s.xs, s.ys, strict=True):
            if y is None or not _ok(y):
                runs.append([])
            else:
                runs[-1].append(f"{px(x):.1f},{py(float(y)):.1f}")
        for run in runs:
            if len(run) > 1:
                body.append(
                    f'<polyline points="{" ".join(run)}" fill="none" stroke="{s.color}" '
                    'stroke-width="2"/>'
                )
            if len(run) == 1 or len(run) <= 40:
                cx_cy = (p.split(",") for p in run)
                body.extend(
                    f'<circle cx="{cx}" cy="{cy}" r="2.5" fill="{s.color}"/>' for cx, cy in cx_cy
                )
    body.append(
        f'<text x="{PAD_L}" y="{h - 8}" class="tick">{escape(min(xs).strftime("%Y-%m-%d"))}</text>'
        f'<text x="{W - PAD_R}" y="{h - 8}" text-anchor="end" class="tick">'
        f"{escape(max(xs).strftime('%Y-%m-%d'))}</text>"
    )
    if len(series) > 1:
        body.append(_legend([(s.label, s.color) for s in series], W - PAD_R, 2))
    return _svg("".join(body), label, h=h)


def _legend(items: Sequence[tuple[str, str]], right: float, top: float) -> str:
    out, x = [], right
    for text_, color in reversed(items):
        width = 12 + 7 * len(text_)
        x -= width + 10
        out.append(
            f'<rect x="{x:.0f}" y="{top:.0f}" width="10" height="10" fill="{color}"/>'
            f'<text x="{x + 14:.0f}" y="{top + 9:.0f}" class="tick">{escape(text_)}</text>'
        )
    return "".join(out)


def stacked_bars(
    buckets: Sequence[tuple[str, dict[str, int]]], label: str, colors: dict[str, str]
) -> str:
    """One stacked bar per bucket (e.g. cycles per day by status)."""
    if not buckets:
        return _empty(label)
    h = H
    top, bottom = PAD_T + 16, h - PAD_B
    most = max(sum(c.values()) for _, c in buckets) or 1
    axis, _, _ = _y_axis(0, float(most), h, False, top)
    slot = (W - PAD_L - PAD_R) / len(buckets)
    bw = min(48.0, max(2.0, slot * 0.8))
    body = [axis]
    for i, (name, counts) in enumerate(buckets):
        x = PAD_L + i * slot + (slot - bw) / 2
        y = float(bottom)
        for status, color in colors.items():
            n = counts.get(status, 0)
            if not n:
                continue
            bh = n / most * (bottom - top)
            y -= bh
            body.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bw:.1f}" height="{bh:.1f}" '
                f'fill="{color}"><title>{escape(name)}: {n} {escape(status)}</title></rect>'
            )
    body.append(
        f'<text x="{PAD_L}" y="{h - 8}" class="tick">{escape(buckets[0][0])}</text>'
        f'<text x="{W - PAD_R}" y="{h - 8}" text-anchor="end" class="tick">'
        f"{escape(buckets[-1][0])}</text>"
    )
    used = [(s, c) for s, c in colors.items() if any(b.get(s) for _, b in buckets)]
    body.append(_legend(used, W - PAD_R, 2))
    return _svg("".join(body), label, h=h)


@dataclass(frozen=True)
class Point:
    """One dot of a scatter plot."""

    x: float
    y: float
    title: str
    href: str
    color: str = SERIES_COLORS[0]


def scatter(points: Sequence[Point], label: str, x_label: str, y_label: str) -> str:
    """Dots with links (each dot opens its `href`), both axes from 0."""
    pts = [p for p in points if _ok(p.x) and _ok(p.y)]
    if not pts:
        return _empty(label)
    h = H + 40
    xmax = max(p.x for p in pts) or 1.0
    ymax = max(p.y for p in pts) or 1.0
    axis, _, _ = _y_axis(0.0, ymax, h, False)
    top, bottom = PAD_T, h - PAD_B
    body = [axis]
    lim = min(xmax, ymax)
    body.append(
        f'<line x1="{PAD_L}" y1="{bottom}" x2="{PAD_L + lim / xmax * (W - PAD_L - PAD_R):.1f}"'
        f' y2="{bottom - lim / ymax * (bottom - top):.1f}" class="diag"/>'
    )
    for p in pts:
        cx = PAD_L + p.x / xmax * (W - PAD_L - PAD_R)
        cy = bottom - p.y / ymax * (bottom - top)
        body.append(
            f'<a href="{escape(p.href)}"><circle cx="{cx:.1f}" cy="{cy:.1f}" r="4" '
            f'fill="{p.color}" fill-opacity="0.8"><title>{escape(p.title)}</title></circle></a>'
        )
    body.append(
        f'<text x="{W - PAD_R}" y="{h - 6}" text-anchor="end" class="tick">'
        f"{escape(x_label)} (max {fmt(xmax)})</text>"
        f'<text x="{PAD_L}" y="{h - 6}" class="tick">0</text>'
        f'<text x="{PAD_L + 4}" y="{PAD_T + 12}" class="tick">{escape(y_label)}</text>'
    )
    return _svg("".join(body), label, h=h)


def hbars(
    items: Sequence[tuple[str, float, str]],
    label: str,
    *,
    value_fmt: str = "{:g}",
    left: int = 170,
    notes: Sequence[str] | None = None,
) -> str:
    """Horizontal bars: (label, value, color), lengths relative to the largest value.

    The text after a bar is `value_fmt` of its value, or `notes[i]` when notes are given.
    """
    if not items:
        return _empty(label)
    row = 26
    h = PAD_T + row * len(items) + 6
    most = max((v for _, v, _ in items if _ok(v)), default=0.0) or 1.0
    right = W - 150
    body = []
    for i, (name, value, color) in enumerate(items):
        y = PAD_T + i * row
        width = max(0.0, value / most * (right - left)) if _ok(value) else 0.0
        shown = notes[i] if notes is not None else (value_fmt.format(value) if _ok(value) else "-")
        body.append(
            f'<text x="{left - 8}" y="{y + 15}" text-anchor="end" class="label">{escape(name)}'
            f'</text><rect x="{left}" y="{y + 3}" width="{width:.1f}" height="16" fill="{color}"/>'
            f'<text x="{left + width + 6:.1f}" y="{y + 15}" class="tick">{escape(shown)}</text>'
        )
    return _svg("".join(body), label, h=h)


__all__ = [
    "PATHWAY_COLORS",
    "SERIES_COLORS",
    "STATUS_COLORS",
    "Point",
    "Series",
    "fmt",
    "hbars",
    "line_chart",
    "scatter",
    "stacked_bars",
]

"""Small SVG charts for the report: the month's daily rates, and a sparkline per school.

Plain SVG text, so that the HTML, the PDF (WeasyPrint draws SVG) and a browser show the same thing.
A day with no known time has no point: the line breaks there rather than dropping to zero.
"""

import math
from collections.abc import Sequence
from html import escape

Series = tuple[str, str, Sequence[float | None]]  # label, colour, one value (0..1) per day


def _floor(values: Sequence[float | None]) -> float:
    """The bottom of the y axis: the round 5 % at or below the lowest value, and at least 5 % below 100 %."""
    low = min((v for v in values if v is not None), default=1.0)
    return max(0.0, min(0.95, math.floor(low * 20) / 20))


def _paths(values: Sequence[float | None], x: "Scale", y: "Scale") -> list[str]:
    runs: list[list[str]] = [[]]
    for i, v in enumerate(values):
        if v is None:
            runs.append([])
        else:
            runs[-1].append(f"{x(i):.1f},{y(v):.1f}")
    return [" ".join(run) for run in runs if run]


class Scale:
    def __init__(self, lo: float, hi: float, out_lo: float, out_hi: float) -> None:
        self.lo, self.hi, self.out_lo, self.out_hi = lo, hi, out_lo, out_hi

    def __call__(self, v: float) -> float:
        span = self.hi - self.lo or 1.0
        return self.out_lo + (v - self.lo) / span * (self.out_hi - self.out_lo)


def line_chart(days: Sequence[str], series: Sequence[Series], *, width: int = 680, height: int = 200) -> str:
    """A line chart of daily rates with a y axis in percent and the days' numbers below."""
    left, right, top, bottom = 44, 10, 24, 26
    floor = _floor([v for _, _, values in series for v in values])
    x = Scale(0, max(1, len(days) - 1), left, width - right)
    y = Scale(floor, 1.0, height - bottom, top)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" class="chart">']
    steps = 4
    for n in range(steps + 1):
        value = floor + (1.0 - floor) * n / steps
        py = y(value)
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{py:.1f}" y2="{py:.1f}" stroke="#ddd"/>')
        parts.append(f'<text x="{left - 4}" y="{py + 4:.1f}" text-anchor="end" font-size="10">{value * 100:g}%</text>')
    for i, day in enumerate(days):
        if i % max(1, len(days) // 15) == 0 or i == len(days) - 1:
            label = escape(day[-2:])
            parts.append(f'<text x="{x(i):.1f}" y="{height - 8}" text-anchor="middle" font-size="10">{label}</text>')
    for n, (label, colour, values) in enumerate(series):
        for points in _paths(values, x, y):
            parts.append(f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="1.8"/>')
        lx = left + 8 + n * 120
        parts.append(f'<rect x="{lx}" y="2" width="10" height="10" fill="{colour}"/>')
        parts.append(f'<text x="{lx + 14}" y="11" font-size="11">{escape(label)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def sparkline(values: Sequence[float | None], colour: str = "#1f6feb", *, width: int = 120, height: int = 22) -> str:
    """A school's month in one small line: its daily 在线率."""
    floor = _floor(values)
    x = Scale(0, max(1, len(values) - 1), 1, width - 1)
    y = Scale(floor, 1.0, height - 2, 2)
    lines = "".join(
        f'<polyline points="{p}" fill="none" stroke="{colour}" stroke-width="1.2"/>' for p in _paths(values, x, y)
    )
    return f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}">{lines}</svg>'

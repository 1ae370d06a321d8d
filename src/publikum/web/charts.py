"""Server-rendered SVG charts: no JavaScript, no third-party requests, screen-reader friendly."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Bar:
    label: str
    value: int
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class BarChart:
    title: str
    bars: list[Bar]
    width: int
    height: int
    max_value: int


def bar_chart(
    data: list[tuple[str, int]], *, title: str, width: int = 640, height: int = 180
) -> BarChart:
    """Lay out a bar chart; the template draws it and lists the values as a table."""
    top, bottom = 16, 28
    max_value = max((v for _, v in data), default=0) or 1
    slot = width / max(len(data), 1)
    bars = []
    for i, (label, value) in enumerate(data):
        h = (height - top - bottom) * value / max_value
        bars.append(
            Bar(
                label=label,
                value=value,
                x=i * slot + slot * 0.15,
                y=height - bottom - h,
                width=slot * 0.7,
                height=h,
            )
        )
    return BarChart(title=title, bars=bars, width=width, height=height, max_value=max_value)

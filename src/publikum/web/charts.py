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


# --- line charts ------------------------------------------------------------------------

# Colour and dash per series: the dash keeps series apart without colour (print, colour
# blindness); the colours have at least 4.5:1 contrast on white.
SERIES_STYLES: tuple[tuple[str, str], ...] = (
    ("#1d5fa0", ""),
    ("#b3471b", "6 4"),
    ("#2f7a3a", "2 3"),
    ("#6d4aa0", "8 3 2 3"),
)


@dataclass(frozen=True)
class LinePoint:
    x: float
    y: float
    label: str
    text: str  # the value as shown


@dataclass(frozen=True)
class Line:
    name: str
    color: str
    dash: str
    # One SVG polyline per run of values without a gap (None means "no data").
    paths: list[str]
    points: list[LinePoint]


@dataclass(frozen=True)
class Tick:
    y: float
    text: str


@dataclass(frozen=True)
class AxisLabel:
    x: float
    text: str


@dataclass(frozen=True)
class LineChart:
    title: str
    lines: list[Line]
    ticks: list[Tick]
    labels: list[AxisLabel]
    # The values as a table: one row per label, one cell per series ("—" for no data).
    header: list[str]
    rows: list[tuple[str, list[str]]]
    width: int
    height: int
    left: float
    right: float
    has_data: bool


def _format(value: float | None, unit: str, decimals: int) -> str:
    if value is None:
        return "—"
    return f"{value:.{decimals}f}{unit}"


def line_chart(
    labels: list[str],
    series: list[tuple[str, list[float | None]]],
    *,
    title: str,
    unit: str = "",
    decimals: int = 1,
    max_value: float | None = None,
    width: int = 520,
    height: int = 200,
) -> LineChart:
    """Lay out one or more series over the same labels (e.g. months); the template draws
    them and lists the values as a table. `max_value` fixes the top of the axis (100 for
    percentages); otherwise it is the largest value. None values leave a gap."""
    # Room for the axis values on the left and half a label on the right.
    top, bottom, left, right = 12.0, 28.0, 44.0, 28.0
    values = [v for _, vs in series for v in vs if v is not None]
    peak = max_value if max_value is not None else max(values, default=0.0)
    peak = peak or 1.0
    plot_w, plot_h = width - left - right, height - top - bottom
    step = plot_w / max(len(labels) - 1, 1)

    def x_of(i: int) -> float:
        return left + (i * step if len(labels) > 1 else plot_w / 2)

    def y_of(v: float) -> float:
        return top + plot_h * (1 - min(max(v / peak, 0.0), 1.0))

    lines = []
    for n, (name, vs) in enumerate(series):
        color, dash = SERIES_STYLES[n % len(SERIES_STYLES)]
        paths: list[str] = []
        run: list[str] = []
        points: list[LinePoint] = []
        for i, v in enumerate(vs):
            if v is None:
                if run:
                    paths.append(" ".join(run))
                run = []
                continue
            x, y = x_of(i), y_of(v)
            run.append(f"{x:.1f},{y:.1f}")
            points.append(LinePoint(x, y, labels[i], _format(v, unit, decimals)))
        if run:
            paths.append(" ".join(run))
        lines.append(Line(name, color, dash, paths, points))
    ticks = [Tick(y_of(peak * f), _format(peak * f, unit, decimals)) for f in (0, 0.5, 1)]
    # Every label when they fit, else every other one (the table has them all).
    every = 1 if plot_w / max(len(labels), 1) >= 48 else 2
    axis = [AxisLabel(x_of(i), text) for i, text in enumerate(labels) if i % every == 0]
    rows = [
        (text, [_format(vs[i] if i < len(vs) else None, unit, decimals) for _, vs in series])
        for i, text in enumerate(labels)
    ]
    return LineChart(
        title=title,
        lines=lines,
        ticks=ticks,
        labels=axis,
        header=[name for name, _ in series],
        rows=rows,
        width=width,
        height=height,
        left=left,
        right=width - right,
        has_data=bool(values),
    )

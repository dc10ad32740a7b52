"""The analytics page's chart of messages per day (CM-6), drawn from plain figures.

``build_chart`` turns one ``ChartDay`` per day (how many messages fell in each series)
into a ``Chart``: every position, size and label the SVG needs, already computed. The
template ``admin/communications/communicationlog/includes/chart.html`` writes that SVG,
escaping every label. Nothing here reads the database: the report builder
(``communications.reports``) decides what each series counts.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

# Stacked from the bottom; every message is in exactly one of these: (key, label, colour).
CHART_SERIES: tuple[tuple[str, str, str], ...] = (
    ("sent", "Sent", "#2e7d32"),
    ("failed", "Failed", "#c62828"),
    ("not_sent", "Not sent (suppressed or rate limited)", "#b26a00"),
    ("queued", "Queued", "#1565c0"),
)
CHART_WIDTH = 760
CHART_HEIGHT = 320
CHART_MARGIN = {"left": 56, "right": 16, "top": 16, "bottom": 64}
CHART_MAX_X_LABELS = 8


def day_label(day: date) -> str:
    return f"{day.day} {day:%b %Y}"


@dataclass(frozen=True)
class ChartDay:
    """One day's messages per series key of ``CHART_SERIES`` (a missing key counts 0)."""

    day: date
    values: Mapping[str, int]


@dataclass(frozen=True)
class ChartRect:
    x: str
    y: str
    width: str
    height: str
    fill: str


@dataclass(frozen=True)
class ChartBar:
    title: str
    rects: list[ChartRect]


@dataclass(frozen=True)
class ChartTick:
    position: str
    label: str


@dataclass(frozen=True)
class LegendItem:
    label: str
    colour: str
    total: int


@dataclass
class Chart:
    title: str
    description: str
    width: int = CHART_WIDTH
    height: int = CHART_HEIGHT
    left: int = CHART_MARGIN["left"]
    right: int = CHART_WIDTH - CHART_MARGIN["right"]
    top: int = CHART_MARGIN["top"]
    bottom: int = CHART_HEIGHT - CHART_MARGIN["bottom"]
    bars: list[ChartBar] = field(default_factory=list)
    y_ticks: list[ChartTick] = field(default_factory=list)
    x_ticks: list[ChartTick] = field(default_factory=list)
    legend: list[LegendItem] = field(default_factory=list)

    @property
    def x_title_y(self) -> int:
        return self.height - 12

    @property
    def y_title_x(self) -> int:
        return 14

    @property
    def middle_x(self) -> int:
        return (self.left + self.right) // 2

    @property
    def middle_y(self) -> int:
        return (self.top + self.bottom) // 2

    @property
    def x_label_y(self) -> int:
        return self.bottom + 20

    @property
    def x_tick_end(self) -> int:
        return self.bottom + 5

    @property
    def y_label_x(self) -> int:
        return self.left - 6


def nice_scale(peak: int) -> tuple[int, int]:
    """The top of the y axis and the step between ticks: 1, 2 or 5 times a power of ten,
    at most five steps."""
    peak = max(peak, 1)
    magnitude = 1
    while True:
        for multiple in (1, 2, 5):
            step = multiple * magnitude
            if peak / step <= 5:
                return step * math.ceil(peak / step), step
        magnitude *= 10


def _fmt(value: float) -> str:
    return f"{value:.1f}"


def build_chart(days: Sequence[ChartDay], *, start: date, end: date, channel_label: str) -> Chart:
    """Stacked bars, one per day from ``start`` to ``end``; every number drawn is also in
    the page's "per day" table."""
    chart = Chart(
        title=f"Messages per day, {channel_label}",
        description="",
    )
    segments = [{key: day.values.get(key, 0) for key, _, _ in CHART_SERIES} for day in days]
    peak = max((sum(parts.values()) for parts in segments), default=0)
    top_value, step = nice_scale(peak)
    plot_height = chart.bottom - chart.top
    plot_width = chart.right - chart.left
    slot = plot_width / max(len(days), 1)
    bar_width = max(slot * 0.7, 0.5)

    def y_of(value: float) -> float:
        return chart.bottom - plot_height * value / top_value

    chart.y_ticks = [
        ChartTick(position=_fmt(y_of(value)), label=str(value))
        for value in range(0, top_value + 1, step)
    ]
    every = max(1, math.ceil(len(days) / CHART_MAX_X_LABELS))
    names = {key: label for key, label, _ in CHART_SERIES}
    for index, (day, parts) in enumerate(zip(days, segments, strict=True)):
        x = chart.left + slot * index + (slot - bar_width) / 2
        if index % every == 0:
            chart.x_ticks.append(
                ChartTick(position=_fmt(x + bar_width / 2), label=f"{day.day.day} {day.day:%b}")
            )
        rects = []
        stacked = 0
        for key, _, colour in CHART_SERIES:
            value = parts[key]
            if not value:
                continue
            y_top = y_of(stacked + value)
            rects.append(
                ChartRect(
                    x=_fmt(x),
                    y=_fmt(y_top),
                    width=_fmt(bar_width),
                    height=_fmt(y_of(stacked) - y_top),
                    fill=colour,
                )
            )
            stacked += value
        detail = ", ".join(f"{parts[key]} {names[key].lower()}" for key, _, _ in CHART_SERIES)
        chart.bars.append(ChartBar(title=f"{day_label(day.day)}: {detail}", rects=rects))

    totals = {key: sum(parts[key] for parts in segments) for key, _, _ in CHART_SERIES}
    chart.legend = [
        LegendItem(label=label, colour=colour, total=totals[key])
        for key, label, colour in CHART_SERIES
    ]
    summary = ", ".join(f"{totals[key]} {label.lower()}" for key, label, _ in CHART_SERIES)
    chart.description = (
        f"Stacked bars, one per day from {day_label(start)} to "
        f"{day_label(end)}, {channel_label}: {summary}. The busiest day had {peak} "
        "messages. Each day's figures are in the table of messages per day."
    )
    return chart

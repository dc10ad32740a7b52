"""The analytics chart drawn from plain figures: no database, no request."""

from __future__ import annotations

import re
from datetime import date, timedelta

from django.template.loader import render_to_string

from communications.charts import CHART_SERIES, ChartDay, build_chart, nice_scale

CHART_TEMPLATE = "admin/communications/communicationlog/includes/chart.html"
DAY = date(2031, 3, 4)


def test_an_empty_series_draws_axes_and_no_bars() -> None:
    chart = build_chart([], start=DAY, end=DAY, channel_label="all channels")
    assert chart.title == "Messages per day, all channels"
    assert chart.bars == []
    assert chart.x_ticks == []
    assert [tick.label for tick in chart.y_ticks] == ["0", "1"]
    assert [item.total for item in chart.legend] == [0, 0, 0, 0]
    assert "The busiest day had 0 messages" in chart.description
    svg = render_to_string(CHART_TEMPLATE, {"chart": chart})
    assert "<rect x=" not in svg


def test_one_day_is_one_bar_stacked_from_the_bottom_in_series_order() -> None:
    day = ChartDay(day=DAY, values={"sent": 3, "queued": 1})
    chart = build_chart([day], start=DAY, end=DAY, channel_label="SMS")
    [bar] = chart.bars
    assert (
        bar.title
        == "4 Mar 2031: 3 sent, 0 failed, 0 not sent (suppressed or rate limited), 1 queued"
    )
    sent, queued = bar.rects  # series without messages draw nothing
    colours = {key: colour for key, _, colour in CHART_SERIES}
    assert (sent.fill, queued.fill) == (colours["sent"], colours["queued"])
    # The axis tops out at the peak of 4 (in steps of 1); sent sits on the baseline.
    assert [tick.label for tick in chart.y_ticks] == ["0", "1", "2", "3", "4"]
    assert float(queued.y) == chart.top
    assert float(sent.y) + float(sent.height) == chart.bottom
    assert float(queued.y) + float(queued.height) == float(sent.y)
    assert float(sent.height) == 3 * float(queued.height)
    assert [tick.label for tick in chart.x_ticks] == ["4 Mar"]
    assert [(item.label, item.total) for item in chart.legend][:2] == [("Sent", 3), ("Failed", 0)]
    assert chart.description.startswith(
        "Stacked bars, one per day from 4 Mar 2031 to 4 Mar 2031, SMS: 3 sent, 0 failed"
    )


def test_at_most_eight_day_labels_on_the_x_axis() -> None:
    days = [ChartDay(day=DAY + timedelta(days=n), values={"sent": 1}) for n in range(90)]
    chart = build_chart(days, start=days[0].day, end=days[-1].day, channel_label="Email")
    assert len(chart.bars) == 90
    assert len(chart.x_ticks) <= 8


def test_nice_scale_is_one_two_or_five_times_a_power_of_ten() -> None:
    assert nice_scale(0) == (1, 1)
    assert nice_scale(7) == (8, 2)
    assert nice_scale(11) == (15, 5)
    assert nice_scale(480) == (500, 100)


def test_labels_are_escaped_in_the_svg() -> None:
    label = '<script>alert("x")</script> & co'
    chart = build_chart(
        [ChartDay(day=DAY, values={"failed": 2})], start=DAY, end=DAY, channel_label=label
    )
    svg = render_to_string(CHART_TEMPLATE, {"chart": chart})
    assert "<script" not in svg
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; co" in svg
    assert re.search(r'aria-label="Messages per day, &lt;script&gt;[^"]*"', svg)

"""The analytics report built from the message log, without the admin page around it."""

from __future__ import annotations

from datetime import date

import pytest

from communications.analytics import DayCounts, Period
from communications.reports import analytics_report, chart_day, money, percent
from communications.tests.test_admin_reports import logged

pytestmark = pytest.mark.django_db


def test_the_report_of_one_channel_has_its_totals_days_costs_and_failures() -> None:
    logged("sms", "delivered", cost=8, cost_currency="USD")
    logged("sms", "delivered", days_ago=1, cost=8, cost_currency="USD")
    failed = logged("sms", "failed", days_ago=1, reason="template error")
    logged("email", "sent")  # another channel: not in this report

    report = analytics_report(
        period=Period.last_days(7), channel="sms", log_url=lambda log: f"/log/{log.pk}/"
    )

    assert report.channel_label == "SMS"
    [totals] = report.totals
    assert (totals.label, totals.counts.total, totals.counts.delivered) == ("SMS", 3, 2)
    assert (totals.delivery_rate, totals.failure_rate) == ("100.0%", "33.3%")
    assert report.grand_total.label == "Total"
    [per_day] = report.day_tables
    assert per_day.slug == "sms"
    assert len(per_day.rows) == 7
    assert per_day.total.cost == "$0.16"
    [cost] = report.costs
    assert (cost.channel, cost.currency, cost.messages, cost.amount) == ("SMS", "USD", 2, "$0.16")
    assert [(row.log.pk, row.url) for row in report.failed] == [(failed.pk, f"/log/{failed.pk}/")]
    assert report.chart is not None
    assert report.chart.title == "Messages per day, SMS"
    assert sum(item.total for item in report.chart.legend) == 3


def test_an_empty_period_has_no_chart() -> None:
    report = analytics_report(period=Period.last_days(7), channel="", log_url=str)
    assert report.chart is None
    assert report.grand_total.label == "All channels"
    assert [table.slug for table in report.day_tables] == ["all", "email", "sms", "push"]


def test_each_message_is_in_exactly_one_chart_series() -> None:
    day = DayCounts(
        day=date(2031, 3, 4),
        total=10,
        queued=1,
        sent=5,
        awaiting=3,
        delivered=1,
        failed=2,
        suppressed=2,
        rate_limited=1,
    )
    assert chart_day(day).values == {"sent": 4, "failed": 2, "not_sent": 3, "queued": 1}
    assert sum(chart_day(day).values.values()) == day.total


def test_rates_and_unknown_currencies_read_plainly() -> None:
    assert percent(None) == "n/a"
    assert percent(0.3333) == "33.3%"
    assert money(2550, "EUR") == "€25.50"
    assert money(12, "XXX") == "12 XXX minor units"

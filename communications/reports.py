"""The analytics page's report (CM-6): the figures of ``communications.analytics`` shaped
into plain rows for the page's tables and its chart.

``analytics_report`` reads only ``communications.analytics`` (a fixed handful of grouped
queries, whatever the period) and returns a ``Report``; the chart is drawn from the same
figures by ``communications.charts``, and ``communications.admin_reports`` shows both.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date

from communications import analytics
from communications.analytics import Counts, DayCounts, Period
from communications.charts import Chart, ChartDay, build_chart, day_label
from communications.models import Channel, CommunicationLog
from core.money import format_money

FAILED_REPORT_LIMIT = 50
NOT_AVAILABLE = "n/a"


def percent(rate: float | None) -> str:
    return NOT_AVAILABLE if rate is None else f"{rate * 100:.1f}%"


def money(amount: int, currency: str) -> str:
    """Minor units as money; a currency we do not know is shown as it was reported."""
    try:
        return format_money(amount, currency)
    except KeyError:
        return f"{amount} {currency or '(no currency)'} minor units"


@dataclass(frozen=True)
class CountsRow:
    label: str
    counts: Counts
    cost: str = ""
    day: date | None = None

    @property
    def delivery_rate(self) -> str:
        return percent(self.counts.delivery_rate)

    @property
    def failure_rate(self) -> str:
        return percent(self.counts.failure_rate)


@dataclass(frozen=True)
class DayTable:
    caption: str
    slug: str
    rows: list[CountsRow]
    total: CountsRow


@dataclass(frozen=True)
class CostRow:
    channel: str
    currency: str
    messages: int
    amount: str


@dataclass(frozen=True)
class FailedRow:
    log: CommunicationLog
    url: str


@dataclass(frozen=True)
class OtpRow:
    issued: int
    verified: int
    failed: int
    expired: int
    success_rate: str


@dataclass
class Report:
    period: Period
    channel: str
    channel_label: str
    totals: list[CountsRow]
    grand_total: CountsRow
    day_tables: list[DayTable]
    costs: list[CostRow]
    failed: list[FailedRow]
    failed_limit: int
    otp: OtpRow | None
    chart: Chart | None

    @property
    def period_label(self) -> str:
        return f"{day_label(self.period.start)} to {day_label(self.period.end)}"


def _cost_text(costs: list[tuple[str, int]]) -> str:
    return ", ".join(money(amount, currency) for currency, amount in costs)


def _day_table(
    rows: list[DayCounts],
    *,
    period: Period,
    channel: str,
    label: str,
    costs: dict[tuple[date, str], list[tuple[str, int]]],
) -> DayTable:
    series = analytics.daily_series(rows, period=period, channel=channel or None)
    total = Counts()
    all_costs: list[list[tuple[str, int]]] = []
    day_rows: list[CountsRow] = []
    for day in series:
        total.add(day)
        if channel:
            day_costs = costs.get((day.day, channel), [])
        else:
            day_costs = _sum_costs(costs.get((day.day, value), []) for value in Channel.values)
        all_costs.append(day_costs)
        day_rows.append(
            CountsRow(label=day_label(day.day), counts=day, cost=_cost_text(day_costs), day=day.day)
        )
    return DayTable(
        caption=f"Messages per day, {label}",
        slug=channel or "all",
        rows=day_rows,
        total=CountsRow(label="Whole period", counts=total, cost=_cost_text(_sum_costs(all_costs))),
    )


def _sum_costs(groups: Iterable[list[tuple[str, int]]]) -> list[tuple[str, int]]:
    summed: dict[str, int] = {}
    for group in groups:
        for currency, amount in group:
            summed[currency] = summed.get(currency, 0) + amount
    return sorted(summed.items())


def chart_day(day: DayCounts) -> ChartDay:
    """One day's counts as the chart's series: every message is in exactly one."""
    return ChartDay(
        day=day.day,
        values={
            "sent": day.awaiting + day.delivered,
            "failed": day.failed,
            "not_sent": day.suppressed + day.rate_limited,
            "queued": day.queued,
        },
    )


def analytics_report(
    *, period: Period, channel: str, log_url: Callable[[CommunicationLog], str]
) -> Report:
    """Everything the analytics page shows, from five queries whatever the period."""
    rows = analytics.daily_counts(period=period, channel=channel or None)
    costs_by_day = analytics.daily_costs(period=period, channel=channel or None)
    by_channel = analytics.totals_by_channel(rows)
    labels = dict(Channel.choices)
    shown = [channel] if channel else list(Channel.values)

    grand = Counts()
    totals = []
    for value in shown:
        counts = by_channel.get(value, Counts())
        grand.add(counts)
        totals.append(CountsRow(label=labels[value], counts=counts))

    day_tables = []
    if not channel:
        day_tables.append(
            _day_table(rows, period=period, channel="", label="all channels", costs=costs_by_day)
        )
    day_tables += [
        _day_table(rows, period=period, channel=value, label=labels[value], costs=costs_by_day)
        for value in shown
    ]

    costs = [
        CostRow(
            channel=labels.get(cost.channel, cost.channel),
            currency=cost.currency or "(none)",
            messages=cost.messages,
            amount=money(cost.amount, cost.currency),
        )
        for cost in analytics.cost_totals(period=period, channel=channel or None)
    ]
    failed = [
        FailedRow(log=log, url=log_url(log))
        for log in analytics.failed_deliveries(
            period=period, channel=channel or None, limit=FAILED_REPORT_LIMIT
        )
    ]
    usage = analytics.otp_usage(period=period)
    otp = (
        OtpRow(
            issued=usage.issued,
            verified=usage.verified,
            failed=usage.failed,
            expired=usage.expired,
            success_rate=percent(usage.success_rate),
        )
        if usage is not None
        else None
    )
    chart_label = labels[channel] if channel else "all channels"
    series = analytics.daily_series(rows, period=period, channel=channel or None)
    return Report(
        period=period,
        channel=channel,
        channel_label=chart_label,
        totals=totals,
        grand_total=CountsRow(label="All channels" if not channel else "Total", counts=grand),
        day_tables=day_tables,
        costs=costs,
        failed=failed,
        failed_limit=FAILED_REPORT_LIMIT,
        otp=otp,
        chart=build_chart(
            [chart_day(day) for day in series],
            start=period.start,
            end=period.end,
            channel_label=chart_label,
        )
        if grand.total
        else None,
    )

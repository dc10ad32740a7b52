"""The message log's extra admin pages: analytics (CM-6) and "send a test message" (CM-7).

Analytics reads only ``communications.analytics`` (a fixed handful of grouped queries,
whatever the period) and draws its chart as inline SVG on the server, with the same
figures in tables for people who cannot see the chart. The test message goes through
``communications.services.send`` like every other message, so a switched-off channel is
suppressed here too, and the page says so.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone

from communications import analytics
from communications.analytics import Counts, DayCounts, Period
from communications.forms_reports import DEFAULT_DAYS, AnalyticsFilterForm, TestMessageForm
from communications.models import Channel, CommunicationLog, Event, MessageStatus
from communications.selectors import communication_settings
from communications.services import send_test_message
from core.money import format_money

TEST_MESSAGE_PERMISSION = "communications.send_test_message"
FAILED_REPORT_LIMIT = 50
NOT_AVAILABLE = "n/a"

# Stacked from the bottom; every message is in exactly one of these.
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

STATUS_EXPLANATIONS = {
    MessageStatus.QUEUED: (
        "Waiting for a worker to hand it to the provider. Reload this page to see the outcome."
    ),
    MessageStatus.SENT: (
        "Handed to the provider. Delivery is confirmed later, when the provider reports it."
    ),
    MessageStatus.DELIVERED: "The provider confirmed delivery.",
    MessageStatus.FAILED: "Not delivered: the provider refused it or sending failed.",
    MessageStatus.SUPPRESSED: (
        "Not sent: the platform suppressed it, as it does for every message in this case."
    ),
    MessageStatus.RATE_LIMITED: "Not sent: the hourly limit per recipient was reached.",
}
DEFERRED_EXPLANATION = (
    "Waiting: an hourly sending limit holds it back (the reason says which). It goes out "
    "when the next hour has room; nothing is lost."
)
OUTCOME_LEVELS = {
    MessageStatus.QUEUED: messages.INFO,
    MessageStatus.SENT: messages.SUCCESS,
    MessageStatus.DELIVERED: messages.SUCCESS,
    MessageStatus.FAILED: messages.ERROR,
    MessageStatus.SUPPRESSED: messages.WARNING,
    MessageStatus.RATE_LIMITED: messages.WARNING,
}


def percent(rate: float | None) -> str:
    return NOT_AVAILABLE if rate is None else f"{rate * 100:.1f}%"


def money(amount: int, currency: str) -> str:
    """Minor units as money; a currency we do not know is shown as it was reported."""
    try:
        return format_money(amount, currency)
    except KeyError:
        return f"{amount} {currency or '(no currency)'} minor units"


def day_label(day: date) -> str:
    return f"{day.day} {day:%b %Y}"


# --- The figures, shaped for the page ------------------------------------------------


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
        chart=build_chart(series, period=period, channel_label=chart_label)
        if grand.total
        else None,
    )


# --- The chart -------------------------------------------------------------------------


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


def _segments(day: Counts) -> dict[str, int]:
    return {
        "sent": day.awaiting + day.delivered,
        "failed": day.failed,
        "not_sent": day.suppressed + day.rate_limited,
        "queued": day.queued,
    }


def _nice_scale(peak: int) -> tuple[int, int]:
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


def build_chart(series: list[DayCounts], *, period: Period, channel_label: str) -> Chart:
    """Stacked bars per day; every number drawn is also in the "per day" table."""
    chart = Chart(
        title=f"Messages per day, {channel_label}",
        description="",
    )
    segments = [_segments(day) for day in series]
    peak = max((sum(day.values()) for day in segments), default=0)
    top_value, step = _nice_scale(peak)
    plot_height = chart.bottom - chart.top
    plot_width = chart.right - chart.left
    slot = plot_width / max(len(series), 1)
    bar_width = max(slot * 0.7, 0.5)

    def y_of(value: float) -> float:
        return chart.bottom - plot_height * value / top_value

    chart.y_ticks = [
        ChartTick(position=_fmt(y_of(value)), label=str(value))
        for value in range(0, top_value + 1, step)
    ]
    every = max(1, math.ceil(len(series) / CHART_MAX_X_LABELS))
    names = {key: label for key, label, _ in CHART_SERIES}
    for index, (day, parts) in enumerate(zip(series, segments, strict=True)):
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
        f"Stacked bars, one per day from {day_label(period.start)} to "
        f"{day_label(period.end)}, {channel_label}: {summary}. The busiest day had {peak} "
        "messages. Each day's figures are in the table of messages per day."
    )
    return chart


# --- The admin pages -------------------------------------------------------------------


class MessageReportsMixin(admin.ModelAdmin):
    """Adds the analytics and test-message pages under the message log's admin URLs."""

    change_list_template = "admin/communications/communicationlog/change_list.html"
    analytics_template = "admin/communications/communicationlog/analytics.html"
    test_message_template = "admin/communications/communicationlog/test_message.html"

    def get_urls(self) -> list[URLPattern]:
        prefix = f"{self.opts.app_label}_{self.opts.model_name}"
        own: list[Any] = [
            path(
                "analytics/",
                self.admin_site.admin_view(self.analytics_view),
                name=f"{prefix}_analytics",
            ),
            path(
                "test/",
                self.admin_site.admin_view(self.test_message_view),
                name=f"{prefix}_test_message",
            ),
        ]
        # Before the model's own URLs, whose "<object_id>/" would take these paths.
        urls: list[Any] = super().get_urls()
        return own + urls

    def _url(self, page: str, *args: Any) -> str:
        return reverse(
            f"admin:{self.opts.app_label}_{self.opts.model_name}_{page}",
            args=args,
            current_app=self.admin_site.name,
        )

    def _can_send_test(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm(TEST_MESSAGE_PERMISSION))

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        context = {
            "analytics_url": self._url("analytics"),
            "test_message_url": self._url("test_message") if self._can_send_test(request) else "",
            **(extra_context or {}),
        }
        return super().changelist_view(request, extra_context=context)

    def _page_context(self, request: HttpRequest, title: str) -> dict[str, Any]:
        return {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": title,
            "changelist_url": self._url("changelist"),
            "analytics_url": self._url("analytics"),
            "test_message_url": self._url("test_message") if self._can_send_test(request) else "",
        }

    def analytics_view(self, request: HttpRequest) -> HttpResponse:
        if request.method not in ("GET", "HEAD"):
            return HttpResponseNotAllowed(["GET", "HEAD"])
        if not self.has_view_permission(request):
            raise PermissionDenied
        data = request.GET.copy()
        if not data.get("days"):
            data["days"] = DEFAULT_DAYS  # what the page shows when no preset is chosen
        form = AnalyticsFilterForm(data)
        report = None
        if form.is_valid():
            report = analytics_report(
                period=form.period(),
                channel=form.channel_value(),
                log_url=lambda log: self._url("change", log.pk),
            )
        context = {
            **self._page_context(request, "Message analytics"),
            "form": form,
            "report": report,
            "time_zone": timezone.get_current_timezone_name(),
        }
        return TemplateResponse(request, self.analytics_template, context)

    def test_message_view(self, request: HttpRequest) -> HttpResponse:
        if request.method not in ("GET", "HEAD", "POST"):
            return HttpResponseNotAllowed(["GET", "HEAD", "POST"])
        if not self._can_send_test(request):
            raise PermissionDenied
        if request.method == "POST":
            form = TestMessageForm(request.POST)
            if form.is_valid():
                log = self._send_test(request, form)
                self.message_user(
                    request,
                    f"Test message by {log.get_channel_display()}: {log.get_status_display()}.",
                    level=OUTCOME_LEVELS.get(MessageStatus(log.status), messages.INFO),
                )
                return HttpResponseRedirect(f"{self._url('test_message')}?sent={log.pk}")
        outcome = self._outcome(request)
        if request.method != "POST":
            # Ready to try again on the same channel, e.g. after switching it back on.
            last = outcome["log"].requested_channel if outcome else Channel.EMAIL
            form = TestMessageForm(initial={"channel": last})
        context = {
            **self._page_context(request, "Send a test message"),
            "form": form,
            "outcome": outcome,
        }
        return TemplateResponse(request, self.test_message_template, context)

    def _send_test(self, request: HttpRequest, form: TestMessageForm) -> CommunicationLog:
        target = form.target()
        return send_test_message(
            channel=target.channel,
            recipient=target.recipient,
            recipient_masked=target.address_masked,
            actor=request.user,  # type: ignore[arg-type]
        )

    def _outcome(self, request: HttpRequest) -> dict[str, Any] | None:
        """The test message named in ``?sent=``, read afresh (it may have been queued)."""
        raw = request.GET.get("sent", "")
        if not raw.isdigit():
            return None
        log = CommunicationLog.objects.filter(pk=int(raw), event=Event.TEST_MESSAGE).first()
        if log is None:
            return None
        status = MessageStatus(log.status)
        switched_off = (
            status == MessageStatus.SUPPRESSED
            and not communication_settings().is_enabled(log.requested_channel)
        )
        return {
            "log": log,
            "explanation": (
                DEFERRED_EXPLANATION if log.deferred_until else STATUS_EXPLANATIONS[status]
            ),
            "switched_off": switched_off,
            "settings_url": reverse(
                "admin:communications_communicationsettings_changelist",
                current_app=self.admin_site.name,
            ),
            "not_sent": status in (MessageStatus.SUPPRESSED, MessageStatus.RATE_LIMITED),
            "failed": status == MessageStatus.FAILED,
            "log_url": self._url("change", log.pk) if self.has_view_permission(request) else "",
        }

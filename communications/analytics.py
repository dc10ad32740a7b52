"""The figures of the communications analytics page (CM-6), read from the message log.

Every figure is aggregated in the database (one grouped query per table on the page),
never counted row by row. A day is a calendar day in the site's time zone.

What the counts mean, per message created that day:

* ``sent``: handed to the provider (status sent or delivered, or failed after sending);
* ``delivered``: the provider confirmed delivery (needs its callbacks);
* ``failed``: the provider refused it, retries ran out, or it could not be rendered;
* ``suppressed``: not sent because a switch was off or there was no address;
* ``rate_limited``: refused because the hourly limit per recipient was reached;
* ``queued``: waiting for a worker, or for an hour with room under a volume limit.

Delivery rate is delivered / sent; failure rate is failed / (sent + failed not sent).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from communications.models import Channel, CommunicationLog, MessageStatus

HANDED_OVER = Q(status__in=[MessageStatus.SENT, MessageStatus.DELIVERED]) | Q(
    status=MessageStatus.FAILED, sent_at__isnull=False
)
FAILED_UNSENT = Q(status=MessageStatus.FAILED, sent_at__isnull=True)
MAX_DAYS = 366


@dataclass(frozen=True)
class Period:
    """Calendar days from ``start`` to ``end``, both included."""

    start: date
    end: date

    @classmethod
    def last_days(cls, days: int, *, today: date | None = None) -> Period:
        end = today or timezone.localdate()
        return cls(start=end - timedelta(days=days - 1), end=end)

    @property
    def since(self) -> datetime:
        return timezone.make_aware(datetime.combine(self.start, time.min))

    @property
    def until(self) -> datetime:
        """The first instant after the period."""
        return timezone.make_aware(datetime.combine(self.end + timedelta(days=1), time.min))

    def days(self) -> list[date]:
        return [self.start + timedelta(days=n) for n in range((self.end - self.start).days + 1)]


@dataclass
class Counts:
    """The outcomes of a set of messages (one channel on one day, or a sum of those)."""

    total: int = 0
    queued: int = 0
    sent: int = 0
    awaiting: int = 0  # sent, delivery not (yet) confirmed
    delivered: int = 0
    failed: int = 0
    failed_unsent: int = 0
    suppressed: int = 0
    rate_limited: int = 0

    FIELDS = (
        "total",
        "queued",
        "sent",
        "awaiting",
        "delivered",
        "failed",
        "failed_unsent",
        "suppressed",
        "rate_limited",
    )

    def add(self, other: Counts) -> None:
        for name in self.FIELDS:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    @property
    def delivery_rate(self) -> float | None:
        return self.delivered / self.sent if self.sent else None

    @property
    def failure_rate(self) -> float | None:
        attempted = self.sent + self.failed_unsent
        return self.failed / attempted if attempted else None


@dataclass
class DayCounts(Counts):
    day: date = field(default_factory=date.today)
    channel: str = ""


@dataclass(frozen=True)
class CostTotal:
    channel: str
    currency: str
    amount: int  # minor units
    messages: int


@dataclass(frozen=True)
class OtpUsage:
    issued: int
    verified: int
    failed: int
    expired: int

    @property
    def success_rate(self) -> float | None:
        return self.verified / self.issued if self.issued else None


def _in_period(period: Period, channel: str | None) -> QuerySet[CommunicationLog]:
    rows = CommunicationLog.objects.filter(
        created_at__gte=period.since, created_at__lt=period.until
    )
    return rows.filter(channel=channel) if channel else rows


def _status(value: str) -> Count:
    return Count("id", filter=Q(status=value))


def daily_counts(*, period: Period, channel: str | None = None) -> list[DayCounts]:
    """One row per day and channel that had messages, in one grouped query."""
    grouped = (
        _in_period(period, channel)
        .annotate(day=TruncDate("created_at"))
        .values("day", "channel")
        .annotate(
            total=Count("id"),
            queued=_status(MessageStatus.QUEUED),
            sent=Count("id", filter=HANDED_OVER),
            awaiting=_status(MessageStatus.SENT),
            delivered=_status(MessageStatus.DELIVERED),
            failed=_status(MessageStatus.FAILED),
            failed_unsent=Count("id", filter=FAILED_UNSENT),
            suppressed=_status(MessageStatus.SUPPRESSED),
            rate_limited=_status(MessageStatus.RATE_LIMITED),
        )
        .order_by("day", "channel")
    )
    return [DayCounts(**row) for row in grouped]


def totals_by_channel(rows: Iterable[DayCounts]) -> dict[str, Counts]:
    """Per channel over the whole period (every channel present, zeros included)."""
    totals: dict[str, Counts] = {value: Counts() for value in Channel.values}
    for row in rows:
        totals.setdefault(row.channel, Counts()).add(row)
    return totals


def daily_series(
    rows: Iterable[DayCounts], *, period: Period, channel: str | None = None
) -> list[DayCounts]:
    """Every day of the period (empty days as zeros), one channel or all channels summed."""
    by_day: dict[date, DayCounts] = {
        day: DayCounts(day=day, channel=channel or "") for day in period.days()
    }
    for row in rows:
        if channel and row.channel != channel:
            continue
        if row.day in by_day:
            by_day[row.day].add(row)
    return list(by_day.values())


def cost_totals(*, period: Period, channel: str | None = None) -> list[CostTotal]:
    """What the messages cost, per channel and currency (minor units are never mixed)."""
    grouped = (
        _in_period(period, channel)
        .filter(cost__isnull=False)
        .values("channel", "cost_currency")
        .annotate(amount=Sum("cost"), messages=Count("id"))
        .order_by("channel", "cost_currency")
    )
    return [
        CostTotal(
            channel=row["channel"],
            currency=row["cost_currency"],
            amount=int(row["amount"] or 0),
            messages=row["messages"],
        )
        for row in grouped
    ]


def daily_costs(
    *, period: Period, channel: str | None = None
) -> dict[tuple[date, str], list[tuple[str, int]]]:
    """Cost per day and channel: ``{(day, channel): [(currency, minor units), ...]}``."""
    grouped = (
        _in_period(period, channel)
        .filter(cost__isnull=False)
        .annotate(day=TruncDate("created_at"))
        .values("day", "channel", "cost_currency")
        .annotate(amount=Sum("cost"))
        .order_by("day", "channel", "cost_currency")
    )
    costs: dict[tuple[date, str], list[tuple[str, int]]] = defaultdict(list)
    for row in grouped:
        costs[(row["day"], row["channel"])].append((row["cost_currency"], int(row["amount"] or 0)))
    return dict(costs)


def failed_deliveries(
    *, period: Period, channel: str | None = None, limit: int = 50
) -> list[CommunicationLog]:
    """The latest failed messages, newest first, for the failed-delivery report."""
    return list(
        _in_period(period, channel)
        .filter(status=MessageStatus.FAILED)
        .only(
            "id",
            "created_at",
            "failed_at",
            "channel",
            "event",
            "recipient_masked",
            "reason",
            "error",
            "provider",
            "attempts",
        )
        .order_by("-created_at", "-id")[:limit]
    )


# Reads one-time code figures since a moment: ``issued``, ``verified``, ``failed``,
# ``expired``. Filled in by the ``otp`` app at start-up (``OtpConfig.ready``), so this app
# never imports it; without it the page leaves the table out.
OtpUsageReader = Callable[..., dict[str, int]]
_otp_usage_reader: OtpUsageReader | None = None


def register_otp_usage(reader: OtpUsageReader) -> None:
    """Called by the app that issues one-time codes: where the page reads their figures."""
    global _otp_usage_reader
    _otp_usage_reader = reader


def otp_usage(*, period: Period) -> OtpUsage | None:
    """Issued / verified / failed / expired one-time codes (OT-3), or ``None`` while no
    app reports them (see ``register_otp_usage``)."""
    reader = _otp_usage_reader
    if reader is None:
        return None
    figures = reader(since=period.since)
    return OtpUsage(
        issued=int(figures.get("issued", 0)),
        verified=int(figures.get("verified", 0)),
        failed=int(figures.get("failed", 0)),
        expired=int(figures.get("expired", 0)),
    )

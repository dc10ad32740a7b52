"""Reads of one-time codes that carry rules: the usage figures (OT-3) for CM-6 analytics."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Count, Q, Sum
from django.utils import timezone

from otp.models import OneTimeCode, OtpStatus


def otp_usage(*, since: datetime | None = None) -> dict[str, int]:
    """How codes fared, counted by the moment they were asked for (``since`` on).

    ``issued``: codes that went out (``not_delivered`` ones did not). Of those,
    ``verified``, ``failed`` (wrong codes used every attempt), ``expired`` (marked, or
    still pending past their expiry), ``superseded`` (a newer code replaced them) and
    ``pending`` (still usable). ``wrong_attempts``: wrong codes tried, in all.
    """
    now = timezone.now()
    rows = OneTimeCode.objects.all()
    if since is not None:
        rows = rows.filter(created_at__gte=since)
    pending = Q(status=OtpStatus.PENDING)
    figures = rows.aggregate(
        issued=Count("id", filter=~Q(status=OtpStatus.UNDELIVERED)),
        verified=Count("id", filter=Q(status=OtpStatus.VERIFIED)),
        failed=Count("id", filter=Q(status=OtpStatus.FAILED)),
        expired=Count(
            "id", filter=Q(status=OtpStatus.EXPIRED) | (pending & Q(expires_at__lte=now))
        ),
        superseded=Count("id", filter=Q(status=OtpStatus.SUPERSEDED)),
        pending=Count("id", filter=pending & Q(expires_at__gt=now)),
        not_delivered=Count("id", filter=Q(status=OtpStatus.UNDELIVERED)),
        wrong_attempts=Sum("attempts"),
    )
    return {name: int(value or 0) for name, value in figures.items()}

"""Row locks on the message log and the settings row, taken only by services inside their
transaction. Batches skip rows another worker holds, so parallel runs take disjoint rows."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django.db.models import Q, QuerySet

from communications.models import CommunicationLog, CommunicationSettings, MessageStatus


def lock_settings() -> CommunicationSettings:
    """The one settings row, locked (created first if a database has none)."""
    CommunicationSettings.objects.get_or_create(pk=1)
    return CommunicationSettings.objects.select_for_update().get(pk=1)


def lock_deferred_messages(
    *, now: datetime, channels: Sequence[str], limit: int
) -> QuerySet[CommunicationLog]:
    """Lock up to ``limit`` deferred messages due by ``now`` on ``channels``, oldest first,
    skipping rows another worker holds, so parallel releases take disjoint batches."""
    return (
        CommunicationLog.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related("merchant")
        .filter(status=MessageStatus.QUEUED, deferred_until__lte=now, channel__in=channels)
        .order_by("pk")[:limit]
    )


def lock_abandoned_claims(*, claimed_before: datetime, limit: int) -> QuerySet[CommunicationLog]:
    """Lock up to ``limit`` queued messages claimed by a worker before ``claimed_before``
    (a worker that died while sending), oldest first, skipping rows another sweep holds."""
    return (
        CommunicationLog.objects.select_for_update(skip_locked=True)
        .filter(
            status=MessageStatus.QUEUED,
            deferred_until__isnull=True,
            claimed_at__lt=claimed_before,
        )
        .order_by("pk")[:limit]
    )


def lock_lost_dispatches(*, overdue_before: datetime, limit: int) -> QuerySet[CommunicationLog]:
    """Lock up to ``limit`` queued, unclaimed messages whose attempt was due before
    ``overdue_before`` and whose task went to the broker before it too (a lost task),
    oldest first, skipping rows another sweep holds."""
    return (
        CommunicationLog.objects.select_for_update(skip_locked=True)
        .filter(
            status=MessageStatus.QUEUED,
            deferred_until__isnull=True,
            claimed_at__isnull=True,
            next_attempt_at__lt=overdue_before,
        )
        .filter(Q(dispatched_at__isnull=True) | Q(dispatched_at__lt=overdue_before))
        .order_by("pk")[:limit]
    )

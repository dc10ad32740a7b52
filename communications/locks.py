"""Row locks on the message log, taken only by services inside their transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django.db.models import QuerySet

from communications.models import CommunicationLog, MessageStatus


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

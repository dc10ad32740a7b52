"""Platform housekeeping jobs, scheduled in ``CELERY_BEAT_SCHEDULE``."""

from __future__ import annotations

import structlog
from celery import shared_task
from django.contrib.sessions.models import Session
from django.utils import timezone

logger = structlog.get_logger(__name__)


@shared_task(name="core.tasks.clear_expired_sessions")
def clear_expired_sessions() -> int:
    """Delete sessions past their expiry. Idempotent: a second run finds nothing."""
    deleted, _ = Session.objects.filter(expire_date__lt=timezone.now()).delete()
    logger.info("expired_sessions_cleared", count=deleted)
    return deleted

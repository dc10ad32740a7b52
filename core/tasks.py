"""Celery tasks of the platform's infrastructure, scheduled in ``CELERY_BEAT_SCHEDULE``.

Every app keeps its tasks in its own ``tasks.py``, named ``<app>.<verb>_<noun>``. A
renamed task keeps its old name as a thin alias for one release, so messages queued
under the old name before a deploy still run (docs/architecture.md, "A job").
"""

from __future__ import annotations

import structlog
from celery import shared_task
from django.contrib.sessions.models import Session
from django.utils import timezone

logger = structlog.get_logger(__name__)


@shared_task(name="core.clear_expired_sessions")
def clear_expired_sessions() -> int:
    """Delete sessions past their expiry. Idempotent: a second run finds nothing."""
    deleted, _ = Session.objects.filter(expire_date__lt=timezone.now()).delete()
    logger.info("expired_sessions_cleared", count=deleted)
    return deleted


# --- Old names, kept for one release -------------------------------------------------


@shared_task(name="core.tasks.clear_expired_sessions")
def clear_expired_sessions_old_name() -> int:
    """Alias of ``core.clear_expired_sessions`` for messages queued before the rename."""
    return clear_expired_sessions()

"""Celery tasks of the one-time code app."""

from __future__ import annotations

from celery import shared_task

from otp import services


@shared_task(name="otp.expire_pending_codes")
def expire_pending_codes() -> int:
    """Periodic: mark pending codes past their expiry as expired. Idempotent."""
    return services.otp_expire_pending()


# --- Old names, kept for one release (see core.tasks) --------------------------------


@shared_task(name="otp.expire_pending")
def expire_pending_old_name() -> int:
    """Alias of ``otp.expire_pending_codes`` for messages queued before the rename."""
    return expire_pending_codes()

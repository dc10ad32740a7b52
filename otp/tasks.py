"""Celery tasks of the one-time code app."""

from __future__ import annotations

from celery import shared_task

from otp import services


@shared_task(name="otp.expire_pending")
def expire_pending() -> int:
    """Periodic: mark pending codes past their expiry as expired. Idempotent."""
    return services.otp_expire_pending()

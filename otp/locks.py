"""Row locks on one-time codes, taken only by services inside their transaction."""

from __future__ import annotations

from accounts.models import User
from merchants.models import Merchant
from otp.models import OneTimeCode, OtpStatus

# The code a recipient would be checking now: superseded and undelivered codes never are.
CURRENT_STATUSES = (OtpStatus.PENDING, OtpStatus.VERIFIED, OtpStatus.FAILED, OtpStatus.EXPIRED)


def lock_current_code(
    *, merchant: Merchant | None, recipient_digest: str, purpose: str, user: User | None
) -> OneTimeCode | None:
    """Lock the newest current code for this recipient and purpose, for this merchant
    (or the platform) and this user (or nobody). Parallel checks queue on this lock, so
    every wrong guess sees the attempts of the ones before it."""
    return (
        OneTimeCode.objects.select_for_update()
        .filter(
            merchant=merchant,
            recipient_digest=recipient_digest,
            purpose=purpose,
            user=user,
            status__in=CURRENT_STATUSES,
        )
        .order_by("-created_at", "-id")
        .first()
    )

"""Asking for and checking one-time codes (OT-1, OT-2).

``otp_request`` refuses when the OTP switch is off, within the resend cooldown or over
an hourly limit; otherwise it makes a code, keeps only its hash and hands the message to
``communications.services.send`` (which applies the channel switches, fallbacks and
its own limits, and logs the message). A message the send path holds back for an hour
with room (a volume limit) is still on its way: the code is issued and stays good for
its full time from when the message can go. A code the send path did not take is kept as
``undelivered`` and the request is refused with ``otp_not_delivered``; earlier codes
stay valid then. A delivered code supersedes the recipient's earlier pending codes.

``otp_verify`` checks the newest code under a row lock, so parallel guesses queue and
can never try more than ``max_attempts`` wrong codes. It returns a ``Verification``
rather than raising, because a wrong guess is a change that must be kept: a caller in
a transaction commits it and then reports ``verification.error``.

The code is in the message and nowhere else: not in a return value, an error or a log.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from communications.events import OTP_CODE
from communications.limits import current_window
from communications.models import CommunicationLog, CommunicationSettings, MessageStatus
from communications.selectors import communication_settings
from communications.services import Recipient, record_not_sent, send
from core.db import atomic_service
from merchants.models import ApiKey, Merchant
from otp import hashing, limits, recipients
from otp.exceptions import (
    OtpAttemptsExceeded,
    OtpDisabled,
    OtpError,
    OtpExpired,
    OtpInvalid,
    OtpInvalidRecipient,
    OtpNotDelivered,
)
from otp.locks import lock_current_code
from otp.models import OneTimeCode, OtpChannel, OtpPurpose, OtpStatus

logger = structlog.get_logger(__name__)

# How the purpose reads in the message: "123456 is your Giftwell sign-in code."
MESSAGE_PURPOSE = {
    OtpPurpose.LOGIN: "sign-in",
    OtpPurpose.PHONE_VERIFICATION: "phone verification",
    OtpPurpose.SENSITIVE_ACTION: "confirmation",
}
# Statuses of a message the send path took (queued now, delivered by a worker).
DELIVERABLE = frozenset({MessageStatus.QUEUED, MessageStatus.SENT, MessageStatus.DELIVERED})


@dataclass(frozen=True)
class IssuedCode:
    """A code on its way. The code itself is only in the message."""

    otp: OneTimeCode
    log: CommunicationLog

    @property
    def delivery_channel(self) -> str:
        """The channel the message went out on (the fallback, when the one asked is off)."""
        return str(self.log.channel)


@dataclass(frozen=True)
class Verification:
    """The outcome of a check: truthy when the code was right. ``error`` says why not."""

    otp: OneTimeCode | None
    error: OtpError | None = None

    @property
    def verified(self) -> bool:
        return self.error is None and self.otp is not None

    def __bool__(self) -> bool:
        return self.verified

    def raise_if_refused(self) -> OneTimeCode:
        """The verified code, or the refusal raised (after committing the check)."""
        if self.error is not None:
            raise self.error
        assert self.otp is not None
        return self.otp


def _address(text: str, *, kind: str | None = None) -> recipients.Address:
    try:
        return recipients.parse(text, kind=kind)
    except recipients.InvalidRecipient as exc:
        raise OtpInvalidRecipient(str(exc)) from None


def otp_request(
    *,
    purpose: str,
    channel: str,
    recipient: str,
    user: User | None = None,
    merchant: Merchant | None = None,
    api_key: ApiKey | None = None,
    ip: str | None = None,
) -> IssuedCode:
    """Send a new code for ``purpose`` to ``recipient`` (an email address for the email
    channel, an E.164 number for SMS). With a ``user``, SMS may fall back to their email.

    Asked for with an ``api_key`` (its merchant's server), the hourly limits count per
    key and per recipient; the ``ip`` is recorded but never limits. Without one (the
    browser), they count per recipient, per user and per IP address."""
    purpose = OtpPurpose(purpose)
    channel = OtpChannel(channel)
    conf = communication_settings()
    address = _address(recipient, kind=channel)
    if not conf.otp_enabled:
        raise _switched_off(channel=channel, address=address, user=user, merchant=merchant)
    scope = limits.scope_of(merchant.pk if merchant is not None else None)
    cooldown = limits.claim_cooldown(
        scope=scope,
        recipient_digest=address.digest,
        purpose=purpose,
        seconds=conf.otp_resend_cooldown_seconds,
    )
    try:
        limits.count_request(
            scope=scope,
            recipient_digest=address.digest,
            limit=conf.otp_rate_limit,
            api_key_id=api_key.pk if api_key is not None else None,
            api_key_limit=conf.otp_api_key_hourly_limit,
            user_id=user.pk if user is not None else None,
            ip=ip,
        )
        issued = _issue(
            conf=conf,
            purpose=purpose,
            channel=channel,
            address=address,
            user=user,
            merchant=merchant,
            ip=ip,
        )
    except Exception:
        cooldown.release()
        raise
    if issued.otp.status == OtpStatus.UNDELIVERED:
        cooldown.release()  # nothing went out: asking again (e.g. by email) is fine
        raise _not_delivered(issued.log)
    return issued


@atomic_service
def _issue(
    *,
    conf: CommunicationSettings,
    purpose: str,
    channel: str,
    address: recipients.Address,
    user: User | None,
    merchant: Merchant | None,
    ip: str | None,
) -> IssuedCode:
    now = timezone.now()
    minutes = max(1, conf.otp_expiry_minutes)
    otp = OneTimeCode(
        purpose=purpose,
        channel=channel,
        recipient_digest=address.digest,
        recipient_masked=address.masked,
        user=user,
        merchant=merchant,
        expires_at=now + timedelta(minutes=minutes),
        max_attempts=max(1, conf.otp_max_attempts),
        ip_address=ip,
        created_at=now,
    )
    secret = hashing.generate(conf.otp_length)
    otp.code_hash = hashing.code_hash(purpose=purpose, public_id=otp.public_id, code=secret)
    otp.save(force_insert=True)
    to = _recipient(address, user)
    [log] = send(
        OTP_CODE,
        to,
        {"code": secret, "minutes": minutes, "purpose": MESSAGE_PURPOSE[OtpPurpose(purpose)]},
        channels=[channel],
        merchant=merchant,
    )
    del secret
    otp.log = log
    if log.deferred_until is not None:
        # Held back by an hourly volume limit: the code stays good for its full time from
        # when its message can go out, so it still works when it arrives.
        otp.expires_at = max(otp.expires_at, log.deferred_until + timedelta(minutes=minutes))
    if log.status in DELIVERABLE:
        OneTimeCode.objects.filter(
            merchant=merchant,
            recipient_digest=address.digest,
            purpose=purpose,
            status=OtpStatus.PENDING,
        ).exclude(pk=otp.pk).update(status=OtpStatus.SUPERSEDED)
    else:
        otp.status = OtpStatus.UNDELIVERED
    otp.save(update_fields=["log", "status", "expires_at"])
    logger.info(
        "otp_issued",
        otp=otp.public_id,
        purpose=purpose,
        channel=channel,
        delivery_channel=log.channel,
        delivery_status=log.status,
        deferred=log.deferred_until is not None,
        merchant_id=merchant.pk if merchant else None,
    )
    return IssuedCode(otp=otp, log=log)


def _recipient(address: recipients.Address, user: User | None) -> Recipient:
    if address.kind == recipients.EMAIL:
        return Recipient(email=address.value, user=user)
    return Recipient(phone=address.value, email=user.email if user else "", user=user)


def _switched_off(
    *, channel: str, address: recipients.Address, user: User | None, merchant: Merchant | None
) -> OtpDisabled:
    """The refusal, and the log row that tells admins a code was asked for and not sent.
    The row is written once the caller's transaction has rolled back (at once, when
    there is none), so the refusal leaves that record and nothing else."""
    refusal = OtpDisabled("One-time codes are switched off on this platform; no code was sent.")

    def log_it() -> None:
        record_not_sent(
            OTP_CODE,
            _recipient(address, user),
            channel=channel,
            reason="one-time codes are switched off",
            merchant=merchant,
        )

    refusal.after_rollback.append(log_it)
    if not transaction.get_connection().in_atomic_block:
        refusal.run_after_rollback()
    return refusal


def _not_delivered(log: CommunicationLog) -> OtpNotDelivered:
    extra: dict[str, object] = {"delivery_status": log.status}
    if log.status == MessageStatus.FAILED:
        # The reason is about our templates, not for integrators; the log row has it.
        logger.warning("otp_not_delivered", log_id=log.pk, reason=log.reason)
        detail = "The code could not be sent: the message could not be prepared."
    else:
        extra["reason"] = log.reason
        detail = f"The code was not sent: {log.reason}."
    if log.status == MessageStatus.RATE_LIMITED:
        extra["retry_after"] = current_window().seconds_left  # the send path's hourly window
    return OtpNotDelivered(detail, extra=extra)


def otp_verify(
    *,
    purpose: str,
    recipient: str,
    code: str,
    user: User | None = None,
    merchant: Merchant | None = None,
    ip: str | None = None,
) -> Verification:
    """Check ``code`` against the newest code sent to ``recipient`` for ``purpose``, for
    this merchant (or the platform) and this user (or nobody). A right code works once.

    Works while the OTP switch is off: the switch stops sending, and codes already sent
    expire within minutes anyway."""
    purpose = OtpPurpose(purpose)
    address = _address(recipient)
    return _check(
        purpose=purpose,
        recipient_digest=address.digest,
        code=code,
        user=user,
        merchant=merchant,
        ip=ip,
    )


@atomic_service
def _check(
    *,
    purpose: str,
    recipient_digest: str,
    code: str,
    user: User | None,
    merchant: Merchant | None,
    ip: str | None,
) -> Verification:
    now = timezone.now()
    otp = lock_current_code(
        merchant=merchant, recipient_digest=recipient_digest, purpose=purpose, user=user
    )
    if otp is None:
        return Verification(
            None, OtpInvalid("No code is waiting for this recipient. Ask for a new one.")
        )
    if otp.status == OtpStatus.VERIFIED:
        return Verification(otp, OtpInvalid("This code has been used already. Ask for a new one."))
    if otp.status == OtpStatus.FAILED:
        return Verification(otp, _attempts_exceeded())
    if otp.status == OtpStatus.EXPIRED or now >= otp.expires_at:
        if otp.status != OtpStatus.EXPIRED:
            otp.status = OtpStatus.EXPIRED
            otp.save(update_fields=["status"])
        return Verification(otp, OtpExpired("This code has expired. Ask for a new one."))
    if hashing.matches(
        purpose=purpose, public_id=otp.public_id, code=code, stored_hash=otp.code_hash
    ):
        otp.status = OtpStatus.VERIFIED
        otp.verified_at = now
        otp.save(update_fields=["status", "verified_at"])
        logger.info("otp_verified", otp=otp.public_id, purpose=purpose)
        return Verification(otp)
    otp.attempts += 1
    left = otp.max_attempts - otp.attempts
    if left <= 0:
        otp.status = OtpStatus.FAILED
    otp.save(update_fields=["attempts", "status"])
    logger.info("otp_wrong_code", otp=otp.public_id, attempts=otp.attempts, ip=ip)
    if left <= 0:
        return Verification(otp, _attempts_exceeded())
    plural = "attempt" if left == 1 else "attempts"
    return Verification(
        otp,
        OtpInvalid(
            f"That code is wrong; {left} {plural} left.", extra={"attempts_remaining": left}
        ),
    )


def _attempts_exceeded() -> OtpAttemptsExceeded:
    return OtpAttemptsExceeded(
        "Too many wrong codes were tried; this code no longer works. Ask for a new one.",
        extra={"attempts_remaining": 0},
    )


def otp_expire_pending(*, now: datetime | None = None) -> int:
    """Mark pending codes past their expiry as expired (the usage figures count them as
    expired either way; this keeps the table honest for anyone reading it)."""
    return OneTimeCode.objects.filter(
        status=OtpStatus.PENDING, expires_at__lte=now or timezone.now()
    ).update(status=OtpStatus.EXPIRED)

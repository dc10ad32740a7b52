"""One-time codes (OT-1): who asked for one, for what, where it went and what became of it.

The code itself is never stored: only an HMAC of it, keyed from ``SECRET_KEY`` for its
purpose and bound to the row (see ``otp.hashing``). The recipient is kept as a keyed
digest (to find the code again) and a masked form (for people to recognise).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from core.ids import PublicIdFactory


class OtpPurpose(models.TextChoices):
    LOGIN = "login", "Sign-in"
    PHONE_VERIFICATION = "phone_verification", "Phone verification"
    SENSITIVE_ACTION = "sensitive_action", "Sensitive action"


class OtpChannel(models.TextChoices):
    SMS = "sms", "SMS"
    EMAIL = "email", "Email"


class OtpStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    VERIFIED = "verified", "Verified"
    FAILED = "failed", "Failed (attempts used up)"
    EXPIRED = "expired", "Expired"
    SUPERSEDED = "superseded", "Superseded by a newer code"
    # The send path did not take the message (channel off without fallback, limits,
    # no template): the code was never usable and earlier codes stay valid.
    UNDELIVERED = "undelivered", "Not delivered"


class OneTimeCode(models.Model):
    public_id = models.CharField(
        max_length=40, unique=True, default=PublicIdFactory("otp"), editable=False
    )
    purpose = models.CharField(max_length=24, choices=OtpPurpose.choices)
    channel = models.CharField(
        max_length=8, choices=OtpChannel.choices, help_text="The channel asked for."
    )
    recipient_digest = models.CharField(max_length=64, editable=False)
    recipient_masked = models.CharField(max_length=120)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
    )
    # API-issued codes belong to the key's merchant and are only verified for it;
    # platform codes (sign-in, account checks) have none.
    merchant = models.ForeignKey(
        "merchants.Merchant",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
    )
    code_hash = models.CharField(max_length=64, editable=False)
    expires_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0, help_text="Wrong codes tried.")
    max_attempts = models.PositiveSmallIntegerField()
    status = models.CharField(max_length=12, choices=OtpStatus.choices, default=OtpStatus.PENDING)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    verified_at = models.DateTimeField(null=True, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    log = models.ForeignKey(
        "communications.CommunicationLog",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        verbose_name = "one-time code"
        ordering = ("-created_at", "-id")
        indexes = [
            models.Index(
                fields=["merchant", "recipient_digest", "purpose", "status"],
                name="otp_recipient_lookup",
            ),
            models.Index(fields=["status", "expires_at"], name="otp_status_expiry"),
            models.Index(fields=["created_at"], name="otp_created"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(attempts__lte=models.F("max_attempts")),
                name="otp_attempts_within_max",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_purpose_display()} code to {self.recipient_masked}: {self.status}"

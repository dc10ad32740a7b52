"""Merchants are the tenants. Everything a merchant owns carries ``merchant_id`` itself,
and hot indexes and unique constraints lead with it (see SPEC "Scale")."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone

from core.ids import PublicIdFactory
from core.money import CURRENCY_CHOICES


class MerchantStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    SUSPENDED = "suspended", "Suspended"
    CLOSED = "closed", "Closed"


class Merchant(models.Model):
    public_id = models.CharField(
        max_length=40, unique=True, editable=False, default=PublicIdFactory("mer")
    )
    name = models.CharField(max_length=120)
    slug = models.SlugField(
        max_length=60, unique=True, help_text="Used in addresses: /s/<slug>/ and /m/<slug>/."
    )
    currency = models.CharField(
        max_length=3, choices=CURRENCY_CHOICES, default="EUR", help_text="ISO 4217 code."
    )
    status = models.CharField(
        max_length=16, choices=MerchantStatus.choices, default=MerchantStatus.ACTIVE
    )
    logo = models.ImageField(upload_to="merchants/logos/", blank=True)
    brand_colour = models.CharField(
        max_length=7,
        default="#1f4f8a",
        validators=[RegexValidator(r"^#[0-9a-fA-F]{6}$", "Use a hex colour such as #1f4f8a.")],
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name

    @property
    def is_active(self) -> bool:
        return self.status == MerchantStatus.ACTIVE


class Role(models.TextChoices):
    CLERK = "clerk", "Clerk"
    MANAGER = "manager", "Manager"
    OWNER = "owner", "Owner"


ROLE_RANK: dict[str, int] = {Role.CLERK: 1, Role.MANAGER: 2, Role.OWNER: 3}


class Membership(models.Model):
    """A person's job at a merchant. Clerks redeem and look up; managers also issue,
    refund and void; owners do everything, including team, keys and payouts."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.CLERK)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ("merchant", "user")
        constraints = [
            models.UniqueConstraint(fields=["merchant", "user"], name="membership_unique_user"),
        ]
        indexes = [models.Index(fields=["user", "merchant"], name="membership_user_idx")]

    def __str__(self) -> str:
        return f"{self.user} @ {self.merchant} ({self.role})"

    def has_role(self, required: str) -> bool:
        return ROLE_RANK[self.role] >= ROLE_RANK[required]


class Invitation(models.Model):
    """An offer of a role at a merchant to whoever proves they hold ``email``.

    The link in the message carries a signed token naming the invitation and its current
    ``nonce``; a resend draws a new nonce, so only the newest link works. It is accepted
    once, before ``expires_at``, by a signed-in account whose verified address is
    ``email``, or by setting a password from the link (which proves the address). Until
    then nobody gets the role, whatever accounts claim the address.
    """

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="invitations")
    public_id = models.CharField(
        max_length=40, unique=True, editable=False, default=PublicIdFactory("inv")
    )
    email = models.EmailField()
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.CLERK)
    nonce = models.CharField(max_length=64, editable=False)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    sent_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at",)
        constraints = [
            # One open invitation per person and merchant: inviting again resends it.
            models.UniqueConstraint(
                fields=["merchant", "email"],
                condition=models.Q(accepted_at__isnull=True, revoked_at__isnull=True),
                name="invitation_one_open_per_email",
            ),
        ]
        indexes = [models.Index(fields=["email", "merchant"], name="invitation_email_idx")]

    def __str__(self) -> str:
        return f"{self.email} to {self.merchant} ({self.role})"

    def is_open(self, now: datetime | None = None) -> bool:
        now = now or timezone.now()
        return self.accepted_at is None and self.revoked_at is None and self.expires_at > now

    @property
    def state(self) -> str:
        if self.accepted_at is not None:
            return "accepted"
        if self.revoked_at is not None:
            return "withdrawn"
        if self.expires_at <= timezone.now():
            return "expired"
        return "open"


class ApiKey(models.Model):
    """A merchant's credential for the REST API. Only a SHA-256 digest of the key is
    stored; the key itself is shown once, when it is created."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="api_keys")
    public_id = models.CharField(
        max_length=40, unique=True, editable=False, default=PublicIdFactory("key")
    )
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True, editable=False)
    secret_hash = models.CharField(max_length=64, editable=False)
    scopes = models.JSONField(default=list, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at",)
        indexes = [models.Index(fields=["merchant", "created_at"], name="apikey_merchant_idx")]

    def __str__(self) -> str:
        return f"{self.name} ({self.display_prefix}…)"

    @property
    def display_prefix(self) -> str:
        return f"gk_live_{self.prefix}"

    def is_usable(self, now: datetime | None = None) -> bool:
        now = now or timezone.now()
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or self.expires_at > now


class IdempotencyRecord(models.Model):
    """The first response to a POST with an ``Idempotency-Key``, replayed for retries.

    Written in the same transaction as the operation it answers, so the key and the
    effect commit together or not at all; the unique constraint makes a concurrent
    retry wait for the first and then replay it.
    """

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=300)
    response_status = models.PositiveSmallIntegerField()
    response_body = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["merchant", "key"], name="idempotency_merchant_key"),
        ]
        indexes = [models.Index(fields=["created_at"], name="idempotency_created")]

    def __str__(self) -> str:
        return f"{self.method} {self.path} [{self.response_status}]"

"""Products, gift cards and the ledger (GC-1, GC-2, GC-6, GC-7).

A card's ``balance`` is a denormalised copy of the sum of its ledger; both are written
together by ``giftcards.services`` and nowhere else. The ledger is append-only: the
model refuses updates and deletes, and on PostgreSQL a trigger refuses them too.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Upper
from django.utils import timezone

from core.ids import PublicIdFactory
from core.money import CURRENCY_CHOICES
from merchants.models import ApiKey, Merchant


class Product(models.Model):
    """A card design in a merchant's catalogue: fixed denominations, or a custom amount
    between ``min_amount`` and ``max_amount``."""

    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="products")
    public_id = models.CharField(
        max_length=40, unique=True, editable=False, default=PublicIdFactory("prod")
    )
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True, max_length=2000)
    image = models.ImageField(upload_to="products/", blank=True)
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    denominations = models.JSONField(
        default=list, blank=True, help_text="Fixed amounts in minor units, e.g. [2500, 5000]."
    )
    min_amount = models.PositiveIntegerField(null=True, blank=True)
    max_amount = models.PositiveIntegerField(null=True, blank=True)
    validity_days = models.PositiveIntegerField(
        null=True, blank=True, help_text="Days a card stays valid after issue; empty: no expiry."
    )
    reloadable = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("name",)
        indexes = [models.Index(fields=["merchant", "is_active"], name="product_merchant_active")]
        constraints = [
            models.CheckConstraint(
                condition=Q(min_amount__isnull=True)
                | Q(max_amount__isnull=True)
                | Q(min_amount__lte=models.F("max_amount")),
                name="product_min_le_max",
            ),
            models.CheckConstraint(
                condition=Q(min_amount__isnull=True) | Q(min_amount__gt=0),
                name="product_min_positive",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_custom_amount(self) -> bool:
        return not self.denominations


class CardStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    ACTIVE = "active", "Active"
    REDEEMED = "redeemed", "Redeemed"
    EXPIRED = "expired", "Expired"
    VOID = "void", "Void"


# Cards in these states can still run past their date; void and expired ones are final.
EXPIRABLE_STATUSES = (CardStatus.ACTIVE, CardStatus.REDEEMED, CardStatus.PENDING)


class GiftCard(models.Model):
    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="gift_cards")
    public_id = models.CharField(
        max_length=40, unique=True, editable=False, default=PublicIdFactory("gc")
    )
    product = models.ForeignKey(
        Product, null=True, blank=True, on_delete=models.PROTECT, related_name="gift_cards"
    )
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    initial_amount = models.PositiveBigIntegerField()
    balance = models.BigIntegerField()
    status = models.CharField(max_length=16, choices=CardStatus.choices, default=CardStatus.ACTIVE)
    reloadable = models.BooleanField(default=True)
    code_digest = models.CharField(max_length=64, editable=False)
    code_encrypted = models.TextField(editable=False)
    last4 = models.CharField(max_length=4, editable=False)
    expires_at = models.DateTimeField(null=True, blank=True)
    recipient_email = models.EmailField(blank=True)
    recipient_phone = models.CharField(max_length=32, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The version of the card's shareable links: a link carries the version it was made
    # with and opens the card only while it is current, so raising it revokes every
    # link made before.
    link_version = models.PositiveIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("-created_at",)
        constraints = [
            models.CheckConstraint(condition=Q(balance__gte=0), name="giftcard_balance_gte_0"),
            models.UniqueConstraint(
                fields=["merchant", "code_digest"], name="giftcard_merchant_code_unique"
            ),
        ]
        indexes = [
            models.Index(fields=["merchant", "-created_at"], name="giftcard_merchant_created"),
            models.Index(fields=["merchant", "status"], name="giftcard_merchant_status"),
            models.Index(fields=["merchant", "last4"], name="giftcard_merchant_last4"),
            # A person's received cards are found by their email, ignoring case.
            models.Index(Upper("recipient_email"), name="giftcard_recipient_email_ci"),
            models.Index(
                fields=["expires_at"],
                name="giftcard_expiry_due",
                condition=Q(status__in=["active", "redeemed", "pending"], expires_at__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"Card …{self.last4}"

    @property
    def masked_code(self) -> str:
        return f"····-····-····-{self.last4}"

    def is_expired(self, now: Any = None) -> bool:
        now = now or timezone.now()
        return self.expires_at is not None and self.expires_at <= now

    # The one answer to "can money move on this card now?", asked by the services before
    # they write, by the till and card pages before they offer a form, and by every page
    # that shows a card (shop, wallet, orders) before it calls it usable.

    def current_status(self, now: Any = None) -> str:
        """The status as it stands now: an active card past its date is expired, whether
        or not the nightly expiry job has run yet."""
        if self.status == CardStatus.ACTIVE and self.is_expired(now):
            return CardStatus.EXPIRED
        return str(self.status)

    def has_ended(self, now: Any = None) -> bool:
        """Void or expired (by status or by date): no money moves on it again and it is
        not sent again."""
        return self.status in (CardStatus.VOID, CardStatus.EXPIRED) or self.is_expired(now)

    def is_usable(self, now: Any = None) -> bool:
        """Something can be spent from it now: nothing refuses a spend and it holds money."""
        return self.spend_refusal(now) is None and self.balance > 0

    def spend_refusal(self, now: Any = None) -> str | None:
        """Why nothing can be spent from or loaded onto the card now: ``"void"``,
        ``"expired"`` (by status or by date) or ``"pending"``; None when it can. A card
        spent to zero is not refused here: what it holds is a question of the amount."""
        if self.status == CardStatus.VOID:
            return "void"
        if self.status == CardStatus.EXPIRED or self.is_expired(now):
            return "expired"
        if self.status == CardStatus.PENDING:
            return "pending"
        return None

    def refund_refusal(self, now: Any = None) -> str | None:
        """Why a redemption can no longer be given back to the card: ``"void"`` or
        ``"expired"``; None when it can (a pending card can take a refund)."""
        if self.status == CardStatus.VOID:
            return "void"
        if self.status == CardStatus.EXPIRED or self.is_expired(now):
            return "expired"
        return None

    def reload_refusal(self, now: Any = None) -> str | None:
        """Why nothing can be loaded onto the card: a spend refusal, or
        ``"not_reloadable"``; None when it can be reloaded."""
        return self.spend_refusal(now) or (None if self.reloadable else "not_reloadable")

    @property
    def is_untouched(self) -> bool:
        """Nothing was spent, voided or expired (by status or by date): the whole first
        amount is still on it (what lets an order's cards be taken back)."""
        return (
            self.balance >= self.initial_amount
            and self.status in (CardStatus.ACTIVE, CardStatus.PENDING)
            and not self.has_ended()
        )


class TransactionKind(models.TextChoices):
    ISSUE = "issue", "Issue"
    REDEEM = "redeem", "Redeem"
    RELOAD = "reload", "Reload"
    REFUND = "refund", "Refund"
    ADJUST = "adjust", "Adjust"
    EXPIRE = "expire", "Expire"
    VOID = "void", "Void"


class AppendOnlyQuerySet(models.QuerySet["Transaction"]):
    def update(self, **kwargs: Any) -> int:
        raise TypeError("The ledger is append-only: rows are never updated.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise TypeError("The ledger is append-only: rows are never deleted.")


class Transaction(models.Model):
    """One ledger entry: a signed ``amount`` and the card's ``balance_after``."""

    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="+")
    gift_card = models.ForeignKey(GiftCard, on_delete=models.PROTECT, related_name="transactions")
    public_id = models.CharField(
        max_length=40, unique=True, editable=False, default=PublicIdFactory("txn")
    )
    kind = models.CharField(max_length=16, choices=TransactionKind.choices)
    amount = models.BigIntegerField()
    balance_after = models.BigIntegerField()
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    reference = models.CharField(max_length=200, blank=True)
    reason = models.CharField(max_length=500, blank=True)
    related = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="refunds"
    )
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_api_key = models.ForeignKey(
        ApiKey, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    idempotency_key = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    objects: ClassVar[models.Manager[Transaction]] = AppendOnlyQuerySet.as_manager()

    # Not stored: True on the row a service returns when its idempotency key was used
    # before, so the row is the first call's (see ``giftcards.idempotency``).
    replayed: bool = False

    class Meta:
        ordering = ("-created_at", "-id")
        constraints = [
            models.CheckConstraint(
                condition=Q(balance_after__gte=0), name="transaction_balance_after_gte_0"
            ),
            # One operation per idempotency key and merchant, whatever the door (API,
            # till, dashboard, bulk job): a concurrent duplicate fails here and rolls back.
            models.UniqueConstraint(
                fields=["merchant", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="txn_merchant_idempotency_key",
            ),
        ]
        indexes = [
            models.Index(
                fields=["merchant", "gift_card", "-created_at"], name="txn_merchant_card_created"
            ),
            models.Index(fields=["merchant", "-created_at"], name="txn_merchant_created"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount} {self.currency}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise TypeError("The ledger is append-only: rows are never updated.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise TypeError("The ledger is append-only: rows are never deleted.")

    @property
    def actor_label(self) -> str:
        if self.actor_user_id:
            return str(self.actor_user)
        if self.actor_api_key_id:
            return f"API key {self.actor_api_key}"
        return "system"


class LookupChannel(models.TextChoices):
    API = "api", "API"
    TILL = "till", "Till"
    DASHBOARD = "dashboard", "Dashboard"
    STOREFRONT = "storefront", "Storefront"
    WALLET = "wallet", "Wallet"


class FailedCodeLookup(models.Model):
    """A code that matched no card. Kept to spot guessing; the audit log takes these over."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    channel = models.CharField(max_length=16, choices=LookupChannel.choices)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    api_key = models.ForeignKey(ApiKey, null=True, blank=True, on_delete=models.SET_NULL)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    throttled = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ("-created_at",)
        indexes = [
            models.Index(fields=["merchant", "-created_at"], name="failedlookup_merchant_created")
        ]

    def __str__(self) -> str:
        return f"failed lookup via {self.channel} at {self.created_at:%Y-%m-%d %H:%M}"


class BulkIssueStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class BulkIssueKind(models.TextChoices):
    COUNT = "count", "Same amount"
    CSV = "csv", "CSV upload"


class BulkIssueJob(models.Model):
    """One bulk issuance (GC-9): ``total`` cards of one amount, or one card per CSV row.

    The job carries everything the task needs (the parsed rows, as JSON), so no uploaded
    file outlives the request. Which card a row produced is recorded on the card itself
    (``metadata = {"bulk_job": public_id, "row": n}``), in the same transaction that
    creates it, so a re-run of the task can tell exactly which rows are already issued.
    """

    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="+")
    public_id = models.CharField(
        max_length=40, unique=True, editable=False, default=PublicIdFactory("bulk")
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=8, choices=BulkIssueKind.choices)
    status = models.CharField(
        max_length=8, choices=BulkIssueStatus.choices, default=BulkIssueStatus.QUEUED
    )
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    amount = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="Minor units of every card (same-amount jobs)."
    )
    product = models.ForeignKey(
        Product, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    expires_at = models.DateTimeField(null=True, blank=True)
    filename = models.CharField(max_length=255, blank=True)
    rows = models.JSONField(
        default=list, blank=True, help_text="CSV jobs: the parsed rows the task issues from."
    )
    total = models.PositiveIntegerField()
    processed = models.PositiveIntegerField(default=0)
    succeeded = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True, help_text='[{"row": n, "message": ...}]')
    failure_reason = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at",)
        indexes = [
            models.Index(fields=["merchant", "-created_at"], name="bulkjob_merchant_created")
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(processed__lte=models.F("total")), name="bulkjob_processed_le_total"
            ),
        ]

    def __str__(self) -> str:
        return f"Bulk issue {self.public_id} ({self.get_status_display().lower()})"

    @property
    def is_finished(self) -> bool:
        return self.status in (BulkIssueStatus.DONE, BulkIssueStatus.FAILED)

    @property
    def percent(self) -> int:
        return 100 if not self.total else self.processed * 100 // self.total

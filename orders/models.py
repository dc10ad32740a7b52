"""Orders, their lines, the cards each unit of a line produced, payment provider events
and card deliveries (SF-2..SF-5).

An order moves only through ``orders.services``; amounts are integer minor units in the
order's currency. Every row carries ``merchant_id`` itself (SPEC "Scale"). No payment
card data is stored anywhere (PR-3): the provider keeps it, we keep its references.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Upper
from django.utils import timezone

from communications.models import CommunicationLog
from core.ids import PublicIdFactory
from core.money import CURRENCY_CHOICES
from giftcards.models import GiftCard, Product
from merchants.models import Merchant

MAX_QUANTITY = 10
MAX_MESSAGE_LENGTH = 500


class OrderStatus(models.TextChoices):
    PENDING = "pending", "Awaiting payment"
    PAID = "paid", "Paid"
    FULFILLED = "fulfilled", "Fulfilled"
    FAILED = "failed", "Payment failed"
    REFUNDED = "refunded", "Refunded"
    CANCELLED = "cancelled", "Cancelled"


class PaymentProvider(models.TextChoices):
    TEST = "test", "Test mode"
    STRIPE = "stripe", "Stripe"


class Order(models.Model):
    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="orders")
    public_id = models.CharField(
        max_length=40, unique=True, editable=False, default=PublicIdFactory("ord")
    )
    buyer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="orders",
    )
    buyer_email = models.EmailField()
    buyer_name = models.CharField(max_length=120, blank=True)
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    total = models.PositiveBigIntegerField(help_text="Minor units.")
    status = models.CharField(
        max_length=16, choices=OrderStatus.choices, default=OrderStatus.PENDING
    )
    provider = models.CharField(
        max_length=16, choices=PaymentProvider.choices, default=PaymentProvider.TEST
    )
    provider_reference = models.CharField(
        max_length=255, blank=True, help_text="The provider's checkout id (Stripe: cs_...)."
    )
    provider_payment_id = models.CharField(
        max_length=255, blank=True, help_text="The provider's payment id (Stripe: pi_...)."
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)
    paid_at = models.DateTimeField(null=True, blank=True)
    fulfilled_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    failed_reason = models.CharField(max_length=300, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    refunded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at",)
        # Refunding moves money back at the provider and voids cards: platform staff
        # need this in addition to viewing orders.
        permissions = [("refund_order", "Can refund orders")]
        indexes = [
            models.Index(fields=["merchant", "-created_at"], name="order_merchant_created"),
            models.Index(fields=["merchant", "status"], name="order_merchant_status"),
            models.Index(fields=["buyer", "-created_at"], name="order_buyer_created"),
            # Guest orders are found by the buyer's email, ignoring case.
            models.Index(Upper("buyer_email"), name="order_buyer_email_ci"),
            # The hourly sweep of abandoned checkouts reads only pending orders.
            models.Index(
                fields=["created_at"],
                name="order_pending_created",
                condition=Q(status="pending"),
            ),
            models.Index(
                fields=["provider", "provider_payment_id"],
                name="order_provider_payment",
                condition=~Q(provider_payment_id=""),
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(total__gte=0), name="order_total_gte_0"),
            models.UniqueConstraint(
                fields=["provider", "provider_reference"],
                condition=~Q(provider_reference=""),
                name="order_provider_reference_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"Order {self.public_id}"

    @property
    def is_test(self) -> bool:
        return self.provider == PaymentProvider.TEST


class OrderLine(models.Model):
    """``quantity`` cards of ``amount`` each, for the buyer or as a gift."""

    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="+")
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="+")
    amount = models.PositiveBigIntegerField(help_text="Minor units, per card.")
    quantity = models.PositiveSmallIntegerField(default=1)
    is_gift = models.BooleanField(default=False)
    recipient_name = models.CharField(max_length=120, blank=True)
    recipient_email = models.EmailField(blank=True)
    recipient_phone = models.CharField(max_length=16, blank=True, help_text="E.164.")
    message = models.CharField(max_length=MAX_MESSAGE_LENGTH, blank=True)
    deliver_at = models.DateTimeField(null=True, blank=True, help_text="Empty: at once.")
    buyer_timezone = models.CharField(max_length=64, blank=True, help_text="IANA name.")

    class Meta:
        ordering = ("order", "pk")
        indexes = [models.Index(fields=["merchant", "order"], name="orderline_merchant_order")]
        constraints = [
            models.CheckConstraint(
                condition=Q(quantity__gte=1) & Q(quantity__lte=MAX_QUANTITY),
                name="orderline_quantity_1_10",
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="orderline_amount_gt_0"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.amount} {self.order.currency}"

    @property
    def subtotal(self) -> int:
        return self.amount * self.quantity


class FulfilledCard(models.Model):
    """Which card unit ``unit_index`` of a line produced; written with the card."""

    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="+")
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="cards")
    line = models.ForeignKey(OrderLine, on_delete=models.PROTECT, related_name="cards")
    unit_index = models.PositiveSmallIntegerField()
    gift_card = models.OneToOneField(GiftCard, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ("line", "unit_index")
        constraints = [
            models.UniqueConstraint(fields=["line", "unit_index"], name="fulfilledcard_line_unit"),
        ]
        indexes = [models.Index(fields=["merchant", "order"], name="fulfilledcard_merchant_ord")]

    def __str__(self) -> str:
        return f"{self.order_id}/{self.line_id}#{self.unit_index}"


class PaymentEventOutcome(models.TextChoices):
    RECEIVED = "received", "Received"
    APPLIED = "applied", "Applied"
    IGNORED = "ignored", "Ignored"
    REFUSED = "refused", "Refused"


class PaymentEvent(models.Model):
    """A provider's webhook event, recorded once: a repeated event id changes nothing.

    Not every event names one of our orders (nor a merchant), so ``merchant`` is
    nullable here, unlike on the order rows."""

    provider = models.CharField(max_length=16, choices=PaymentProvider.choices)
    event_id = models.CharField(max_length=255)
    type = models.CharField(max_length=100)
    merchant = models.ForeignKey(
        Merchant, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    order = models.ForeignKey(
        Order, null=True, blank=True, on_delete=models.PROTECT, related_name="payment_events"
    )
    outcome = models.CharField(
        max_length=16, choices=PaymentEventOutcome.choices, default=PaymentEventOutcome.RECEIVED
    )
    detail = models.CharField(max_length=300, blank=True)
    received_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ("-received_at",)
        constraints = [
            models.UniqueConstraint(fields=["provider", "event_id"], name="paymentevent_unique"),
        ]
        indexes = [models.Index(fields=["order", "received_at"], name="paymentevent_order")]

    def __str__(self) -> str:
        return f"{self.provider} {self.type} {self.event_id}"


class DeliveryStatus(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


# A scheduled delivery still waiting this long after its time is shown as late.
LATE_AFTER = timedelta(minutes=5)


class CardDelivery(models.Model):
    """Sending one fulfilled card to its recipient, now or at ``deliver_at``.

    The code itself is not kept here: it is read from the card's encrypted copy when
    the message is rendered, and lives only in the message being sent."""

    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="+")
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="deliveries")
    card = models.OneToOneField(FulfilledCard, on_delete=models.PROTECT, related_name="delivery")
    channels = models.JSONField(default=list, help_text='e.g. ["email", "sms"]')
    recipient_email = models.EmailField(blank=True)
    recipient_phone = models.CharField(max_length=16, blank=True)
    deliver_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(
        max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.SCHEDULED
    )
    attempted_at = models.DateTimeField(null=True, blank=True)
    email_log = models.ForeignKey(
        CommunicationLog, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    sms_log = models.ForeignKey(
        CommunicationLog, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    failure_reason = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ("deliver_at", "pk")
        indexes = [
            models.Index(
                fields=["deliver_at"],
                name="carddelivery_due",
                condition=Q(status="scheduled"),
            ),
            models.Index(fields=["merchant", "order"], name="carddelivery_merchant_order"),
        ]

    def __str__(self) -> str:
        return f"Delivery of {self.card_id} ({self.status})"

    def is_late(self, now: datetime | None = None) -> bool:
        """Still waiting well past its time: the job that sends due cards runs every
        minute, so a delivery this far behind means it is not running (or failing)."""
        now = now or timezone.now()
        return self.status == DeliveryStatus.SCHEDULED and self.deliver_at < now - LATE_AFTER

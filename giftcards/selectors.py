"""Reads with rules about cards and the ledger, always from a merchant."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone

from giftcards.exceptions import CardNotFound, TransactionNotFound
from giftcards.models import GiftCard, Product, Transaction, TransactionKind
from merchants.models import Merchant

_CONFUSABLE = str.maketrans("OIL", "011")


def giftcard_list(
    *,
    merchant: Merchant,
    status: str | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    search: str | None = None,
) -> QuerySet[GiftCard]:
    qs = GiftCard.objects.filter(merchant=merchant).select_related("product")
    if status:
        qs = qs.filter(status=status)
    if created_after:
        qs = qs.filter(created_at__gte=created_after)
    if created_before:
        qs = qs.filter(created_at__lt=created_before)
    if search:
        qs = qs.filter(_search_filter(search))
    return qs.order_by("-created_at", "-id")


def _search_filter(search: str) -> Q:
    """Last 4 symbols, an id or a recipient's email. A full code is never searched for
    here: it goes through the throttled, recorded lookup (``giftcards.lookups``), so the
    card list cannot be used to test codes."""
    term = search.strip()
    if term.startswith("gc_"):
        return Q(public_id=term)
    compact = term.replace("-", "").replace(" ", "").upper()
    if len(compact) == 4:
        return Q(last4=compact.translate(_CONFUSABLE))
    return Q(recipient_email__iexact=term) if "@" in term else Q(pk__in=[])


def giftcard_get(*, merchant: Merchant, public_id: str) -> GiftCard:
    card = (
        GiftCard.objects.filter(merchant=merchant, public_id=public_id)
        .select_related("product")
        .first()
    )
    if card is None:
        raise CardNotFound("No gift card with that id.")
    return card


def transaction_list(
    *, merchant: Merchant, gift_card: GiftCard | None = None
) -> QuerySet[Transaction]:
    qs = Transaction.objects.filter(merchant=merchant).select_related(
        "gift_card", "related", "actor_user", "actor_api_key"
    )
    if gift_card is not None:
        qs = qs.filter(gift_card=gift_card)
    return qs.order_by("-created_at", "-id")


def transaction_get(*, merchant: Merchant, public_id: str) -> Transaction:
    txn = Transaction.objects.filter(merchant=merchant, public_id=public_id).first()
    if txn is None:
        raise TransactionNotFound("No transaction with that id.")
    return txn


def product_list(*, merchant: Merchant, active_only: bool = False) -> QuerySet[Product]:
    qs = Product.objects.filter(merchant=merchant)
    if active_only:
        qs = qs.filter(is_active=True)
    return qs.order_by("name")


def product_get(*, merchant: Merchant, public_id: str) -> Product | None:
    return Product.objects.filter(merchant=merchant, public_id=public_id).first()


@dataclass(frozen=True)
class CurrencySummary:
    currency: str
    outstanding: int  # what the merchant still owes card holders (active and pending cards)
    live_cards: int
    redeemed_today: int
    redemptions_today: int
    issued_30d: int
    cards_issued_30d: int


def programme_summary(*, merchant: Merchant, now: datetime | None = None) -> list[CurrencySummary]:
    """The dashboard's headline figures, per currency, in three aggregate queries."""
    now = now or timezone.now()
    start_of_day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    live = (
        GiftCard.objects.filter(merchant=merchant, status__in=["active", "pending"])
        .values("currency")
        .annotate(total=Sum("balance"), cards=Count("id"))
    )
    spent = (
        Transaction.objects.filter(
            merchant=merchant, kind=TransactionKind.REDEEM, created_at__gte=start_of_day
        )
        .values("currency")
        .annotate(total=Sum("amount"), count=Count("id"))
    )
    issued = (
        Transaction.objects.filter(
            merchant=merchant,
            kind=TransactionKind.ISSUE,
            created_at__gte=now - timedelta(days=30),
        )
        .values("currency")
        .annotate(total=Sum("amount"), count=Count("id"))
    )
    rows: dict[str, dict[str, int]] = {}
    for row in live:
        rows.setdefault(row["currency"], {}).update(outstanding=row["total"], live=row["cards"])
    for row in spent:
        rows.setdefault(row["currency"], {}).update(spent=-row["total"], spends=row["count"])
    for row in issued:
        rows.setdefault(row["currency"], {}).update(issued=row["total"], issues=row["count"])
    if not rows:
        rows[merchant.currency] = {}
    return [
        CurrencySummary(
            currency=currency,
            outstanding=values.get("outstanding", 0) or 0,
            live_cards=values.get("live", 0),
            redeemed_today=values.get("spent", 0) or 0,
            redemptions_today=values.get("spends", 0),
            issued_30d=values.get("issued", 0) or 0,
            cards_issued_30d=values.get("issues", 0),
        )
        for currency, values in sorted(rows.items())
    ]

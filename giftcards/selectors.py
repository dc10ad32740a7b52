"""Reads with rules about cards and the ledger, always from a merchant."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Q, QuerySet

from giftcards import codes
from giftcards.exceptions import CardNotFound, TransactionNotFound
from giftcards.models import GiftCard, Product, Transaction
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
    """Last 4 symbols, a full code (matched by digest, never stored in clear), or an id."""
    term = search.strip()
    if term.startswith("gc_"):
        return Q(public_id=term)
    compact = term.replace("-", "").replace(" ", "").upper()
    if len(compact) == 4:
        return Q(last4=compact.translate(_CONFUSABLE))
    try:
        return Q(code_digest=codes.digest(codes.normalise(term)))
    except codes.InvalidCode:
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

"""Row locks on gift cards, taken only by services, inside their transaction."""

from __future__ import annotations

from django.db.models import QuerySet

from giftcards.exceptions import CardNotFound
from giftcards.models import GiftCard
from merchants.models import Merchant


def _locked(merchant: Merchant) -> QuerySet[GiftCard]:
    # No join and no ORDER BY: this is the hottest query of a redemption, and the
    # lookups below are unique.
    return GiftCard.objects.select_for_update().filter(merchant=merchant).order_by()


def _one(qs: QuerySet[GiftCard]) -> GiftCard | None:
    rows = list(qs[:1])
    return rows[0] if rows else None


def lock_card(
    *, merchant: Merchant, card_id: int | None = None, public_id: str | None = None
) -> GiftCard:
    """Lock the merchant's card by primary key or by public id (one query either way)."""
    if (card_id is None) == (public_id is None):
        raise TypeError("Pass exactly one of card_id and public_id.")
    qs = _locked(merchant)
    qs = qs.filter(pk=card_id) if card_id is not None else qs.filter(public_id=public_id)
    card = _one(qs)
    if card is None:
        raise CardNotFound("No gift card with that id.")
    return card


def lock_card_by_public_id(*, merchant: Merchant, public_id: str) -> GiftCard:
    card = _one(_locked(merchant).filter(public_id=public_id))
    if card is None:
        raise CardNotFound("No gift card with that id.")
    return card


def lock_card_by_digest(*, merchant: Merchant, code_digest: str) -> GiftCard | None:
    return _one(_locked(merchant).filter(code_digest=code_digest))

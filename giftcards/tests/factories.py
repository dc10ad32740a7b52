"""factory-boy factories of the catalogue and of cards.

A card is only ever made by ``giftcard_issue``: its balance is then the sum of its
ledger, as in production, and the plain code is at hand (``IssuedCard.code``).
"""

from __future__ import annotations

from typing import Any

import factory

from giftcards.models import Product
from giftcards.services import IssuedCard, giftcard_issue
from tests.factories import MerchantFactory


class ProductFactory(factory.django.DjangoModelFactory[Product]):
    """A card design priced in its merchant's currency: sold in fixed amounts (€25 and
    €50 unless told otherwise), or in any amount of a range when given ``min_amount`` or
    ``max_amount``."""

    class Meta:
        model = Product

    merchant = factory.SubFactory(MerchantFactory)
    name = "Coffee card"
    currency = factory.LazyAttribute(lambda product: product.merchant.currency)
    min_amount = None
    max_amount = None
    denominations = factory.LazyAttribute(
        lambda product: [] if product.min_amount or product.max_amount else [2500, 5000]
    )


class IssuedCardFactory(factory.Factory[IssuedCard]):
    """A card issued by ``giftcard_issue`` (any of its keyword arguments may be given):
    the result carries the ``card``, its plain ``code`` and its ``issue`` ``transaction``."""

    class Meta:
        model = IssuedCard

    merchant = factory.SubFactory(MerchantFactory)
    amount = 2500

    @classmethod
    def _create(cls, model_class: type[IssuedCard], *args: Any, **kwargs: Any) -> IssuedCard:
        return giftcard_issue(**kwargs)

    @classmethod
    def _build(cls, model_class: type[IssuedCard], *args: Any, **kwargs: Any) -> IssuedCard:
        raise TypeError("A card exists only once giftcard_issue has written its ledger.")

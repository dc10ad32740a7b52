"""The card and product factories make what production makes: a card's balance is
explained by its ledger, and its plain code opens it."""

from __future__ import annotations

import pytest

from giftcards import codes
from giftcards.models import CardStatus, Product
from giftcards.tests.factories import IssuedCardFactory, ProductFactory
from giftcards.tests.helpers import ledger_sum
from merchants.models import Merchant
from tests.factories import MerchantFactory

pytestmark = pytest.mark.django_db


def test_a_product_is_priced_in_its_merchants_currency() -> None:
    product = ProductFactory(merchant=MerchantFactory(currency="JPY"))
    assert (product.currency, product.denominations, product.is_active) == (
        "JPY",
        [2500, 5000],
        True,
    )


def test_an_issued_card_is_explained_by_its_ledger(merchant: Merchant, product: Product) -> None:
    issued = IssuedCardFactory(merchant=merchant, amount=5000, product=product)
    card = issued.card
    assert (card.balance, card.initial_amount, card.status) == (5000, 5000, CardStatus.ACTIVE)
    assert ledger_sum(card) == card.balance == issued.transaction.balance_after
    assert codes.decrypt(card.code_encrypted) == issued.code
    assert card.product == product


def test_a_card_cannot_be_built_around_the_ledger(merchant: Merchant) -> None:
    with pytest.raises(TypeError, match="giftcard_issue"):
        IssuedCardFactory.build(merchant=merchant)


def test_a_product_given_a_range_sells_any_amount_in_it(merchant: Merchant) -> None:
    product = ProductFactory(merchant=merchant, min_amount=1000, max_amount=30000)
    assert (product.denominations, product.is_custom_amount) == ([], True)

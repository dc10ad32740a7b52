"""One amount, one answer: the storefront, an order, the dashboard's card issuing and
bulk issuing refuse the same amount of a product with the same message, because they all
ask ``giftcards.product_rules``."""

from __future__ import annotations

import pytest

from core.errors import ApplicationError
from giftcards import services
from giftcards.models import GiftCard, Product
from giftcards.tests.factories import ProductFactory
from giftcards.views.bulk import CountForm
from merchants.models import Merchant
from orders.models import Order
from orders.services import LineRequest, order_create
from storefront.tests.test_forms import form_for

pytestmark = pytest.mark.django_db


def refusals(merchant: Merchant, product: Product, typed: str, minor: int) -> set[str]:
    """The message each caller gives for ``typed`` (``minor`` in minor units)."""
    messages: set[str] = set()
    shop = form_for(product, amount=typed)
    assert not shop.is_valid()
    messages.update(shop.errors["amount"])
    bulk = CountForm(
        {"count": "1", "amount": typed, "product": product.public_id}, merchant=merchant
    )
    assert not bulk.is_valid()
    messages.update(bulk.errors["amount"])
    for attempt in (
        lambda: services.giftcard_issue(merchant=merchant, amount=minor, product=product),
        lambda: order_create(
            merchant=merchant,
            buyer=None,
            buyer_email="b@example.com",
            buyer_name="",
            lines=[LineRequest(product, minor)],
        ),
    ):
        with pytest.raises(ApplicationError) as refused:
            attempt()
        messages.add(refused.value.detail)
    assert not GiftCard.objects.exists()
    assert not Order.objects.exists()
    return messages


@pytest.mark.parametrize(
    ("typed", "minor", "message"),
    [
        ("9,99", 999, "The smallest amount is €10.00."),
        ("300.01", 30001, "The largest amount is €300.00."),
    ],
)
def test_a_custom_amount_outside_the_range_reads_the_same_everywhere(
    merchant: Merchant, custom_product: Product, typed: str, minor: int, message: str
) -> None:
    assert refusals(merchant, custom_product, typed, minor) == {message}


def test_an_amount_between_fixed_ones_reads_the_same_everywhere(merchant: Merchant) -> None:
    fixed = ProductFactory(
        merchant=merchant, name="Classic", currency="EUR", min_amount=None, denominations=[2500]
    )
    wanted = {"Classic comes in these amounts only: €25.00."}
    # the storefront offers fixed amounts as choices, so only the other three are asked
    bulk = CountForm({"count": "1", "amount": "30", "product": fixed.public_id}, merchant=merchant)
    assert not bulk.is_valid()
    assert set(bulk.errors["amount"]) == wanted
    with pytest.raises(ApplicationError) as issued:
        services.giftcard_issue(merchant=merchant, amount=3000, product=fixed)
    with pytest.raises(ApplicationError) as ordered:
        order_create(
            merchant=merchant,
            buyer=None,
            buyer_email="b@example.com",
            buyer_name="",
            lines=[LineRequest(fixed, 3000)],
        )
    assert {issued.value.detail, ordered.value.detail} == wanted

"""order_create: a pending order priced from its products, or a refusal naming the field
at fault with nothing created."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from core.errors import ApplicationError
from giftcards.models import Product
from giftcards.tests.factories import ProductFactory
from merchants.models import Merchant, MerchantStatus
from orders.exceptions import OrderError
from orders.models import Order, OrderLine, OrderStatus
from orders.services import LineRequest, order_create

pytestmark = pytest.mark.django_db


def test_an_order_is_created_pending_with_its_total_and_lines(
    merchant: Merchant, product: Product, custom_product: Product, user: Any
) -> None:
    tomorrow = timezone.now() + timedelta(days=1)
    order = order_create(
        merchant=merchant,
        buyer=user,
        buyer_email="Ben@Example.COM",
        buyer_name=" Ben ",
        lines=[
            LineRequest(product, 5000, quantity=2),
            LineRequest(
                custom_product,
                1234,
                is_gift=True,
                recipient_name="Ana",
                recipient_phone="+44 7700 900123",
                message="Happy birthday",
                deliver_at=tomorrow,
                buyer_timezone="Europe/London",
            ),
        ],
    )

    assert order.status == OrderStatus.PENDING
    assert order.total == 2 * 5000 + 1234
    assert order.currency == "EUR"
    assert order.buyer_email == "ben@example.com"
    assert order.buyer_name == "Ben"
    assert order.public_id.startswith("ord_")
    assert order.provider == "test"
    gift = order.lines.get(is_gift=True)
    assert gift.recipient_phone == "+447700900123"
    assert gift.deliver_at == tomorrow
    assert gift.merchant_id == merchant.pk


def _refused(make: Callable[[], Order]) -> OrderError:
    with pytest.raises(ApplicationError) as caught:
        make()
    assert Order.objects.count() == 0
    assert OrderLine.objects.count() == 0
    assert isinstance(caught.value, OrderError)
    assert caught.value.detail.endswith(".")
    return caught.value


LINE_CASES: list[tuple[dict[str, Any], str, str]] = [
    ({"amount": 3000}, "amount", "invalid_amount"),
    ({"amount": 0}, "amount", "invalid_amount"),
    ({"quantity": 0}, "quantity", "order_invalid"),
    ({"quantity": 11}, "quantity", "order_invalid"),
    ({"is_gift": True}, "recipient_email", "recipient_required"),
    ({"is_gift": True, "recipient_email": "not-an-email"}, "recipient_email", "order_invalid"),
    ({"is_gift": True, "recipient_phone": "07700 900123"}, "recipient_phone", "order_invalid"),
    ({"message": "x" * 501}, "message", "order_invalid"),
    ({"deliver_at": datetime(2020, 1, 1, tzinfo=UTC)}, "deliver_at", "invalid_delivery_date"),
    ({"deliver_at": "next year"}, "deliver_at", "invalid_delivery_date"),
    ({"buyer_timezone": "Mars/Olympus"}, "buyer_timezone", "order_invalid"),
]


@pytest.mark.parametrize(("changes", "field", "code"), LINE_CASES)
def test_a_bad_line_is_refused_naming_its_field(
    merchant: Merchant, product: Product, changes: dict[str, Any], field: str, code: str
) -> None:
    line = LineRequest(product, changes.pop("amount", 2500), **changes)
    error = _refused(
        lambda: order_create(
            merchant=merchant, buyer=None, buyer_email="b@example.com", buyer_name="", lines=[line]
        )
    )
    assert error.field == field
    assert error.code == code
    assert error.line == 0


def test_delivery_more_than_a_year_ahead_or_without_a_zone_is_refused(
    merchant: Merchant, product: Product
) -> None:
    for when in (timezone.now() + timedelta(days=367), datetime(2030, 1, 1)):
        error = _refused(
            lambda when=when: order_create(
                merchant=merchant,
                buyer=None,
                buyer_email="b@example.com",
                buyer_name="",
                lines=[LineRequest(product, 2500, deliver_at=when)],
            )
        )
        assert error.field == "deliver_at"


def test_custom_amounts_must_lie_between_the_products_bounds(
    merchant: Merchant, custom_product: Product
) -> None:
    for amount, word in ((999, "smallest"), (20001, "largest")):
        error = _refused(
            lambda amount=amount: order_create(
                merchant=merchant,
                buyer=None,
                buyer_email="b@example.com",
                buyer_name="",
                lines=[LineRequest(custom_product, amount)],
            )
        )
        assert error.field == "amount"
        assert word in error.detail


@pytest.fixture
def kwd_product(merchant: Merchant) -> Product:
    return ProductFactory(
        merchant=merchant,
        name="Any amount",
        currency="KWD",
        min_amount=1000,
        max_amount=100_000,
    )


def _order(merchant: Merchant, *lines: LineRequest) -> Order:
    return order_create(
        merchant=merchant, buyer=None, buyer_email="b@example.com", buyer_name="", lines=[*lines]
    )


def test_an_amount_the_payment_provider_cannot_charge_is_refused(
    merchant: Merchant, kwd_product: Product, settings: Any
) -> None:
    settings.PAYMENT_PROVIDER = "stripe"

    error = _refused(
        lambda: _order(merchant, LineRequest(kwd_product, 5120), LineRequest(kwd_product, 5125))
    )

    assert (error.code, error.field, error.line) == ("amount_not_chargeable", "amount", 1)
    assert error.status == 422
    assert error.detail == (
        "Stripe takes payments in KWD in steps of 0.010 KWD, so 5.125 KWD cannot be "
        "charged exactly: choose 5.120 KWD or 5.130 KWD."
    )


def test_amounts_are_checked_against_the_configured_provider(
    merchant: Merchant, kwd_product: Product, settings: Any
) -> None:
    settings.PAYMENT_PROVIDER = "stripe"
    assert _order(merchant, LineRequest(kwd_product, 5130)).provider == "stripe"

    settings.PAYMENT_PROVIDER = "test"  # the test provider takes every platform amount
    assert _order(merchant, LineRequest(kwd_product, 5125)).total == 5125


def test_another_merchants_or_an_inactive_product_is_refused(
    merchant: Merchant, other_merchant: Merchant, product: Product
) -> None:
    foreign = ProductFactory(merchant=other_merchant, name="Theirs", denominations=[2500])
    retired = ProductFactory(merchant=merchant, name="Old", denominations=[2500], is_active=False)
    for item in (foreign, retired):
        error = _refused(
            lambda item=item: order_create(
                merchant=merchant,
                buyer=None,
                buyer_email="b@example.com",
                buyer_name="",
                lines=[LineRequest(product, 2500), LineRequest(item, 2500)],
            )
        )
        assert error.field == "product"
        assert error.line == 1
        assert error.code == "product_unavailable"


def test_an_inactive_merchant_sells_nothing(merchant: Merchant, product: Product) -> None:
    merchant.status = MerchantStatus.SUSPENDED
    merchant.save()
    error = _refused(
        lambda: order_create(
            merchant=merchant,
            buyer=None,
            buyer_email="b@example.com",
            buyer_name="",
            lines=[LineRequest(product, 2500)],
        )
    )
    assert error.code == "merchant_unavailable"
    assert error.field is None


def test_order_level_fields_are_checked(merchant: Merchant, product: Product) -> None:
    error = _refused(
        lambda: order_create(
            merchant=merchant,
            buyer=None,
            buyer_email="nope",
            buyer_name="",
            lines=[LineRequest(product, 2500)],
        )
    )
    assert error.field == "buyer_email"
    error = _refused(
        lambda: order_create(
            merchant=merchant, buyer=None, buyer_email="b@example.com", buyer_name="", lines=[]
        )
    )
    assert error.field == "lines"


def test_one_order_is_in_one_currency(merchant: Merchant, product: Product) -> None:
    pounds = ProductFactory(merchant=merchant, name="UK card", currency="GBP", denominations=[2500])
    error = _refused(
        lambda: order_create(
            merchant=merchant,
            buyer=None,
            buyer_email="b@example.com",
            buyer_name="",
            lines=[LineRequest(product, 2500), LineRequest(pounds, 2500)],
        )
    )
    assert error.code == "currency_mismatch"
    assert error.line == 1

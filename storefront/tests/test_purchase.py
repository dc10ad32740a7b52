"""Buying from the product page: bad input is refused inline and creates nothing; a good
order goes to the orders service and on to the payment page."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from unittest import mock

import pytest
from django.test import Client
from django.utils import timezone

from core.errors import ApplicationError
from giftcards.models import Product
from giftcards.tests.factories import ProductFactory
from merchants.models import Merchant
from orders.models import Order
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def order_count() -> int:
    return Order.objects.count()


def url(product: Product) -> str:
    return f"/s/{product.merchant.slug}/p/{product.public_id}/"


RECIPIENT_FIELDS = {"recipient_name", "recipient_email", "recipient_phone", "message", "deliver_at"}


def purchase(**overrides: Any) -> dict[str, str]:
    """The posted form; recipient fields go to the first recipient block."""
    data = {
        "amount": "2500",
        "quantity": "1",
        "purpose": "self",
        "buyer_name": "Ana Lima",
        "buyer_email": "ana@example.com",
        "timezone": "Europe/London",
        "recipients-TOTAL_FORMS": "1",
        "recipients-INITIAL_FORMS": "0",
    }
    for key, value in overrides.items():
        name = f"recipients-0-{key}" if key in RECIPIENT_FIELDS else key
        data[name] = str(value)
    return data


def field_id(field: str, block: int = 0) -> str:
    return f"recipients-{block}-{field}" if field in RECIPIENT_FIELDS else field


def next_summer_morning() -> datetime:
    now = timezone.now()
    year = now.year if now < datetime(now.year, 7, 1, tzinfo=UTC) else now.year + 1
    return datetime(year, 7, 1, 9, 0)


@pytest.fixture
def no_order_placed() -> Any:
    """Fails the test if the orders service is reached."""
    with mock.patch("storefront.checkout.order_create") as order_create:
        yield order_create
        order_create.assert_not_called()


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"amount": "1234"}, "amount", "Choose one of the amounts shown."),
        ({"amount": ""}, "amount", "Choose an amount."),
        ({"quantity": "11"}, "quantity", "up to 10 cards"),
        ({"quantity": "0"}, "quantity", "at least 1 card"),
        ({"buyer_email": "ana@"}, "buyer_email", "Enter an email address like"),
        ({"buyer_name": ""}, "buyer_name", "Enter your name."),
        ({"purpose": "gift"}, "recipient_name", "Enter the name of the person"),
        (
            {"purpose": "gift", "recipient_name": "Bea", "recipient_phone": "0770090012"},
            "recipient_phone",
            "international format",
        ),
        (
            {
                "purpose": "gift",
                "recipient_name": "Bea",
                "recipient_email": "bea@example.com",
                "message": "x" * 501,
            },
            "message",
            "500 characters or fewer",
        ),
        (
            {
                "purpose": "gift",
                "recipient_name": "Bea",
                "recipient_email": "bea@example.com",
                "deliver_at": "2001-01-01T09:00",
            },
            "deliver_at",
            "That time has passed",
        ),
    ],
)
def test_bad_input_is_refused_inline_and_creates_nothing(
    client: Client,
    fixed_product: Product,
    no_order_placed: mock.MagicMock,
    overrides: dict[str, str],
    field: str,
    message: str,
) -> None:
    before = order_count()

    response = client.post(url(fixed_product), purchase(**overrides))

    assert response.status_code == 422
    page = response.content.decode()
    assert message in page
    assert f'id="id_{field_id(field)}_error"' in page
    anchor = f"id_{field}_0" if field == "amount" else f"id_{field_id(field)}"
    assert f'href="#{anchor}"' in page  # the error summary links to the field
    assert order_count() == before


def test_the_first_invalid_field_takes_focus_and_names_its_error(
    client: Client, custom_product: Product, no_order_placed: mock.MagicMock
) -> None:
    response = client.post(url(custom_product), purchase(amount="abc", buyer_email="nope"))

    page = response.content.decode()
    amount_input = page[page.index('name="amount"') - 40 : page.index('id="id_amount"') + 20]
    assert "autofocus" in amount_input
    assert 'aria-invalid="true"' in amount_input
    assert 'aria-describedby="id_amount_helptext id_amount_error"' in amount_input
    assert page.count("autofocus") == 1
    assert "There are 2 problems" in page
    assert 'value="abc"' in page  # what was typed stays, to be corrected


def test_a_custom_amount_above_the_maximum_is_refused(
    client: Client, custom_product: Product, no_order_placed: mock.MagicMock
) -> None:
    response = client.post(url(custom_product), purchase(amount="300.01"))

    assert response.status_code == 422
    assert "The largest amount is €300.00." in response.content.decode()
    assert order_count() == 0


def test_a_custom_amount_the_payment_provider_cannot_charge_is_refused_inline(
    client: Client, merchant: Merchant, settings: Any
) -> None:
    settings.PAYMENT_PROVIDER = "stripe"
    kwd = ProductFactory(
        merchant=merchant, name="Any amount", currency="KWD", min_amount=1000, max_amount=100_000
    )

    response = client.post(url(kwd), purchase(amount="5.125"))

    assert response.status_code == 422
    refusal = (
        "Stripe takes payments in KWD in steps of 0.010 KWD, so 5.125 KWD cannot be "
        "charged exactly: choose 5.120 KWD or 5.130 KWD."
    )
    assert response.context["form"].errors["amount"] == [refusal]
    page = response.content.decode()
    assert 'id="id_amount_error"' in page
    assert 'value="5.125"' in page  # what was typed stays, to be corrected
    assert order_count() == 0


def test_refusals_of_the_orders_service_show_on_their_field(
    client: Client, fixed_product: Product
) -> None:
    class Refused(ApplicationError):
        field = "recipient_email"

    with mock.patch(
        "storefront.checkout.order_create",
        side_effect=Refused("We cannot deliver to that address."),
    ):
        response = client.post(
            url(fixed_product),
            purchase(purpose="gift", recipient_name="Bea", recipient_email="bea@example.com"),
        )

    assert response.status_code == 422
    page = response.content.decode()
    assert 'id="id_recipients-0-recipient_email_error"' in page
    assert "We cannot deliver to that address." in page
    assert order_count() == 0


def test_refusals_about_no_field_show_above_the_form(
    client: Client, fixed_product: Product
) -> None:
    with mock.patch(
        "storefront.checkout.order_create",
        side_effect=ApplicationError("This shop is not selling gift cards at the moment."),
    ):
        response = client.post(url(fixed_product), purchase())

    assert response.status_code == 422
    assert "This shop is not selling gift cards at the moment." in response.content.decode()
    assert order_count() == 0


# --- Through the orders service -----------------------------------------------------------


def test_a_gift_is_ordered_and_the_buyer_sent_to_pay(
    client: Client, merchant: Merchant, fixed_product: Product
) -> None:
    local = next_summer_morning()

    response = client.post(
        url(fixed_product),
        purchase(
            amount="5000",
            quantity="2",  # not used for a gift: one card for each recipient
            purpose="gift",
            recipient_name="Bea Santos",
            recipient_email="bea@example.com",
            recipient_phone="+44 7700 900123",
            message="Happy birthday!",
            deliver_at=local.strftime("%Y-%m-%dT%H:%M"),
            timezone="Europe/London",
        ),
    )

    order = Order.objects.get()
    assert response.status_code == 303
    assert f"/pay/test/{order.public_id}/" in response["Location"]
    assert order.merchant == merchant
    assert (order.buyer_email, order.buyer_name) == ("ana@example.com", "Ana Lima")
    assert order.buyer is None
    assert (order.total, order.currency) == (5000, "EUR")
    line = order.lines.get()
    assert (line.product, line.amount, line.quantity, line.is_gift) == (
        fixed_product,
        5000,
        1,
        True,
    )
    assert (line.recipient_name, line.recipient_email, line.recipient_phone) == (
        "Bea Santos",
        "bea@example.com",
        "+447700900123",
    )
    assert line.message == "Happy birthday!"
    assert line.deliver_at == datetime(local.year, 7, 1, 8, 0, tzinfo=UTC)  # 09:00 BST
    assert line.buyer_timezone == "Europe/London"


def test_a_card_for_oneself_is_ordered_for_the_signed_in_buyer(
    client: Client, fixed_product: Product
) -> None:
    buyer = UserFactory(email="ana@example.com", full_name="Ana Lima")
    client.force_login(buyer)

    response = client.post(
        url(fixed_product), purchase(recipient_name="Ignored", message="Ignored too")
    )

    assert response.status_code == 303
    order = Order.objects.get()
    assert order.buyer == buyer
    line = order.lines.get()
    assert not line.is_gift
    assert (line.recipient_name, line.message, line.deliver_at) == ("", "", None)


def test_a_product_withdrawn_meanwhile_is_not_ordered(
    client: Client, fixed_product: Product
) -> None:
    Product.objects.filter(pk=fixed_product.pk).update(is_active=False)

    response = client.post(url(fixed_product), purchase())

    assert response.status_code == 404
    assert order_count() == 0


def test_a_card_for_oneself_keeps_its_quantity(client: Client, fixed_product: Product) -> None:
    response = client.post(url(fixed_product), purchase(amount="5000", quantity="3"))

    assert response.status_code == 303
    line = Order.objects.get().lines.get()
    assert (line.quantity, line.is_gift) == (3, False)


# --- Several recipients in one order ----------------------------------------------------------


def gift_for(*people: dict[str, str], **overrides: Any) -> dict[str, str]:
    data = purchase(purpose="gift", **overrides)
    data["recipients-TOTAL_FORMS"] = str(len(people))
    for index, person in enumerate(people):
        data.update({f"recipients-{index}-{k}": v for k, v in person.items()})
    return data


BEA = {"recipient_name": "Bea Santos", "recipient_email": "bea@example.com", "message": "Hi Bea"}
CAI = {"recipient_name": "Cai Wu", "recipient_phone": "+44 7700 900456"}


def test_two_recipients_make_one_order_with_a_line_for_each(
    client: Client, fixed_product: Product
) -> None:
    local = next_summer_morning()
    cai = {**CAI, "deliver_at": local.strftime("%Y-%m-%dT%H:%M")}

    response = client.post(url(fixed_product), gift_for(BEA, cai, amount="5000", quantity="4"))

    assert response.status_code == 303
    order = Order.objects.get()
    assert (order.total, order.currency) == (2 * 5000, "EUR")
    bea, cai_line = order.lines.order_by("id")
    assert (bea.recipient_name, bea.recipient_email, bea.message) == (
        "Bea Santos",
        "bea@example.com",
        "Hi Bea",
    )
    assert (bea.amount, bea.quantity, bea.is_gift, bea.deliver_at) == (5000, 1, True, None)
    assert (cai_line.recipient_name, cai_line.recipient_phone) == ("Cai Wu", "+447700900456")
    assert (cai_line.amount, cai_line.quantity, cai_line.is_gift) == (5000, 1, True)
    assert cai_line.deliver_at == datetime(local.year, 7, 1, 8, 0, tzinfo=UTC)  # 09:00 BST
    assert cai_line.buyer_timezone == "Europe/London"


def test_add_another_recipient_shows_one_more_block_and_creates_nothing(
    client: Client, fixed_product: Product, no_order_placed: mock.MagicMock
) -> None:
    data = gift_for(BEA, amount="5000")
    data["add_recipient"] = "1"

    response = client.post(url(fixed_product), data)

    assert response.status_code == 200
    page = response.content.decode()
    assert 'name="recipients-TOTAL_FORMS" value="2"' in page
    assert 'id="id_recipients-1-recipient_name"' in page
    assert 'value="Bea Santos"' in page  # what was typed stays
    assert "Hi Bea" in page
    assert "There is a problem" not in page
    assert "errorlist" not in page
    assert order_count() == 0


def test_an_empty_extra_recipient_block_is_left_out(client: Client, fixed_product: Product) -> None:
    response = client.post(url(fixed_product), gift_for(BEA, {}, amount="2500"))

    assert response.status_code == 303
    assert Order.objects.get().lines.count() == 1


def test_an_invalid_second_recipient_is_refused_on_its_block(
    client: Client, fixed_product: Product, no_order_placed: mock.MagicMock
) -> None:
    bad = {"recipient_name": "Cai Wu", "recipient_email": "cai@"}

    response = client.post(url(fixed_product), gift_for(BEA, bad))

    assert response.status_code == 422
    page = response.content.decode()
    assert 'id="id_recipients-1-recipient_email_error"' in page
    assert 'href="#id_recipients-1-recipient_email"' in page
    assert 'id="id_recipients-0-recipient_email_error"' not in page
    assert "There is a problem" in page
    assert order_count() == 0


def test_more_than_five_recipients_are_refused(
    client: Client, fixed_product: Product, no_order_placed: mock.MagicMock
) -> None:
    people = [{"recipient_name": f"P{i}", "recipient_email": f"p{i}@example.com"} for i in range(6)]

    response = client.post(url(fixed_product), gift_for(*people))

    assert response.status_code == 422
    assert "One order can go to at most 5 people." in response.content.decode()
    assert order_count() == 0


def test_add_another_recipient_stops_at_five(client: Client, fixed_product: Product) -> None:
    people = [{"recipient_name": f"P{i}"} for i in range(5)]
    data = gift_for(*people)
    data["add_recipient"] = "1"

    response = client.post(url(fixed_product), data)

    page = response.content.decode()
    assert 'name="recipients-TOTAL_FORMS" value="5"' in page
    assert "Add another recipient" not in page
    assert order_count() == 0


def test_a_refusal_about_a_line_shows_on_that_recipient(
    client: Client, fixed_product: Product
) -> None:
    from orders.exceptions import InvalidOrder

    with mock.patch(
        "storefront.checkout.order_create",
        side_effect=InvalidOrder("We cannot deliver there.", field="recipient_email", line=1),
    ):
        response = client.post(url(fixed_product), gift_for(BEA, {**BEA, "recipient_name": "B2"}))

    assert response.status_code == 422
    page = response.content.decode()
    assert 'id="id_recipients-1-recipient_email_error"' in page
    assert "We cannot deliver there." in page
    assert order_count() == 0

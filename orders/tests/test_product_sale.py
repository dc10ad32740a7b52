"""A product goes on sale only if the configured payment provider can charge its amounts
exactly: the check ``orders`` registers with the catalogue, seen from the merchant's
product form, the dashboard's on/off switch and the platform admin."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from giftcards import product_services
from giftcards.models import Product
from merchants.models import Membership, Merchant, Role

pytestmark = pytest.mark.django_db

KWD_REFUSAL = (
    "Stripe takes payments in KWD in steps of 0.010 KWD, so 5.125 KWD cannot be "
    "charged exactly: choose 5.120 KWD or 5.130 KWD."
)


@pytest.fixture
def stripe(settings: Any) -> Any:
    settings.PAYMENT_PROVIDER = "stripe"
    return settings


@pytest.fixture
def manager_client(merchant: Merchant, member_factory: Callable[..., Membership]) -> Client:
    client = Client()
    client.force_login(member_factory(merchant, Role.MANAGER).user)
    return client


def form(**overrides: str) -> dict[str, str]:
    data = {
        "name": "Desert card",
        "currency": "KWD",
        "amount_type": "fixed",
        "denominations": "5.120, 10",
        "min_amount": "",
        "max_amount": "",
        "validity_days": "",
        "is_active": "on",
    }
    data.update(overrides)
    return data


def url(name: str, merchant: Merchant, *args: str) -> str:
    return reverse(f"giftcards:{name}", args=[merchant.slug, *args])


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"denominations": "5.125, 10"}, "denominations"),
        ({"amount_type": "range", "min_amount": "5.125", "max_amount": "50"}, "min_amount"),
        ({"amount_type": "range", "min_amount": "1", "max_amount": "5.125"}, "max_amount"),
    ],
)
def test_the_product_form_refuses_an_amount_stripe_cannot_charge_on_its_field(
    stripe: Any, manager_client: Client, merchant: Merchant, changes: dict[str, str], field: str
) -> None:
    response = manager_client.post(url("product-create", merchant), form(**changes))

    assert response.status_code == 422
    assert response.context["form"].errors[field] == [KWD_REFUSAL]
    assert "5.125 KWD cannot be charged exactly" in response.content.decode()
    assert not Product.objects.exists()


def test_amounts_stripe_can_charge_are_put_on_sale(
    stripe: Any, manager_client: Client, merchant: Merchant
) -> None:
    response = manager_client.post(url("product-create", merchant), form())

    assert response.status_code == 302
    product = Product.objects.get()
    assert (product.denominations, product.is_active) == ([5120, 10000], True)


def test_with_the_test_provider_every_platform_amount_can_be_sold(
    manager_client: Client, merchant: Merchant
) -> None:
    response = manager_client.post(url("product-create", merchant), form(denominations="5.125"))

    assert response.status_code == 302
    assert Product.objects.get().denominations == [5125]


def test_an_edit_that_stripe_cannot_charge_is_refused_and_changes_nothing(
    stripe: Any, manager_client: Client, merchant: Merchant
) -> None:
    product = product_services.product_create(
        merchant=merchant, name="Desert card", currency="KWD", denominations=[5120]
    )

    response = manager_client.post(
        url("product-edit", merchant, product.public_id),
        form(name="Renamed", denominations="5.125"),
    )

    assert response.status_code == 422
    assert response.context["form"].errors["denominations"] == [KWD_REFUSAL]
    product.refresh_from_db()
    assert (product.name, product.denominations) == ("Desert card", [5120])


@pytest.fixture
def off_sale(merchant: Merchant) -> Product:
    """A product kept off sale, as one may be while its amounts cannot be charged."""
    return product_services.product_create(
        merchant=merchant, name="Desert card", currency="KWD", denominations=[5125], is_active=False
    )


def test_the_dashboard_does_not_put_it_on_sale_and_says_why(
    stripe: Any, manager_client: Client, merchant: Merchant, off_sale: Product
) -> None:
    response = manager_client.post(
        url("product-toggle", merchant, off_sale.public_id), {"active": "1"}, follow=True
    )

    assert response.status_code == 200
    shown = [str(message) for message in response.context["messages"]]
    assert shown == [f"Product “Desert card” was not put on sale: {KWD_REFUSAL}"]
    off_sale.refresh_from_db()
    assert off_sale.is_active is False


def test_the_admin_does_not_put_it_back_on_sale_and_says_why(
    stripe: Any, admin_client: Client, merchant: Merchant, off_sale: Product
) -> None:
    sellable = product_services.product_create(
        merchant=merchant, name="Classic", currency="KWD", denominations=[5120], is_active=False
    )

    response = admin_client.post(
        reverse("admin:giftcards_product_changelist"),
        {"action": "activate_selected", "index": 0, "_selected_action": [off_sale.pk, sellable.pk]},
        follow=True,
    )

    shown = [str(message) for message in response.context["messages"]]
    assert f"“Desert card” was not put on sale: {KWD_REFUSAL}" in shown
    assert "1 product(s) back on sale." in shown
    off_sale.refresh_from_db()
    sellable.refresh_from_db()
    assert (off_sale.is_active, sellable.is_active) == (False, True)

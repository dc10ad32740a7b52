"""Every public storefront route answers only for an active merchant, and only with
that merchant's own things."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from giftcards.models import Product
from giftcards.tests.factories import ProductFactory
from merchants.models import Merchant, MerchantStatus

pytestmark = pytest.mark.django_db


def _storefront_routes() -> Iterator[str]:
    for pattern in get_resolver().url_patterns:
        if isinstance(pattern, URLResolver) and pattern.namespace == "storefront":
            for inner in pattern.url_patterns:
                assert isinstance(inner, URLPattern)
                assert inner.name is not None
                yield inner.name


ROUTES = sorted(_storefront_routes())


def _url(name: str, merchant: Merchant, product: Product) -> str:
    kwargs = {"slug": merchant.slug}
    if name == "product":
        kwargs["public_id"] = product.public_id
    return reverse(f"storefront:{name}", kwargs=kwargs)


def test_the_storefront_routes_are_all_checked() -> None:
    assert ROUTES == ["balance", "brand-css", "home", "product"]


@pytest.mark.parametrize("name", ROUTES)
def test_every_route_serves_an_active_merchant(
    client: Client, merchant: Merchant, name: str
) -> None:
    product = ProductFactory(merchant=merchant, name="Card", currency="EUR", denominations=[1000])
    assert client.get(_url(name, merchant, product)).status_code == 200


@pytest.mark.parametrize("name", ROUTES)
@pytest.mark.parametrize("status", [MerchantStatus.SUSPENDED, MerchantStatus.CLOSED])
def test_every_route_is_404_for_a_merchant_that_is_not_active(
    client: Client, merchant: Merchant, name: str, status: str
) -> None:
    product = ProductFactory(merchant=merchant, name="Card", currency="EUR", denominations=[1000])
    Merchant.objects.filter(pk=merchant.pk).update(status=status)

    assert client.get(_url(name, merchant, product)).status_code == 404
    assert client.post(_url(name, merchant, product), {}).status_code in (404, 405)

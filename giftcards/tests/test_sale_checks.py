"""The sale checks other apps register with the catalogue: a product goes on sale, or
stays on sale when changed, only if every check accepts its currency and amounts."""

from __future__ import annotations

import pytest

from giftcards import product_services, sale_checks
from giftcards.models import Product
from giftcards.product_services import ProductNotSellable
from giftcards.sale_checks import SaleRefusal, SaleTerms, sale_check_register
from merchants.models import Merchant

pytestmark = pytest.mark.django_db


@pytest.fixture
def seen(monkeypatch: pytest.MonkeyPatch) -> list[SaleTerms]:
    """Only this test's check is registered; it refuses any amount ending in 5."""
    monkeypatch.setattr(sale_checks, "_checks", {})
    calls: list[SaleTerms] = []

    def no_fives(terms: SaleTerms) -> SaleRefusal | None:
        calls.append(terms)
        for field, amount in terms.fixed_amounts():
            if amount % 10 == 5:
                return SaleRefusal(f"{amount} cannot be sold.", field=field)
        return None

    sale_check_register(name="tests.no-fives", check=no_fives)
    return calls


def create(merchant: Merchant, **overrides: object) -> Product:
    values: dict[str, object] = {"name": "Card", "currency": "KWD", "denominations": [5120]}
    values.update(overrides)
    return product_services.product_create(merchant=merchant, **values)  # type: ignore[arg-type]


def test_the_checks_see_the_products_currency_and_fixed_amounts(
    merchant: Merchant, seen: list[SaleTerms]
) -> None:
    create(merchant, denominations=[], min_amount=1000, max_amount=9000)

    assert seen == [SaleTerms(currency="KWD", min_amount=1000, max_amount=9000)]
    assert seen[0].fixed_amounts() == [("min_amount", 1000), ("max_amount", 9000)]


def test_a_refused_product_is_not_created(merchant: Merchant, seen: list[SaleTerms]) -> None:
    with pytest.raises(ProductNotSellable) as refused:
        create(merchant, denominations=[5120, 5125])

    assert (refused.value.code, refused.value.field) == ("product_not_sellable", "denominations")
    assert refused.value.detail == "5125 cannot be sold."
    assert not Product.objects.exists()


def test_a_product_off_sale_is_not_checked_until_it_goes_on_sale(
    merchant: Merchant, seen: list[SaleTerms]
) -> None:
    product = create(merchant, denominations=[], min_amount=1005, is_active=False)
    assert seen == []

    with pytest.raises(ProductNotSellable):
        product_services.product_set_active(product=product, active=True)

    product.refresh_from_db()
    assert product.is_active is False
    product_services.product_set_active(product=product, active=False)  # never refused


def test_a_change_to_a_product_on_sale_is_checked_and_a_refusal_changes_nothing(
    merchant: Merchant, seen: list[SaleTerms]
) -> None:
    product = create(merchant)

    with pytest.raises(ProductNotSellable) as refused:
        product_services.product_update(
            product=product, name="Renamed", currency="KWD", min_amount=1000, max_amount=2005
        )

    assert refused.value.field == "max_amount"
    product.refresh_from_db()
    assert (product.name, product.denominations, product.max_amount) == ("Card", [5120], None)

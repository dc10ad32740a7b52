"""The storefront and product pages: what the public sees, and what it never sees."""

from __future__ import annotations

import pytest
from django.test import Client

from giftcards.models import Product
from giftcards.tests.factories import ProductFactory
from merchants import branding
from merchants.models import Merchant
from tests.factories import MerchantFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_the_storefront_lists_active_products_with_their_prices(
    client: Client,
    merchant: Merchant,
    fixed_product: Product,
    custom_product: Product,
    hidden_product: Product,
) -> None:
    response = client.get(f"/s/{merchant.slug}/")

    assert response.status_code == 200
    page = response.content.decode()
    assert "Bluebird Coffee gift cards" in page
    assert "Classic card" in page
    assert "€25.00 to €100.00" in page  # denominations, smallest to largest
    assert "Any amount" in page
    assert "€10.00 to €300.00" in page  # custom range
    assert f"/s/{merchant.slug}/p/{fixed_product.public_id}/" in page
    assert "Retired design" not in page
    assert hidden_product.public_id not in page


def test_another_merchants_products_are_not_on_the_storefront(
    client: Client, merchant: Merchant, other_merchant: Merchant
) -> None:
    ProductFactory(merchant=other_merchant, name="Their card", currency="EUR", denominations=[1000])

    page = client.get(f"/s/{merchant.slug}/").content.decode()

    assert "Their card" not in page
    assert "no gift cards on sale right now" in page


def test_an_unknown_storefront_is_404(client: Client, db: None) -> None:
    assert client.get("/s/nobody-here/").status_code == 404


def test_the_product_page_shows_the_amounts_as_choices(
    client: Client, merchant: Merchant, fixed_product: Product
) -> None:
    response = client.get(f"/s/{merchant.slug}/p/{fixed_product.public_id}/")

    assert response.status_code == 200
    page = response.content.decode()
    assert '<h1 id="sf-product-title">Classic card</h1>' in page
    for value, label in (("2500", "€25.00"), ("5000", "€50.00"), ("10000", "€100.00")):
        assert f'value="{value}"' in page
        assert label in page
    assert "<legend>Amount</legend>" in page
    assert "<legend>Who is it for?</legend>" in page
    assert "Valid for 2 years from purchase." in page
    assert 'name="timezone" value="UTC"' in page  # until the browser says otherwise


def test_a_custom_amount_product_asks_for_an_amount_within_its_range(
    client: Client, merchant: Merchant, custom_product: Product
) -> None:
    page = client.get(f"/s/{merchant.slug}/p/{custom_product.public_id}/").content.decode()

    assert 'inputmode="decimal"' in page
    assert "Between €10.00 and €300.00" in page
    assert 'type="radio" name="amount"' not in page


def test_an_inactive_product_is_404(
    client: Client, merchant: Merchant, hidden_product: Product
) -> None:
    url = f"/s/{merchant.slug}/p/{hidden_product.public_id}/"
    assert client.get(url).status_code == 404
    assert client.post(url, {"amount": "2000"}).status_code == 404


def test_a_product_is_only_found_under_its_own_merchant(
    client: Client, merchant: Merchant, other_merchant: Merchant, fixed_product: Product
) -> None:
    response = client.get(f"/s/{other_merchant.slug}/p/{fixed_product.public_id}/")
    assert response.status_code == 404


def test_signed_in_buyers_find_their_name_and_email_filled_in(
    client: Client, merchant: Merchant, fixed_product: Product
) -> None:
    client.force_login(UserFactory(email="ana@example.com", full_name="Ana Lima"))

    page = client.get(f"/s/{merchant.slug}/p/{fixed_product.public_id}/").content.decode()

    assert 'value="Ana Lima"' in page
    assert 'value="ana@example.com"' in page


def test_product_images_are_lazy_and_sized(client: Client, merchant: Merchant) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    ProductFactory(
        merchant=merchant,
        name="Picture card",
        currency="EUR",
        denominations=[1000],
        image=SimpleUploadedFile("card.png", b"not really a png", content_type="image/png"),
    )

    page = client.get(f"/s/{merchant.slug}/").content.decode()

    assert 'loading="lazy"' in page
    assert 'width="640" height="400"' in page


# --- Brand colour --------------------------------------------------------------------------


def test_the_brand_stylesheet_is_cacheable_and_versioned(client: Client, db: None) -> None:
    shop = MerchantFactory(slug="teal", brand_colour="#0F766E")
    palette = branding.palette_for("#0f766e")

    page = client.get("/s/teal/").content.decode()
    assert f'href="/s/teal/brand.css?v={palette.version}"' in page

    response = client.get(f"/s/{shop.slug}/brand.css?v={palette.version}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/css")
    assert "--brand: #0f766e;" in response.content.decode()
    assert "max-age=31536000" in response["Cache-Control"]
    assert "immutable" in response["Cache-Control"]
    etag = response["ETag"]

    again = client.get(f"/s/{shop.slug}/brand.css?v={palette.version}", HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304

    stale = client.get(f"/s/{shop.slug}/brand.css?v=old")
    assert "immutable" not in stale["Cache-Control"]


def test_a_malformed_brand_colour_falls_back_to_the_platform_colour(
    client: Client, db: None
) -> None:
    # Saved around the model's validator, as a bad import or an old row could be.
    shop = MerchantFactory(slug="odd")
    Merchant.objects.filter(pk=shop.pk).update(brand_colour="red;}")

    css = client.get("/s/odd/brand.css").content.decode()

    assert "red" not in css
    assert f"--brand: {branding.DEFAULT_COLOUR};" in css


@pytest.mark.parametrize("colour", ["#ffffff", "#ffd400", "#1f4f8a", "#000000", "#7fbf7f"])
def test_brand_colours_always_get_readable_text(colour: str) -> None:
    palette = branding.palette_for(colour)

    assert branding.contrast(palette.brand, palette.brand_ink) >= 4.5
    assert branding.contrast(palette.accent, branding.WHITE) >= 4.5  # links on white
    assert branding.contrast(palette.accent, palette.accent_ink) >= 4.5  # button text

"""What search engines read (UX-3): titles, descriptions, Open Graph, canonical links,
JSON-LD, the sitemap and robots.txt."""

from __future__ import annotations

import json
import re
from typing import Any
from xml.etree import ElementTree

import pytest
from django.test import Client
from pytest_django.fixtures import Settings

from giftcards.models import Product
from giftcards.tests.factories import ProductFactory
from merchants.models import Merchant, MerchantStatus
from tests.factories import MerchantFactory

pytestmark = pytest.mark.django_db

SITE = "https://gifts.example.com"


@pytest.fixture(autouse=True)
def _site_url(settings: Settings) -> None:
    settings.SITE_URL = SITE


def meta(page: str, attr: str, name: str) -> str:
    found = re.search(rf'<meta {attr}="{re.escape(name)}" content="([^"]*)">', page)
    assert found, f"no {name} meta tag"
    return found.group(1)


def json_ld(page: str) -> list[dict[str, Any]]:
    blocks = re.findall(r'<script type="application/ld\+json">(.*?)</script>', page, re.S)
    assert blocks, "no JSON-LD"
    return [json.loads(block) for block in blocks]


def test_the_storefront_has_its_own_title_description_and_preview(
    client: Client, merchant: Merchant, fixed_product: Product
) -> None:
    page = client.get(f"/s/{merchant.slug}/").content.decode()

    assert "<title>Bluebird Coffee gift cards · Giftwell</title>" in page
    description = meta(page, "name", "description")
    assert description.startswith("Buy Bluebird Coffee gift cards online")
    assert len(description) <= 160
    canonical = f"{SITE}/s/{merchant.slug}/"
    assert f'<link rel="canonical" href="{canonical}">' in page
    assert meta(page, "property", "og:title") == "Bluebird Coffee gift cards"
    assert meta(page, "property", "og:type") == "website"
    assert meta(page, "property", "og:url") == canonical
    assert meta(page, "property", "og:description") == description
    assert 'property="og:image"' not in page  # no logo, no image
    [organization] = json_ld(page)
    assert organization["@type"] == "Organization"
    assert organization["name"] == "Bluebird Coffee"
    assert organization["url"] == canonical


def test_a_logo_becomes_the_preview_image(client: Client, merchant: Merchant) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    merchant.logo = SimpleUploadedFile("logo.png", b"png", content_type="image/png")
    merchant.save()

    page = client.get(f"/s/{merchant.slug}/").content.decode()

    image = meta(page, "property", "og:image")
    assert image.startswith(f"{SITE}/media/merchants/logos/")
    assert json_ld(page)[0]["logo"] == image


def test_a_product_page_carries_a_product_with_its_offers(
    client: Client, merchant: Merchant, fixed_product: Product
) -> None:
    page = client.get(f"/s/{merchant.slug}/p/{fixed_product.public_id}/").content.decode()

    canonical = f"{SITE}/s/{merchant.slug}/p/{fixed_product.public_id}/"
    assert "<title>Classic card · Bluebird Coffee · Giftwell</title>" in page
    assert meta(page, "name", "description") == "Good for any coffee, cake or bag of beans."
    assert meta(page, "property", "og:type") == "product"
    assert meta(page, "property", "og:url") == canonical
    assert f'<link rel="canonical" href="{canonical}">' in page
    [product] = json_ld(page)
    assert product["@context"] == "https://schema.org"
    assert product["@type"] == "Product"
    assert product["name"] == "Classic card"
    assert product["brand"]["name"] == "Bluebird Coffee"
    offers = product["offers"]
    assert [o["price"] for o in offers] == ["25.00", "50.00", "100.00"]
    assert {o["priceCurrency"] for o in offers} == {"EUR"}
    assert {o["@type"] for o in offers} == {"Offer"}


def test_a_custom_amount_product_offers_a_price_range(
    client: Client, merchant: Merchant, custom_product: Product
) -> None:
    page = client.get(f"/s/{merchant.slug}/p/{custom_product.public_id}/").content.decode()

    offer = json_ld(page)[0]["offers"]
    assert offer["@type"] == "AggregateOffer"
    assert (offer["lowPrice"], offer["highPrice"], offer["priceCurrency"]) == (
        "10.00",
        "300.00",
        "EUR",
    )


def test_prices_follow_the_currency_exponent(client: Client, db: None) -> None:
    shop = MerchantFactory(slug="tokyo", currency="JPY")
    product = ProductFactory(merchant=shop, name="Sakura", currency="JPY", denominations=[5000])

    page = client.get(f"/s/tokyo/p/{product.public_id}/").content.decode()

    assert json_ld(page)[0]["offers"][0]["price"] == "5000"


def test_merchant_text_cannot_break_out_of_the_json_ld(client: Client, merchant: Merchant) -> None:
    product = ProductFactory(
        merchant=merchant,
        name="</script><script>alert(1)</script>",
        description="Tom & Jerry's <b>card</b>",
        currency="EUR",
        denominations=[1000],
    )

    page = client.get(f"/s/{merchant.slug}/p/{product.public_id}/").content.decode()

    assert "<script>alert(1)" not in page
    [data] = json_ld(page)
    assert data["name"] == "</script><script>alert(1)</script>"
    assert data["description"] == "Tom & Jerry's <b>card</b>"


def test_a_product_image_is_the_preview_image(client: Client, merchant: Merchant) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    product = ProductFactory(
        merchant=merchant,
        name="Picture",
        currency="EUR",
        denominations=[1000],
        image=SimpleUploadedFile("pic.png", b"png", content_type="image/png"),
    )

    page = client.get(f"/s/{merchant.slug}/p/{product.public_id}/").content.decode()

    image = meta(page, "property", "og:image")
    assert image.startswith(f"{SITE}/media/products/")
    assert json_ld(page)[0]["image"] == image


def test_the_balance_page_has_a_title_and_description(client: Client, merchant: Merchant) -> None:
    page = client.get(f"/s/{merchant.slug}/balance/").content.decode()

    assert "<title>Check a Bluebird Coffee gift card balance · Giftwell</title>" in page
    assert "balance and expiry date" in meta(page, "name", "description")


# --- Sitemap and robots.txt ---------------------------------------------------------------


def sitemap_locations(client: Client) -> list[str]:
    response = client.get("/sitemap.xml")
    assert response.status_code == 200
    tree = ElementTree.fromstring(response.content)  # noqa: S314 - our own output
    ns = {"sm": "http://www.sitemaps.org/schemas/sitemap/0.9"}
    return [loc.text or "" for loc in tree.findall("sm:url/sm:loc", ns)]


def test_the_sitemap_lists_open_storefronts_and_products_on_sale(
    client: Client,
    merchant: Merchant,
    fixed_product: Product,
    custom_product: Product,
    hidden_product: Product,
) -> None:
    closed = MerchantFactory(slug="closed-shop", status=MerchantStatus.CLOSED)
    closed_product = ProductFactory(
        merchant=closed, name="Gone", currency="EUR", denominations=[1000]
    )

    locations = sitemap_locations(client)

    assert f"{SITE}/s/{merchant.slug}/" in locations
    assert f"{SITE}/s/{merchant.slug}/p/{fixed_product.public_id}/" in locations
    assert f"{SITE}/s/{merchant.slug}/p/{custom_product.public_id}/" in locations
    assert not any(hidden_product.public_id in loc for loc in locations)
    assert not any("closed-shop" in loc for loc in locations)
    assert not any(closed_product.public_id in loc for loc in locations)
    assert len(locations) == 3


def test_robots_txt_opens_storefronts_and_closes_private_areas(client: Client, db: None) -> None:
    response = client.get("/robots.txt")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    lines = response.content.decode().splitlines()
    assert lines[0] == "User-agent: *"
    assert "Allow: /s/" in lines
    for private in ("/admin/", "/m/", "/api/", "/account/", "/accounts/"):
        assert f"Disallow: {private}" in lines
    assert f"Sitemap: {SITE}/sitemap.xml" in lines

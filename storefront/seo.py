"""What search engines and link previews read (UX-3): absolute URLs on ``SITE_URL``,
descriptions, Open Graph tags and schema.org JSON-LD.

JSON-LD goes in ``<script type="application/ld+json">``: a data block that browsers
never execute, so the Content Security Policy's ``script-src`` does not apply to it.
Its text is escaped as ``json_script`` escapes (``<``, ``>``, ``&``), so no value,
whatever a merchant typed, can close the element.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import Truncator

from core import site
from core.money import format_plain
from giftcards.models import Product
from merchants.models import Merchant
from storefront import pricing

DESCRIPTION_LENGTH = 160
SCHEMA = "https://schema.org"

_JSON_ESCAPES = {ord(">"): "\\u003E", ord("<"): "\\u003C", ord("&"): "\\u0026"}


def absolute(path_or_url: str) -> str:
    """The site's base URL + path; URLs that are already absolute (object storage) stay."""
    return site.absolute(path_or_url)


def image_url(image: Any) -> str:
    """The absolute URL of an uploaded image, or "" when there is none."""
    if not image:
        return ""
    try:
        return absolute(image.url)
    except ValueError:  # a file field without a file
        return ""


def describe(text: str, fallback: str) -> str:
    """One line of at most 160 characters, for meta and Open Graph descriptions."""
    flat = " ".join((text or "").split()) or fallback
    return Truncator(flat).chars(DESCRIPTION_LENGTH)


def json_ld(data: dict[str, Any]) -> SafeString:
    """``<script type="application/ld+json">`` with ``data``, escaped like ``json_script``."""
    text = json.dumps(data, cls=DjangoJSONEncoder, ensure_ascii=False).translate(_JSON_ESCAPES)
    return format_html('<script type="application/ld+json">{}</script>', mark_safe(text))  # noqa: S308


@dataclass(frozen=True)
class PageMeta:
    """Everything a public page puts in its ``<head>`` for search engines and previews."""

    title: str
    description: str
    canonical: str
    og_type: str = "website"
    image: str = ""
    structured: list[SafeString] = field(default_factory=list)


def storefront_url(merchant: Merchant) -> str:
    return absolute(reverse("storefront:home", args=[merchant.slug]))


def product_url(product: Product) -> str:
    return absolute(reverse("storefront:product", args=[product.merchant.slug, product.public_id]))


def storefront_meta(merchant: Merchant, products: list[Product]) -> PageMeta:
    url = storefront_url(merchant)
    logo = image_url(merchant.logo)
    organization: dict[str, Any] = {
        "@context": SCHEMA,
        "@type": "Organization",
        "name": merchant.name,
        "url": url,
    }
    if logo:
        organization["logo"] = logo
    names = ", ".join(p.name for p in products[:3])
    description = describe(
        "",
        f"Buy {merchant.name} gift cards online, for yourself or as a gift, delivered by "
        f"email or text message." + (f" {names}." if names else ""),
    )
    return PageMeta(
        title=f"{merchant.name} gift cards",
        description=description,
        canonical=url,
        image=logo,
        structured=[json_ld(organization)],
    )


def _offers(product: Product, url: str) -> dict[str, Any] | list[dict[str, Any]]:
    currency = product.currency
    in_stock = f"{SCHEMA}/InStock"
    if product.denominations:
        return [
            {
                "@type": "Offer",
                "price": format_plain(int(amount), currency),
                "priceCurrency": currency,
                "availability": in_stock,
                "url": url,
            }
            for amount in sorted(int(a) for a in product.denominations)
        ]
    span = pricing.amount_range(product)
    offer: dict[str, Any] = {
        "@type": "AggregateOffer",
        "lowPrice": format_plain(span.low, currency),
        "priceCurrency": currency,
        "availability": in_stock,
        "url": url,
    }
    if span.high is not None:
        offer["highPrice"] = format_plain(span.high, currency)
    return offer


def product_meta(product: Product) -> PageMeta:
    merchant = product.merchant
    url = product_url(product)
    image = image_url(product.image)
    description = describe(
        product.description,
        f"A {merchant.name} gift card ({pricing.price_label(product)}), for yourself or as a gift.",
    )
    data: dict[str, Any] = {
        "@context": SCHEMA,
        "@type": "Product",
        "name": product.name,
        "description": description,
        "sku": product.public_id,
        "url": url,
        "brand": {"@type": "Brand", "name": merchant.name},
        "offers": _offers(product, url),
    }
    if image:
        data["image"] = image
    return PageMeta(
        title=f"{product.name} · {merchant.name}",
        description=description,
        canonical=url,
        og_type="product",
        image=image or image_url(merchant.logo),
        structured=[json_ld(data)],
    )

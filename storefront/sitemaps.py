"""``/sitemap.xml``: every open storefront and every product on sale, on the site's base
URL (``core.site``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from django.contrib.sitemaps import Sitemap
from django.contrib.sites.requests import RequestSite
from django.db.models import QuerySet
from django.urls import reverse

from core.site import site_url
from giftcards.models import Product
from merchants.models import Merchant
from storefront import selectors


class _SiteUrl(RequestSite):
    """The site's host (``core.site``), in the shape the sitemap framework asks of a site."""

    def __init__(self) -> None:
        parts = urlsplit(site_url())
        self.protocol = parts.scheme or "https"
        self.domain = self.name = parts.netloc + parts.path.rstrip("/")


class SiteUrlSitemap(Sitemap[Any]):
    """Absolute URLs from the site's base URL, never from an unchecked Host header."""

    def get_urls(self, page: int | str = 1, site: Any = None, protocol: str | None = None) -> Any:
        site_url = _SiteUrl()
        return super().get_urls(page=page, site=site_url, protocol=site_url.protocol)


class StorefrontSitemap(SiteUrlSitemap):
    changefreq = "weekly"
    priority = 0.8

    def items(self) -> QuerySet[Merchant]:
        return selectors.merchant_public_list()

    def location(self, item: Merchant) -> str:
        return reverse("storefront:home", args=[item.slug])

    def lastmod(self, item: Merchant) -> datetime:
        return item.updated_at


class ProductSitemap(SiteUrlSitemap):
    changefreq = "weekly"
    priority = 0.6

    def items(self) -> QuerySet[Product]:
        return selectors.product_public_list_all()

    def location(self, item: Product) -> str:
        return reverse("storefront:product", args=[item.merchant.slug, item.public_id])

    def lastmod(self, item: Product) -> datetime:
        return item.updated_at


SITEMAPS = {"storefronts": StorefrontSitemap, "products": ProductSitemap}

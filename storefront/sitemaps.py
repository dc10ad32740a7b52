"""``/sitemap.xml``: every open storefront and every product on sale, on ``SITE_URL``."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.sitemaps import Sitemap
from django.contrib.sites.requests import RequestSite
from django.db.models import QuerySet
from django.urls import reverse

from giftcards.models import Product
from merchants.models import Merchant
from storefront import selectors


class _SiteUrl(RequestSite):
    """The host of ``SITE_URL``, in the shape the sitemap framework asks of a site."""

    def __init__(self) -> None:
        parts = urlsplit(settings.SITE_URL)
        self.protocol = parts.scheme or "https"
        self.domain = self.name = parts.netloc + parts.path.rstrip("/")


class SiteUrlSitemap(Sitemap):
    """Absolute URLs from ``SITE_URL``, not from whatever Host a request carried."""

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

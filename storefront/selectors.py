"""What the public may see: active merchants and their active products, nothing else."""

from __future__ import annotations

from django.db.models import QuerySet

from giftcards.models import Product
from merchants.models import Merchant, MerchantStatus


def merchant_public_get(*, slug: str) -> Merchant | None:
    """The merchant whose storefront lives at ``/s/<slug>/``, if it is open to the public."""
    return Merchant.objects.filter(slug=slug, status=MerchantStatus.ACTIVE).first()


def merchant_public_list() -> QuerySet[Merchant]:
    return Merchant.objects.filter(status=MerchantStatus.ACTIVE).order_by("slug")


def product_public_list(*, merchant: Merchant) -> QuerySet[Product]:
    return Product.objects.filter(merchant=merchant, is_active=True).order_by("name", "pk")


def product_public_get(*, merchant: Merchant, public_id: str) -> Product | None:
    return Product.objects.filter(merchant=merchant, public_id=public_id, is_active=True).first()


def product_public_list_all() -> QuerySet[Product]:
    """Every product on sale anywhere, for the sitemap."""
    return (
        Product.objects.filter(is_active=True, merchant__status=MerchantStatus.ACTIVE)
        .select_related("merchant")
        .order_by("merchant__slug", "name", "pk")
    )

"""Writes to a merchant's product catalogue (GC-6).

Products hold no money, so these are plain model writes; they still live here rather
than in forms or views so that the dashboard, the API and the admin share one set of
rules. Images arrive already validated and re-encoded (``giftcards.forms``); a replaced
or removed image file is deleted from storage once the change has committed.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.core.files.base import File
from django.db import transaction

from core.errors import ApplicationError
from giftcards.models import Product
from giftcards.product_rules import product_terms_refusal
from giftcards.sale_checks import SaleTerms, sale_refusal
from merchants.models import Merchant


class InvalidProduct(ApplicationError):
    # Belongs in giftcards.exceptions; kept here until that module can take it.
    code = "invalid_product"
    title = "Invalid product"

    def __init__(self, detail: str | None = None, *, field: str | None = None) -> None:
        self.field = field
        super().__init__(detail, extra={"field": field} if field else None)


class ProductNotSellable(InvalidProduct):
    """A registered sale check (``giftcards.sale_checks``) refuses to put the product
    on sale, e.g. the payment provider cannot charge one of its amounts exactly."""

    code = "product_not_sellable"
    title = "Product cannot be put on sale"


def _check(
    *,
    name: str,
    currency: str,
    denominations: Sequence[int],
    min_amount: int | None,
    max_amount: int | None,
    validity_days: int | None,
    is_active: bool,
) -> None:
    """The catalogue's rules (``giftcards.product_rules``); a product that is to be on
    sale must also pass every registered sale check."""
    if not name.strip():
        raise InvalidProduct("A product needs a name.")
    refusal = product_terms_refusal(
        currency=currency,
        denominations=denominations,
        min_amount=min_amount,
        max_amount=max_amount,
        validity_days=validity_days,
    )
    if refusal is not None:
        raise InvalidProduct(refusal.detail, field=refusal.field)
    if is_active:
        _check_sellable(
            SaleTerms(
                currency=currency,
                denominations=tuple(denominations),
                min_amount=min_amount,
                max_amount=max_amount,
            )
        )


def _check_sellable(terms: SaleTerms) -> None:
    refusal = sale_refusal(terms)
    if refusal is not None:
        raise ProductNotSellable(refusal.detail, field=refusal.field)


def _delete_file_on_commit(file_name: str, product: Product) -> None:
    storage = product.image.storage

    def delete() -> None:
        storage.delete(file_name)

    transaction.on_commit(delete)


@transaction.atomic
def product_create(
    *,
    merchant: Merchant,
    name: str,
    currency: str,
    description: str = "",
    image: File[bytes] | None = None,
    denominations: Sequence[int] = (),
    min_amount: int | None = None,
    max_amount: int | None = None,
    validity_days: int | None = None,
    reloadable: bool = False,
    is_active: bool = True,
) -> Product:
    _check(
        name=name,
        currency=currency,
        denominations=denominations,
        min_amount=min_amount,
        max_amount=max_amount,
        validity_days=validity_days,
        is_active=is_active,
    )
    product = Product(
        merchant=merchant,
        name=name.strip(),
        description=description.strip(),
        currency=currency,
        denominations=sorted(denominations),
        min_amount=min_amount,
        max_amount=max_amount,
        validity_days=validity_days,
        reloadable=reloadable,
        is_active=is_active,
    )
    if image is not None:
        product.image = image  # stored by the field on save
    product.save()
    return product


@transaction.atomic
def product_update(
    *,
    product: Product,
    name: str,
    currency: str,
    description: str = "",
    image: File[bytes] | None = None,
    remove_image: bool = False,
    denominations: Sequence[int] = (),
    min_amount: int | None = None,
    max_amount: int | None = None,
    validity_days: int | None = None,
    reloadable: bool = False,
    is_active: bool = True,
) -> Product:
    """Replace every editable field. Cards already issued keep their own currency,
    amount, expiry and reloadability: a product change applies to future cards."""
    _check(
        name=name,
        currency=currency,
        denominations=denominations,
        min_amount=min_amount,
        max_amount=max_amount,
        validity_days=validity_days,
        is_active=is_active,
    )
    old_image = product.image.name or ""
    product.name = name.strip()
    product.description = description.strip()
    product.currency = currency
    product.denominations = sorted(denominations)
    product.min_amount = min_amount
    product.max_amount = max_amount
    product.validity_days = validity_days
    product.reloadable = reloadable
    product.is_active = is_active
    if image is not None:
        product.image = image
    elif remove_image:
        product.image = ""
    product.save()
    if old_image and old_image != product.image.name:
        _delete_file_on_commit(old_image, product)
    return product


@transaction.atomic
def product_set_active(*, product: Product, active: bool) -> Product:
    """Deactivated products are no longer offered for new cards; issued cards keep working.
    A product goes (back) on sale only if every registered sale check accepts it."""
    if active:
        _check_sellable(
            SaleTerms(
                currency=product.currency,
                denominations=tuple(product.denominations or ()),
                min_amount=product.min_amount,
                max_amount=product.max_amount,
            )
        )
    product.is_active = active
    product.save(update_fields=["is_active", "updated_at"])
    return product

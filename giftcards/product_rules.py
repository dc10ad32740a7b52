"""A product's rules for amounts and validity (GC-6, GC-8), in one place.

- ``product_terms_refusal``: what a product may be defined with (fixed amounts or a
  range, each within the platform's limit, a validity no shorter than the platform's
  floor). The catalogue services enforce it; the product form asks it to put the
  message next to the field.
- ``product_amount_refusal``: whether a card of a product may hold an amount. Issuing
  (dashboard, API, bulk), orders and the storefront all ask it, so the same amount is
  refused with the same message everywhere.
- ``product_amount_range`` and ``product_validity_days``: the bounds and the validity a
  product's cards actually get, for the pages that describe them.

Each check answers with a refusal (the message for a person, and the field at fault)
or None; the caller raises its own error with it, as ``giftcards.sale_checks`` does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings

from core.money import CURRENCY_EXPONENTS, MAX_AMOUNT, AmountInvalid, check_amount, format_money
from giftcards.models import Product


@dataclass(frozen=True)
class ProductRefusal:
    """Why a product's terms are refused, and the product field at fault (None: the whole)."""

    detail: str
    field: str | None = None


@dataclass(frozen=True)
class AmountRange:
    """The amounts a card of a product may hold, in minor units, both ends included."""

    low: int
    high: int


def min_validity_days() -> int:
    """The platform's validity floor (GC-8): many jurisdictions require years."""
    return int(settings.GIFTCARD_MIN_VALIDITY_DAYS)


def product_terms_refusal(
    *,
    currency: str,
    denominations: Sequence[int],
    min_amount: int | None,
    max_amount: int | None,
    validity_days: int | None,
) -> ProductRefusal | None:
    """The first rule the terms break, or None when a product may have them."""
    if currency not in CURRENCY_EXPONENTS:
        return ProductRefusal(f"{currency} is not a supported currency.", "currency")
    if denominations and (min_amount is not None or max_amount is not None):
        return ProductRefusal("Use fixed amounts or a range, not both.")
    named: list[tuple[str, int | None]] = [("denominations", a) for a in denominations]
    named += [("min_amount", min_amount), ("max_amount", max_amount)]
    for field, amount in named:
        if amount is None:
            continue
        try:
            check_amount(amount, currency)
        except AmountInvalid as exc:
            return ProductRefusal(exc.message, field)
    seen: set[int] = set()
    for amount in denominations:
        if amount in seen:
            return ProductRefusal(
                f"{format_money(amount, currency)} is listed more than once.", "denominations"
            )
        seen.add(amount)
    if min_amount is not None and max_amount is not None and min_amount > max_amount:
        return ProductRefusal("The largest amount must not be below the smallest.", "max_amount")
    if validity_days is not None:
        floor = min_validity_days()
        if validity_days < 1:
            return ProductRefusal("The validity period must be at least one day.", "validity_days")
        if validity_days < floor:
            return ProductRefusal(
                f"Cards must stay valid for at least {floor} days on this platform.",
                "validity_days",
            )
    return None


def product_amount_range(product: Product) -> AmountRange:
    """The smallest and largest amount a card of ``product`` may hold."""
    if product.denominations:
        amounts = [int(a) for a in product.denominations]
        return AmountRange(low=min(amounts), high=max(amounts))
    high = product.max_amount if product.max_amount is not None else MAX_AMOUNT
    return AmountRange(low=product.min_amount or 1, high=high)


def product_amount_refusal(product: Product, amount: int) -> str | None:
    """Why a card of ``product`` cannot hold ``amount`` minor units, for a person; None
    when it can."""
    currency = product.currency
    try:
        check_amount(amount, currency)
    except AmountInvalid as exc:
        return exc.message
    if product.denominations:
        if amount not in product.denominations:
            allowed = ", ".join(format_money(int(d), currency) for d in product.denominations)
            return f"{product.name} comes in these amounts only: {allowed}."
        return None
    span = product_amount_range(product)
    if amount < span.low:
        return f"The smallest amount is {format_money(span.low, currency)}."
    if amount > span.high:
        return f"The largest amount is {format_money(span.high, currency)}."
    return None


def product_validity_days(product: Product) -> int | None:
    """How many days a card of ``product`` stays valid once issued (None: no expiry):
    the product's period, raised to the platform's floor for products made before the
    floor was (a product can no longer be saved below it)."""
    if not product.validity_days:
        return None
    return max(int(product.validity_days), min_validity_days())

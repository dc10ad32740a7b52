"""How a product's price reads on the storefront, for people and for search engines.

Amounts stay integer minor units until the moment they are shown (GC-1).
"""

from __future__ import annotations

from dataclasses import dataclass

from core.money import format_money
from giftcards.models import Product


@dataclass(frozen=True)
class AmountRange:
    """The amounts a product can be bought for, in minor units."""

    low: int
    high: int | None  # None: no upper bound of its own (the platform's limit applies)


def amount_range(product: Product) -> AmountRange:
    if product.denominations:
        amounts = sorted(int(a) for a in product.denominations)
        return AmountRange(low=amounts[0], high=amounts[-1])
    return AmountRange(low=product.min_amount or 1, high=product.max_amount)


def price_label(product: Product) -> str:
    """``"€25.00"``, ``"€25.00 to €100.00"``, ``"From €10.00"`` or ``"Any amount"``."""
    currency = product.currency
    if product.denominations:
        span = amount_range(product)
        if span.high is None or span.high == span.low:
            return format_money(span.low, currency)
        return f"{format_money(span.low, currency)} to {format_money(span.high, currency)}"
    low, high = product.min_amount, product.max_amount
    if low is not None and high is not None:
        if low == high:
            return format_money(low, currency)
        return f"{format_money(low, currency)} to {format_money(high, currency)}"
    if low is not None:
        return f"From {format_money(low, currency)}"
    if high is not None:
        return f"Up to {format_money(high, currency)}"
    return "Any amount"


def denomination_choices(product: Product) -> list[tuple[str, str]]:
    """Radio choices for fixed amounts: (minor units as text, the amount as people read it)."""
    return [
        (str(int(amount)), format_money(int(amount), product.currency))
        for amount in sorted(int(a) for a in product.denominations)
    ]

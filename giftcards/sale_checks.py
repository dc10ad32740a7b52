"""What may be put on sale: checks that other apps add to the catalogue's rules.

``giftcards`` knows nothing of payments (dependencies run core <- merchants <- giftcards
<- orders), yet a product whose amounts the payment provider cannot charge exactly must
not be sold. So the app that takes payments registers a check here, in its
``AppConfig.ready``, and the product services run every registered check whenever a
product is put on sale or changed while on sale.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class SaleTerms:
    """What a product offers: its currency and its fixed amounts (minor units)."""

    currency: str
    denominations: tuple[int, ...] = ()
    min_amount: int | None = None
    max_amount: int | None = None

    def fixed_amounts(self) -> list[tuple[str, int]]:
        """Each amount the product names, with the product field it comes from."""
        named = [("denominations", int(amount)) for amount in self.denominations]
        named += [
            (name, amount)
            for name, amount in (("min_amount", self.min_amount), ("max_amount", self.max_amount))
            if amount is not None
        ]
        return named


@dataclass(frozen=True)
class SaleRefusal:
    """Why the terms cannot be sold, and the product field at fault (None: the whole)."""

    detail: str
    field: str | None = None


SaleCheck = Callable[[SaleTerms], SaleRefusal | None]

_checks: dict[str, SaleCheck] = {}


def sale_check_register(*, name: str, check: SaleCheck) -> None:
    """Add the check called ``name``; registering a name again replaces its check."""
    _checks[name] = check


def sale_refusal(terms: SaleTerms) -> SaleRefusal | None:
    """The first refusal of the registered checks, in registration order; None: on sale."""
    for check in list(_checks.values()):
        refusal = check(terms)
        if refusal is not None:
            return refusal
    return None

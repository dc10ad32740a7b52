"""Amounts in a payment provider's units: the one place they are converted.

The platform keeps money as integer minor units with the ISO 4217 exponent of
``core.money`` (ISK 0, EUR 2, KWD 3). A provider has its own idea of a currency's
minor unit, and sometimes accepts only multiples of it. Every amount sent to a
provider goes through ``to_provider`` and every amount it reports back is compared in
its units, so that a 10,000 ISK card is never charged 100 ISK.

A conversion is exact or refused (``AmountNotChargeable``): nothing here rounds.
``charge_refusal`` says beforehand why an amount cannot be charged, so a product or an
order that the configured provider cannot charge exactly is refused before it is sold.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from math import gcd

from core.money import CURRENCY_EXPONENTS, format_money
from giftcards.sale_checks import SaleRefusal, SaleTerms
from orders.exceptions import AmountNotChargeable, PaymentProviderError
from orders.models import PaymentProvider
from orders.payments import configured_provider


@dataclass(frozen=True)
class ProviderCurrency:
    """How a provider takes one currency: ``exponent`` decimal places in its API
    amounts, which must be multiples of ``step``."""

    exponent: int
    step: int = 1


@dataclass(frozen=True)
class ProviderUnits:
    """A provider's table. ``default`` applies to every currency not listed; None means
    the platform's own exponent."""

    label: str
    default: ProviderCurrency | None
    currencies: Mapping[str, ProviderCurrency] = field(default_factory=dict)

    def rule(self, currency: str) -> ProviderCurrency:
        return (
            self.currencies.get(currency)
            or self.default
            or ProviderCurrency(exponent=CURRENCY_EXPONENTS[currency])
        )


# Stripe, from its documentation: "Supported currencies", sections "Minor units in API
# amounts", "Zero-decimal currencies", "Three-decimal currencies" and "Special cases"
# (https://docs.stripe.com/currencies). Every other currency is two-decimal.
STRIPE_ZERO_DECIMAL = frozenset(
    {
        "BIF",
        "CLP",
        "DJF",
        "GNF",
        "JPY",
        "KMF",
        "KRW",
        "MGA",
        "PYG",
        "RWF",
        "UGX",
        "VND",
        "VUV",
        "XAF",
        "XOF",
        "XPF",
    }
)
# Amounts in thousandths whose last digit must be 0 (Stripe's payment partners).
STRIPE_THREE_DECIMAL = frozenset({"BHD", "JOD", "KWD", "OMR", "TND"})
_STRIPE_TWO_DECIMAL = ProviderCurrency(exponent=2)
STRIPE = ProviderUnits(
    label="Stripe",
    default=_STRIPE_TWO_DECIMAL,
    currencies={
        **{code: ProviderCurrency(exponent=0) for code in STRIPE_ZERO_DECIMAL},
        **{code: ProviderCurrency(exponent=3, step=10) for code in STRIPE_THREE_DECIMAL},
        # Effectively zero-decimal, but the API keeps two decimals: 1 krona is 100,
        # and an amount must be divisible by 100.
        "ISK": ProviderCurrency(exponent=2, step=100),
        # Charged as two-decimal currencies. Only Stripe payouts in HUF and TWD must be
        # divisible by 100: payouts to merchants will need their own rule.
        "HUF": _STRIPE_TWO_DECIMAL,
        "TWD": _STRIPE_TWO_DECIMAL,
    },
)
# The built-in test provider takes the platform's minor units as they are.
TEST = ProviderUnits(label="The test provider", default=None)

PROVIDERS: dict[str, ProviderUnits] = {
    PaymentProvider.STRIPE: STRIPE,
    PaymentProvider.TEST: TEST,
}


def _table(provider: str) -> ProviderUnits:
    table = PROVIDERS.get(provider)
    if table is None:
        raise PaymentProviderError("Payments are not configured for this shop.")
    return table


def _platform_exponent(currency: str) -> int:
    places = CURRENCY_EXPONENTS.get(currency)
    if places is None:
        raise AmountNotChargeable(f"{currency or 'This currency'} cannot be charged here.")
    return places


def charge_step(currency: str, *, provider: str) -> int:
    """The smallest amount, in the platform's minor units, that ``provider`` can charge
    in ``currency``: the amounts it can charge are exactly the multiples of it."""
    rule = _table(provider).rule(currency)
    shift = rule.exponent - _platform_exponent(currency)
    step = rule.step
    if shift >= 0:
        return int(step // gcd(step, 10**shift))
    return int(step * 10**-shift)


def _not_chargeable(amount: int, currency: str, provider: str) -> AmountNotChargeable:
    step = charge_step(currency, provider=provider)
    below = amount - amount % step
    choices = [format_money(a, currency) for a in (below, below + step) if a > 0]
    return AmountNotChargeable(
        f"{_table(provider).label} takes payments in {currency} in steps of "
        f"{format_money(step, currency)}, so {format_money(amount, currency)} cannot be "
        f"charged exactly: choose {' or '.join(choices)}.",
        extra={"currency": currency, "step": step},
    )


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def to_provider(amount: int, currency: str, *, provider: str) -> int:
    """``amount`` (platform minor units of ``currency``) as ``provider``'s API amount.
    Raises ``AmountNotChargeable`` when the provider cannot charge it exactly."""
    rule = _table(provider).rule(currency)
    shift = rule.exponent - _platform_exponent(currency)
    if not _whole(amount):
        raise AmountNotChargeable("An amount must be a whole number of minor units.")
    if shift >= 0:
        converted: int = amount * 10**shift
    elif amount % 10**-shift:
        raise _not_chargeable(amount, currency, provider)
    else:
        converted = amount // 10**-shift
    if converted % rule.step:
        raise _not_chargeable(amount, currency, provider)
    return converted


def from_provider(amount: int, currency: str, *, provider: str) -> int:
    """``provider``'s API ``amount`` of ``currency`` in platform minor units. Raises
    ``AmountNotChargeable`` for an amount the platform cannot hold exactly (or that
    the provider's own rules do not allow)."""
    rule = _table(provider).rule(currency)
    shift = rule.exponent - _platform_exponent(currency)
    if not _whole(amount) or amount % rule.step or (shift > 0 and amount % 10**shift):
        raise AmountNotChargeable(
            f"{amount} is not an amount of {currency} in {_table(provider).label}'s units."
        )
    return int(amount // 10**shift if shift >= 0 else amount * 10**-shift)


def charge_refusal(amount: int, currency: str, *, provider: str) -> str | None:
    """Why ``provider`` cannot charge ``amount`` ``currency`` exactly; None when it can."""
    try:
        to_provider(amount, currency, provider=provider)
    except AmountNotChargeable as exc:
        return exc.detail
    return None


def product_sale_check(terms: SaleTerms) -> SaleRefusal | None:
    """The check ``orders`` registers with the product catalogue: a product goes on sale
    only if the configured provider can charge its currency and each of its fixed
    amounts (denominations, the ends of its range) exactly. Amounts a buyer types
    within the range are checked when the order is created."""
    provider = configured_provider()
    try:
        charge_step(terms.currency, provider=provider)
    except AmountNotChargeable as exc:
        return SaleRefusal(exc.detail, field="currency")
    for name, amount in terms.fixed_amounts():
        refusal = charge_refusal(amount, terms.currency, provider=provider)
        if refusal is not None:
            return SaleRefusal(refusal, field=name)
    return None

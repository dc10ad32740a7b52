"""Platform amounts in a payment provider's units: Stripe's documented rules, one test per
special case, and every conversion exact or refused."""

from __future__ import annotations

import pytest

from core.money import CURRENCY_EXPONENTS
from orders.exceptions import AmountNotChargeable, PaymentProviderError
from orders.payments import units
from orders.payments.units import (
    ProviderCurrency,
    ProviderUnits,
    charge_refusal,
    charge_step,
    from_provider,
    to_provider,
)

STRIPE = "stripe"


def test_two_decimal_currencies_go_to_stripe_as_they_are() -> None:
    assert to_provider(2550, "EUR", provider=STRIPE) == 2550
    assert from_provider(2550, "EUR", provider=STRIPE) == 2550
    assert charge_step("USD", provider=STRIPE) == 1


def test_isk_whole_kronur_go_to_stripe_with_two_decimals() -> None:
    # The platform holds ISK with no decimals; Stripe's API keeps two, in steps of 100.
    assert to_provider(10_000, "ISK", provider=STRIPE) == 1_000_000
    assert from_provider(1_000_000, "ISK", provider=STRIPE) == 10_000
    assert charge_step("ISK", provider=STRIPE) == 1
    assert charge_refusal(10_001, "ISK", provider=STRIPE) is None


def test_stripe_isk_amounts_that_are_not_whole_kronur_are_refused() -> None:
    for reported in (1_000_050, 1_000_001):
        with pytest.raises(AmountNotChargeable):
            from_provider(reported, "ISK", provider=STRIPE)


def test_huf_is_charged_at_stripe_with_its_two_decimals() -> None:
    # Only Stripe's HUF payouts must be whole forints; charges keep the fillér.
    assert to_provider(150_050, "HUF", provider=STRIPE) == 150_050
    assert from_provider(150_050, "HUF", provider=STRIPE) == 150_050
    assert charge_step("HUF", provider=STRIPE) == 1


def test_twd_is_charged_at_stripe_with_its_two_decimals() -> None:
    assert to_provider(123_450, "TWD", provider=STRIPE) == 123_450
    assert to_provider(123_401, "TWD", provider=STRIPE) == 123_401
    assert from_provider(123_401, "TWD", provider=STRIPE) == 123_401
    assert charge_step("TWD", provider=STRIPE) == 1


def test_ugx_is_zero_decimal_on_both_sides() -> None:
    assert to_provider(50_000, "UGX", provider=STRIPE) == 50_000
    assert from_provider(50_000, "UGX", provider=STRIPE) == 50_000
    assert charge_step("UGX", provider=STRIPE) == 1


@pytest.mark.parametrize("currency", ["JPY", "KRW"])
def test_zero_decimal_currencies_are_not_multiplied_by_100(currency: str) -> None:
    assert to_provider(5000, currency, provider=STRIPE) == 5000
    assert from_provider(5000, currency, provider=STRIPE) == 5000


@pytest.mark.parametrize("currency", ["KWD", "BHD"])
def test_three_decimal_currencies_go_in_steps_of_ten_thousandths(currency: str) -> None:
    assert to_provider(5120, currency, provider=STRIPE) == 5120
    assert from_provider(5130, currency, provider=STRIPE) == 5130
    assert charge_step(currency, provider=STRIPE) == 10


def test_a_kwd_amount_stripe_cannot_charge_is_refused_with_the_nearest_choices() -> None:
    with pytest.raises(AmountNotChargeable) as refused:
        to_provider(5125, "KWD", provider=STRIPE)

    assert refused.value.code == "amount_not_chargeable"
    assert refused.value.detail == (
        "Stripe takes payments in KWD in steps of 0.010 KWD, so 5.125 KWD cannot be "
        "charged exactly: choose 5.120 KWD or 5.130 KWD."
    )
    assert charge_refusal(5125, "KWD", provider=STRIPE) == refused.value.detail
    assert charge_refusal(5, "KWD", provider=STRIPE) == (
        "Stripe takes payments in KWD in steps of 0.010 KWD, so 0.005 KWD cannot be "
        "charged exactly: choose 0.010 KWD."
    )
    with pytest.raises(AmountNotChargeable):
        from_provider(5125, "KWD", provider=STRIPE)


@pytest.mark.parametrize("currency", sorted(CURRENCY_EXPONENTS))
def test_every_platform_currency_goes_to_stripe_and_back_exactly(currency: str) -> None:
    step = charge_step(currency, provider=STRIPE)
    for amount in (step, 7 * step, 123_456 * step):
        sent = to_provider(amount, currency, provider=STRIPE)
        assert from_provider(sent, currency, provider=STRIPE) == amount


def test_the_test_provider_takes_platform_units_as_they_are() -> None:
    for currency, amount in (("ISK", 10_000), ("KWD", 5125), ("JPY", 5000), ("EUR", 2550)):
        assert to_provider(amount, currency, provider="test") == amount
        assert from_provider(amount, currency, provider="test") == amount
        assert charge_refusal(amount, currency, provider="test") is None


def test_a_provider_coarser_than_the_platform_refuses_what_it_cannot_hold(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # As Stripe's payouts count HUF: in whole forints, as multiples of 100 of two decimals
    # would be; here a provider whose API has no decimals for HUF at all.
    coarse = ProviderUnits(label="Whole-forint pay", default=ProviderCurrency(exponent=0))
    monkeypatch.setitem(units.PROVIDERS, "coarse", coarse)

    assert charge_step("HUF", provider="coarse") == 100
    assert to_provider(150_000, "HUF", provider="coarse") == 1500
    assert from_provider(1500, "HUF", provider="coarse") == 150_000
    assert charge_refusal(150_050, "HUF", provider="coarse") == (
        "Whole-forint pay takes payments in HUF in steps of 1.00 HUF, so 1,500.50 HUF "
        "cannot be charged exactly: choose 1,500.00 HUF or 1,501.00 HUF."
    )


@pytest.mark.parametrize("amount", [10.5, True, "1000", None])
def test_only_whole_numbers_are_amounts(amount: object) -> None:
    with pytest.raises(AmountNotChargeable):
        to_provider(amount, "EUR", provider=STRIPE)  # type: ignore[arg-type]
    with pytest.raises(AmountNotChargeable):
        from_provider(amount, "EUR", provider=STRIPE)  # type: ignore[arg-type]


def test_an_unknown_currency_or_provider_is_refused() -> None:
    with pytest.raises(AmountNotChargeable):
        to_provider(1000, "XYZ", provider=STRIPE)
    with pytest.raises(PaymentProviderError):
        to_provider(1000, "EUR", provider="paypal")

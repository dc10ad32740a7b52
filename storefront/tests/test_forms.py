"""The purchase form on its own: amounts, quantities, gift details, delivery times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from core.contact import normalise_phone
from giftcards.models import Product
from storefront import delivery
from storefront.forms import Purchase

pytestmark = pytest.mark.django_db


RECIPIENT_FIELDS = {"recipient_name", "recipient_email", "recipient_phone", "message", "deliver_at"}


class Checked:
    """The purchase form and its first recipient block, read as one form."""

    def __init__(self, purchase: Purchase) -> None:
        self.purchase = purchase

    def is_valid(self) -> bool:
        return self.purchase.is_valid()

    @property
    def errors(self) -> dict[str, Any]:
        self.purchase.is_valid()
        merged = dict(self.purchase.form.errors)
        if self.purchase.form.chose_gift:
            merged.update(self.purchase.recipients.forms[0].errors)
        return merged

    @property
    def cleaned_data(self) -> dict[str, Any]:
        merged = dict(self.purchase.form.cleaned_data)
        if self.purchase.is_gift:
            merged.update(self.purchase.recipients.forms[0].cleaned_data)
        return merged

    @property
    def is_gift(self) -> bool:
        return self.purchase.is_gift


def form_for(product: Product, **data: Any) -> Checked:
    values = {
        "quantity": "1",
        "purpose": "self",
        "buyer_name": "Ana Lima",
        "buyer_email": "ana@example.com",
        "timezone": "Europe/London",
        "recipients-TOTAL_FORMS": "1",
        "recipients-INITIAL_FORMS": "0",
    }
    for key, value in data.items():
        name = f"recipients-0-{key}" if key in RECIPIENT_FIELDS else key
        values[name] = str(value)
    return Checked(Purchase(values, product=product))


def next_summer_morning() -> datetime:
    """09:00 on the next 1 July: always in the future and within a year."""
    now = timezone.now()
    year = now.year if now < datetime(now.year, 7, 1, tzinfo=UTC) else now.year + 1
    return datetime(year, 7, 1, 9, 0)


@pytest.mark.parametrize(
    ("typed", "minor"),
    [
        ("25", 2500),
        ("25.5", 2550),
        ("25.50", 2550),
        ("10", 1000),
        ("300.00", 30000),
        ("25,50", 2550),
        ("€ 25,50", 2550),
    ],
)
def test_custom_amounts_are_read_in_major_units(
    custom_product: Product, typed: str, minor: int
) -> None:
    form = form_for(custom_product, amount=typed)
    assert form.is_valid(), form.errors
    assert form.cleaned_data["amount"] == minor


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("-1", "more than 0"),
        ("abc", "Type the amount as a number"),
        ("1,250", "could be read two ways"),
        ("25 GBP", "names GBP"),
        ("25.555", "at most 2 decimal places"),
        ("", "Enter an amount."),
        ("300.01", "The largest amount is €300.00."),
        ("1000000", "The largest amount is €300.00."),
        ("9.99", "The smallest amount is €10.00."),
        ("0", "more than 0"),
    ],
)
def test_unusable_custom_amounts_are_refused_with_a_reason(
    custom_product: Product, typed: str, message: str
) -> None:
    form = form_for(custom_product, amount=typed)
    assert not form.is_valid()
    assert message in " ".join(form.errors["amount"])


def test_a_fixed_amount_must_be_one_of_the_choices(fixed_product: Product) -> None:
    assert form_for(fixed_product, amount="5000").is_valid()
    refused = form_for(fixed_product, amount="4999")
    assert not refused.is_valid()
    assert refused.errors["amount"] == ["Choose one of the amounts shown."]


def test_fixed_amounts_come_back_as_minor_units(fixed_product: Product) -> None:
    form = form_for(fixed_product, amount="10000")
    assert form.is_valid()
    assert form.cleaned_data["amount"] == 10000


@pytest.mark.parametrize("quantity", ["0", "11", "-3", "two", ""])
def test_quantity_is_between_one_and_ten(fixed_product: Product, quantity: str) -> None:
    form = form_for(fixed_product, amount="2500", quantity=quantity)
    assert not form.is_valid()
    assert "quantity" in form.errors


def test_a_gift_needs_a_name_and_a_way_to_reach_them(fixed_product: Product) -> None:
    form = form_for(fixed_product, amount="2500", purpose="gift")
    assert not form.is_valid()
    assert form.errors["recipient_name"] == ["Enter the name of the person it is for."]
    assert "email address or mobile number" in form.errors["recipient_email"][0]

    by_phone = form_for(
        fixed_product,
        amount="2500",
        purpose="gift",
        recipient_name="Bea",
        recipient_phone="+44 7700 900123",
    )
    assert by_phone.is_valid(), by_phone.errors
    assert by_phone.cleaned_data["recipient_phone"] == "+447700900123"
    assert by_phone.is_gift


@pytest.mark.parametrize("phone", ["07700 900123", "+0123456", "+44abc", "12345"])
def test_phone_numbers_must_be_international(phone: str) -> None:
    with pytest.raises(ValueError, match="international format"):
        normalise_phone(phone)


def test_phone_numbers_may_start_with_00() -> None:
    assert normalise_phone("0044 (7700) 900-123") == "+447700900123"


def test_the_gift_message_is_at_most_500_characters(fixed_product: Product) -> None:
    gift = {"amount": "2500", "purpose": "gift", "recipient_name": "Bea"}
    gift["recipient_email"] = "bea@example.com"
    assert form_for(fixed_product, **gift, message="x" * 500).is_valid()
    refused = form_for(fixed_product, **gift, message="x" * 501)
    assert not refused.is_valid()
    assert "500 characters or fewer" in refused.errors["message"][0]


def test_gift_details_are_ignored_when_the_card_is_for_the_buyer(fixed_product: Product) -> None:
    form = form_for(
        fixed_product,
        amount="2500",
        purpose="self",
        recipient_email="not an email",
        deliver_at="yesterday",
        message="hello",
    )
    assert form.is_valid(), form.errors
    assert not form.is_gift
    assert form.cleaned_data.get("recipient_email", "") == ""
    assert form.cleaned_data.get("message", "") == ""
    assert form.cleaned_data.get("deliver_at") is None


# --- Time zones ----------------------------------------------------------------------------


def test_nine_in_the_morning_in_london_in_summer_is_eight_utc() -> None:
    when = delivery.local_to_utc(datetime(2030, 7, 1, 9, 0), "Europe/London")
    assert when == datetime(2030, 7, 1, 8, 0, tzinfo=UTC)
    assert when.tzinfo is UTC


def test_nine_in_the_morning_in_london_in_winter_is_nine_utc() -> None:
    when = delivery.local_to_utc(datetime(2030, 1, 15, 9, 0), "Europe/London")
    assert when == datetime(2030, 1, 15, 9, 0, tzinfo=UTC)


def test_a_time_skipped_by_the_clocks_is_refused() -> None:
    # 01:30 on 31 March 2030 does not happen in London: clocks go from 01:00 to 02:00.
    with pytest.raises(delivery.InvalidLocalTime):
        delivery.local_to_utc(datetime(2030, 3, 31, 1, 30), "Europe/London")


@pytest.mark.parametrize("name", ["", "Mars/Olympus", "../../etc/passwd", None])
def test_unknown_time_zones_mean_utc(name: str | None) -> None:
    assert delivery.safe_timezone(name) == "UTC"


def test_the_form_converts_the_delivery_time_from_the_buyers_zone(fixed_product: Product) -> None:
    local = next_summer_morning()
    form = form_for(
        fixed_product,
        amount="2500",
        purpose="gift",
        recipient_name="Bea",
        recipient_email="bea@example.com",
        deliver_at=local.strftime("%Y-%m-%dT%H:%M"),
        timezone="Europe/London",
    )

    assert form.is_valid(), form.errors
    deliver_at = form.cleaned_data["deliver_at"]
    assert deliver_at == datetime(local.year, 7, 1, 8, 0, tzinfo=UTC)
    assert deliver_at.astimezone(ZoneInfo("Europe/London")).hour == 9
    assert form.cleaned_data["timezone"] == "Europe/London"


def test_without_a_time_zone_the_delivery_time_is_utc(fixed_product: Product) -> None:
    local = next_summer_morning()
    form = form_for(
        fixed_product,
        amount="2500",
        purpose="gift",
        recipient_name="Bea",
        recipient_email="bea@example.com",
        deliver_at=local.strftime("%Y-%m-%dT%H:%M"),
        timezone="",
    )
    assert form.is_valid(), form.errors
    assert form.cleaned_data["deliver_at"] == local.replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("deliver_at", "message"),
    [
        ("2001-01-01T09:00", "That time has passed"),
        ("2030-02-30T09:00", "That date does not exist"),
        ("next tuesday", "Enter the date and time like"),
    ],
)
def test_unusable_delivery_times_are_refused(
    fixed_product: Product, deliver_at: str, message: str
) -> None:
    form = form_for(
        fixed_product,
        amount="2500",
        purpose="gift",
        recipient_name="Bea",
        recipient_email="bea@example.com",
        deliver_at=deliver_at,
    )
    assert not form.is_valid()
    assert message in form.errors["deliver_at"][0]


def test_a_delivery_more_than_a_year_ahead_is_refused(fixed_product: Product) -> None:
    far = (timezone.now() + timedelta(days=400)).strftime("%Y-%m-%dT%H:%M")
    form = form_for(
        fixed_product,
        amount="2500",
        purpose="gift",
        recipient_name="Bea",
        recipient_email="bea@example.com",
        deliver_at=far,
    )
    assert not form.is_valid()
    assert "within the next 12 months" in form.errors["deliver_at"][0]


def test_a_delivery_time_just_past_means_right_away(fixed_product: Product) -> None:
    just_now = (timezone.now() - timedelta(minutes=2)).astimezone(UTC)
    form = form_for(
        fixed_product,
        amount="2500",
        purpose="gift",
        recipient_name="Bea",
        recipient_email="bea@example.com",
        deliver_at=just_now.strftime("%Y-%m-%dT%H:%M"),
        timezone="UTC",
    )
    assert form.is_valid(), form.errors
    assert form.cleaned_data["deliver_at"] is None

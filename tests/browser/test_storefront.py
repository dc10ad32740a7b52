"""A customer on a phone: finds the merchant's storefront, opens a card, makes a mistake
in the gift form, corrects it, pays with the test provider and lands on the order's
page; then checks a card's
balance. axe-core checks every page on the way (UX-2)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect

from giftcards import codes
from giftcards.models import Product
from giftcards.tests.factories import IssuedCardFactory
from merchants.models import Merchant
from orders.models import Order
from tests.browser.conftest import Site

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def phone_site(phone: Page, make_site: object) -> Site:
    return make_site(phone)  # type: ignore[operator]


# The phone is set to London time, so the delivery time typed is London time.
@pytest.mark.browser_context_args(timezone_id="Europe/London", locale="en-GB")
def test_a_customer_buys_a_gift_card_on_a_phone(
    phone_site: Site, merchant: Merchant, product: Product
) -> None:
    site, page = phone_site, phone_site.page
    merchant.brand_colour = "#0f766e"
    merchant.save()

    site.visit(f"/s/{merchant.slug}/")
    expect(page).to_have_title("Bluebird Coffee gift cards · Giftwell")
    expect(page.get_by_role("heading", level=1)).to_have_text("Bluebird Coffee gift cards")
    expect(page.locator(".sf-price")).to_have_text("€25.00 to €50.00")
    # The brand colour arrives by stylesheet (no inline styles under the CSP).
    hero_background = page.locator(".sf-hero").evaluate("e => getComputedStyle(e).backgroundColor")
    assert hero_background == "rgb(15, 118, 110)"

    site.follow(page.get_by_role("link", name="Buy Coffee card"))
    assert site.path == f"/s/{merchant.slug}/p/{product.public_id}/"
    expect(page.get_by_role("heading", level=1)).to_have_text("Coffee card")
    browser_zone = page.evaluate("Intl.DateTimeFormat().resolvedOptions().timeZone")
    assert browser_zone == "Europe/London"
    expect(page.locator("input[name=timezone]")).to_have_value(browser_zone)
    gift_details = page.get_by_role("group", name="Gift details")
    expect(gift_details).to_be_hidden()  # "For me" is the default

    page.get_by_role("radio", name="As a gift").check()
    expect(gift_details).to_be_visible()
    page.get_by_role("radio", name="€50.00").check()
    page.get_by_label("Your name").fill("Ana Lima")
    page.get_by_label("Your email").fill("ana@example.com")
    # A mistake: no recipient yet.
    site.submit(page.get_by_role("button", name="Continue to payment"), status=422)
    summary = page.get_by_role("alert").filter(has_text="There are 2 problems")
    expect(summary).to_contain_text("Enter the name of the person it is for.")
    recipient = page.get_by_label("Their name")
    expect(recipient).to_be_focused()
    expect(recipient).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_role("radio", name="€50.00")).to_be_checked()  # choices are kept

    local = (datetime.now(ZoneInfo(browser_zone)) + timedelta(days=3)).replace(
        hour=9, minute=0, second=0, microsecond=0, tzinfo=None
    )
    recipient.fill("Bea Santos")
    page.get_by_label("Their email").fill("bea@example.com")
    page.get_by_label("Your message").fill("Happy birthday, Bea!")
    page.get_by_label("Delivery date and time").fill(local.strftime("%Y-%m-%dT%H:%M"))
    expect(page.locator("[data-timezone-label]")).to_have_text(browser_zone)

    site.submit(page.get_by_role("button", name="Continue to payment"))
    order = Order.objects.get()
    assert site.path.startswith(f"/pay/test/{order.public_id}/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Pay Bluebird Coffee")
    expect(page.get_by_text("€50.00")).to_be_visible()
    line = order.lines.get()
    assert (line.is_gift, line.recipient_name, line.amount) == (True, "Bea Santos", 5000)
    # 09:00 in London is stored as the same instant in UTC (08:00 in summer, 09:00 in winter).
    assert line.deliver_at == local.replace(tzinfo=ZoneInfo("Europe/London"))
    assert line.deliver_at.utcoffset() == timedelta(0)
    assert line.buyer_timezone == browser_zone

    # The test provider's confirm button pays; the buyer lands on the order's page.
    site.submit(page.get_by_role("button", name="Confirm test payment"))
    assert site.path.startswith(f"/orders/{order.public_id}/")
    order.refresh_from_db()
    assert order.status == "fulfilled"
    [card] = [unit.gift_card for unit in order.cards.select_related("gift_card")]
    assert (card.balance, card.recipient_email) == (5000, line.recipient_email)


def test_a_customer_checks_a_balance_on_a_phone(
    phone_site: Site, merchant: Merchant, settings: Any
) -> None:
    site, page = phone_site, phone_site.page
    settings.GIFTCARD_LOOKUP_FAILURES_PER_CLIENT = 1
    issued = IssuedCardFactory(merchant=merchant, amount=3750, currency="EUR")

    site.visit(f"/s/{merchant.slug}/balance/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Check a gift card balance")

    page.get_by_label("Gift card code").fill("ZZZZ-ZZZZ-ZZZZ-ZZZZ")
    site.submit(page.get_by_role("button", name="Check balance"), status=422)
    expect(page.get_by_label("Gift card code")).to_be_focused()
    expect(page.get_by_label("Gift card code")).to_have_value("")  # never echoed

    page.get_by_label("Gift card code").fill(issued.formatted_code)
    site.submit(page.get_by_role("button", name="Check balance"))
    result = page.get_by_role("status").filter(has_text="Card ending")
    expect(result).to_contain_text(f"Card ending {issued.card.last4}")
    expect(result).to_contain_text("€37.50")
    assert issued.code not in re.sub(r"[^A-Z0-9]", "", page.content().upper())

    # Guessing: a well-formed code that matches no card is counted; past the limit the
    # page refuses every code for a while.
    page.get_by_label("Gift card code").fill(codes.generate())
    site.submit(page.get_by_role("button", name="Check balance"), status=404)
    expect(page.get_by_label("Gift card code")).to_have_accessible_description(
        re.compile("No Bluebird Coffee gift card has this code")
    )
    page.get_by_label("Gift card code").fill(issued.formatted_code)
    site.submit(page.get_by_role("button", name="Check balance"), status=429)
    expect(page.get_by_role("alert")).to_contain_text(
        re.compile(r"Too many attempts, try again in \d+ minutes?")
    )
    expect(page.get_by_text("€37.50")).to_have_count(0)

"""A shopper and a clerk behind one address, in real browsers: a shopper who guesses ten
codes on the storefront pauses their own balance checks, never the shop's till."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from giftcards import codes
from giftcards.models import FailedCodeLookup
from giftcards.tests.factories import IssuedCardFactory
from merchants.models import Membership, Merchant, Role
from tests.browser.conftest import Site
from tests.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_guessing_shopper_does_not_stop_the_till(
    site: Site,
    make_site: Callable[[Page], Site],
    new_context: Callable[..., Any],
    merchant: Merchant,
    member_factory: Callable[..., Membership],
    settings: Any,
) -> None:
    settings.GIFTCARD_LOOKUP_FAILURES_PER_CLIENT = 10
    # Budgets count in fixed windows: start well inside one, so the guesses all count
    # in the same window however slowly the browser goes.
    settings.GIFTCARD_LOOKUP_WINDOW_SECONDS = 3600
    until_next = 3600 - time.time() % 3600
    if until_next < 120:
        time.sleep(until_next + 1)
    issued = IssuedCardFactory(merchant=merchant, amount=5000, currency="EUR")
    clerk = member_factory(merchant, Role.CLERK, email="clerk@bluebird.example").user

    # Both browsers reach the live server from 127.0.0.1: one address, as on a cafe's Wi-Fi.
    shop = site.page
    balance = f"/s/{merchant.slug}/balance/"
    for _ in range(10):
        site.visit(balance)
        shop.get_by_label("Gift card code").fill(codes.format_code(codes.generate()))
        site.submit(shop.get_by_role("button", name="Check balance"), status=404)
        expect(shop.locator("#id_code_error")).to_contain_text("No Bluebird Coffee gift card")
    site.visit(balance)
    shop.get_by_label("Gift card code").fill(codes.format_code(codes.generate()))
    site.submit(shop.get_by_role("button", name="Check balance"), status=429)
    expect(shop.get_by_role("alert")).to_contain_text("You have tried too many unknown codes")

    # The clerk, same address, another browser: the till works as usual.
    till_page = new_context().new_page()
    till_site = make_site(till_page)
    till = f"/m/{merchant.slug}/till/"
    till_site.visit(till)  # the sign-in page first
    till_page.get_by_label("Email").fill(clerk.email)
    till_page.get_by_label("Password").fill(PASSWORD)
    till_site.submit(till_page.get_by_role("button", name="Sign in"))
    assert till_site.path == till

    # A mistyped-but-valid code gets the plain "no such card" answer, not a pause...
    till_page.get_by_label("Gift card code").fill(codes.format_code(codes.generate()))
    till_page.get_by_role("button", name="Look up card").click()
    expect(till_page.locator("#till-panel")).to_contain_text("No Bluebird Coffee gift card")
    # ...and the real card is found.
    till_page.get_by_label("Gift card code").fill(issued.formatted_code)
    till_page.get_by_role("button", name="Look up card").click()
    panel = till_page.locator("#till-panel")
    expect(panel.get_by_role("heading", level=2)).to_have_text(f"Card …{issued.card.last4}")
    expect(panel).to_contain_text("€50.00")
    till_site.assert_accessible()

    assert FailedCodeLookup.objects.filter(channel="storefront").count() == 10
    assert FailedCodeLookup.objects.filter(channel="till", user=clerk).count() == 1

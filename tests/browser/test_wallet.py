"""A customer's wallet on a phone (SF-6): signed in, they see the card they bought, add a
card they were given by its code, open its history and their orders. axe-core checks
every page on the way."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from giftcards.models import GiftCard
from giftcards.services import giftcard_redeem
from giftcards.tests.factories import IssuedCardFactory, ProductFactory
from merchants.models import Merchant
from orders.services import LineRequest
from orders.tests.factories import PaidOrderFactory
from tests.browser.conftest import Site
from tests.factories import PASSWORD, UserFactory
from wallet.models import WalletCard, WalletSource

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_customer_keeps_bought_and_given_cards_in_their_wallet(
    phone: Page, make_site: Callable[[Page], Site], merchant: Merchant
) -> None:
    customer = UserFactory(email="ana@example.com")
    product = ProductFactory(merchant=merchant, name="Classic card", denominations=[2500])
    order = PaidOrderFactory(
        merchant=merchant,
        buyer=customer,
        buyer_email=customer.email,
        buyer_name="Ana Lima",
        lines=[LineRequest(product, 2500)],
    )
    bought = GiftCard.objects.get(merchant=merchant)
    given = IssuedCardFactory(merchant=merchant, amount=4000, currency="EUR")
    giftcard_redeem(merchant=merchant, card_id=given.card.pk, amount=1500)

    site = make_site(phone)

    # My cards asks for a sign-in first, then shows the card bought while signed in.
    site.visit("/account/cards/")
    assert site.path == "/accounts/login/?next=/account/cards/"
    phone.get_by_label("Email").fill(customer.email)
    phone.get_by_label("Password").fill(PASSWORD)
    site.submit(phone.get_by_role("button", name="Sign in"))
    assert site.path == "/account/cards/"
    bought_list = phone.get_by_role("list", name="Cards you bought")
    expect(bought_list).to_contain_text(f"card ending {bought.last4}")
    expect(bought_list).to_contain_text("€25.00")

    # A card given by a friend, added with its code.
    phone.get_by_label("Shop").select_option(label=merchant.name)
    phone.get_by_label("Gift card code").fill(given.formatted_code.lower())
    site.submit(phone.get_by_role("button", name="Add card"))
    assert site.path == f"/account/cards/{given.card.public_id}/"
    expect(phone.get_by_role("status")).to_contain_text(
        f"card ending {given.card.last4} is now in your cards"
    )
    history = phone.get_by_role("list", name="History")
    expect(history).to_contain_text("+€40.00")
    expect(history).to_contain_text("-€15.00")
    expect(phone.get_by_role("main")).not_to_contain_text(given.formatted_code)
    assert WalletCard.objects.get(user=customer, gift_card=given.card).source == (
        WalletSource.CLAIMED
    )

    # Back to My cards: both cards, grouped; the bought card's history opens too.
    site.follow(phone.get_by_role("link", name="My cards").first)
    expect(phone.get_by_role("list", name="Cards you received")).to_contain_text("€25.00")
    site.follow(phone.get_by_role("link", name=f"card ending {bought.last4}"))
    expect(phone.get_by_role("list", name="History")).to_contain_text("+€25.00")

    # My orders, from the account page.
    site.visit("/account/")
    site.follow(phone.get_by_role("link", name="My orders"))
    expect(phone.get_by_role("main")).to_contain_text("Fulfilled")
    site.follow(phone.get_by_role("link", name=re.compile(rf"^{merchant.name}\W+order of")))
    assert site.path.startswith(f"/orders/{order.public_id}/?t=")

"""An owner works with orders in a real browser: opens Orders from the nav, filters,
opens an order, sends a card again and refunds an unused order. Every page passes
axe-core (UX-2)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.core import mail
from playwright.sync_api import expect

from giftcards.models import CardStatus, GiftCard
from giftcards.tests.factories import ProductFactory
from merchants.models import Membership, Merchant, Role
from orders.models import Order, OrderStatus
from orders.services import LineRequest
from orders.tests.factories import OrderFactory, PaidOrderFactory
from tests.browser.conftest import Site
from tests.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def owner_email(merchant: Merchant, member_factory: Callable[..., Membership]) -> str:
    return str(member_factory(merchant, Role.OWNER, email="olive@bluebird.example").user.email)


@pytest.fixture
def orders(merchant: Merchant) -> tuple[Order, Order]:
    product = ProductFactory(merchant=merchant, name="Classic card", denominations=[2500, 5000])
    gift = PaidOrderFactory(
        merchant=merchant,
        buyer=None,
        buyer_email="ben@example.com",
        buyer_name="Ben",
        lines=[
            LineRequest(
                product, 2500, is_gift=True, recipient_name="Ana", recipient_email="ana@example.com"
            )
        ],
    )
    waiting = OrderFactory(
        merchant=merchant,
        buyer=None,
        buyer_email="pat@example.com",
        buyer_name="Pat",
        lines=[LineRequest(product, 5000)],
    )
    return gift, waiting


def test_an_owner_filters_opens_resends_and_refunds_an_order(
    site: Site, merchant: Merchant, owner_email: str, orders: tuple[Order, Order]
) -> None:
    gift, waiting = orders
    page = site.page
    sent_before = len(mail.outbox)

    site.visit("/accounts/login/")
    page.get_by_label("Email").fill(owner_email)
    page.get_by_label("Password").fill(PASSWORD)
    site.submit(page.get_by_role("button", name="Sign in"))

    site.follow(page.get_by_role("navigation", name="Main").get_by_role("link", name="Orders"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Orders")
    expect(page.get_by_text(gift.public_id)).to_be_visible()
    expect(page.get_by_text(waiting.public_id)).to_be_visible()
    expect(page.locator("#sales")).to_contain_text("€25.00")

    page.get_by_label("Status").select_option("fulfilled")
    site.submit(page.get_by_role("button", name="Show orders"))
    expect(page.get_by_text(gift.public_id)).to_be_visible()
    expect(page.get_by_text(waiting.public_id)).to_have_count(0)

    site.follow(page.get_by_role("link", name=gift.public_id))
    card = GiftCard.objects.get(merchant=merchant)
    expect(page.get_by_role("heading", level=1)).to_contain_text(gift.public_id)

    site.submit(page.get_by_role("button", name=f"Resend card ending {card.last4}"))
    expect(page.get_by_text(f"The card ending {card.last4} was sent again.")).to_be_visible()
    assert len(mail.outbox) == sent_before + 1
    assert mail.outbox[-1].to == ["ana@example.com"]

    site.follow(page.get_by_role("link", name="Refund order"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Refund order")
    page.get_by_label("I understand").check()
    site.submit(page.get_by_role("button", name="Refund €25.00"))
    expect(page.get_by_text(f"Order {gift.public_id} is refunded")).to_be_visible()

    gift.refresh_from_db()
    card.refresh_from_db()
    assert gift.status == OrderStatus.REFUNDED
    assert card.status == CardStatus.VOID

"""The whole journey of a gift in real browsers (SF-1..SF-5, SF-7): a buyer on a phone buys
a card for a friend with the test provider; the email reaches a real SMTP server on
127.0.0.1; the code in it shows the right balance on the public balance page, and a
clerk redeems it at the till. axe-core checks every page on the way."""

from __future__ import annotations

import re
from collections.abc import Callable
from email.message import EmailMessage

import pytest
from playwright.sync_api import Page, expect

from communications.models import CommunicationLog, Event, MessageStatus
from giftcards.models import GiftCard, Product, TransactionKind
from merchants.models import Membership, Merchant, Role
from orders.models import Order
from tests.browser.conftest import Site
from tests.factories import PASSWORD
from tests.smtp import Mailbox

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CODE = re.compile(r"\b([0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4})\b")


def _text_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


@pytest.mark.browser_context_args(timezone_id="Europe/London", locale="en-GB")
def test_a_gift_bought_on_a_phone_arrives_by_email_and_is_spent_at_the_till(
    phone: Page,
    page: Page,
    make_site: Callable[[Page], Site],
    merchant: Merchant,
    product: Product,
    member_factory: Callable[..., Membership],
    smtp_server: Mailbox,
) -> None:
    buyer = make_site(phone)
    shop = phone

    # The buyer, on a phone: storefront, product, a gift for Bea, the test payment.
    buyer.visit(f"/s/{merchant.slug}/")
    buyer.follow(shop.get_by_role("link", name="Buy Coffee card"))
    shop.get_by_role("radio", name="€50.00").check()
    shop.get_by_role("radio", name="As a gift").check()
    shop.get_by_label("Their name").fill("Bea Santos")
    shop.get_by_label("Their email").fill("bea@example.com")
    shop.get_by_label("Your message").fill("Happy birthday, Bea!")
    shop.get_by_label("Your name").fill("Ana Lima")
    shop.get_by_label("Your email").fill("ana@example.com")
    buyer.submit(shop.get_by_role("button", name="Continue to payment"))
    expect(shop.get_by_text("Test mode")).to_be_visible()
    buyer.submit(shop.get_by_role("button", name="Confirm test payment"))
    order = Order.objects.get()
    assert buyer.path.startswith(f"/orders/{order.public_id}/")
    expect(shop.get_by_text("Fulfilled").first).to_be_visible()

    # Bea's email reached the SMTP server, once, with the amount, the message and the code.
    [(_, recipients, email)] = [m for m in smtp_server.received if m[1] != ["ana@example.com"]]
    assert recipients == ["bea@example.com"]
    text = _text_of(email)
    assert "€50.00" in text
    assert "Happy birthday, Bea!" in text
    found = CODE.search(text)
    assert found, "the email carries the card's code"
    code = found.group(1)
    # Ana got her receipt, once, without the code.
    [(_, _, receipt)] = [m for m in smtp_server.received if m[1] == ["ana@example.com"]]
    assert "Total: €50.00" in _text_of(receipt)
    assert code not in _text_of(receipt)
    card = GiftCard.objects.get(merchant=merchant)
    assert code.replace("-", "")[-4:] == card.last4
    log = CommunicationLog.objects.get(event=Event.GIFT_CARD_DELIVERED)
    assert log.status == MessageStatus.SENT
    assert log.payload == ""  # the rendered message with the code is gone once sent

    # Bea checks the balance on the merchant's public page.
    buyer.visit(f"/s/{merchant.slug}/balance/")
    shop.get_by_label("Gift card code").fill(code.lower())
    buyer.submit(shop.get_by_role("button", name="Check balance"))
    expect(shop.get_by_role("status").filter(has_text="Card ending")).to_contain_text("€50.00")

    # At the shop, a clerk redeems part of it.
    clerk = member_factory(merchant, Role.CLERK, email="clerk@bluebird.example").user
    till_site = make_site(page)
    till = f"/m/{merchant.slug}/till/"
    till_site.visit(till)
    page.get_by_label("Email").fill(clerk.email)
    page.get_by_label("Password").fill(PASSWORD)
    till_site.submit(page.get_by_role("button", name="Sign in"))
    assert till_site.path == till
    page.get_by_label("Gift card code").fill(code)
    page.get_by_role("button", name="Look up card").click()
    expect(page.locator("#till-panel")).to_contain_text("€50.00")
    page.get_by_label("Amount to redeem").fill("20")
    page.get_by_role("button", name="Continue").click()
    expect(page.locator("#till-panel")).to_contain_text("€30.00")
    till_site.assert_accessible()
    till_site.submit(page.get_by_role("button", name="Redeem €20.00"))
    expect(page.get_by_role("article")).to_contain_text("€30.00")

    card.refresh_from_db()
    assert card.balance == 3000
    assert list(card.transactions.order_by("pk").values_list("kind", "amount")) == [
        (TransactionKind.ISSUE, 5000),
        (TransactionKind.REDEEM, -2000),
    ]

"""A recipient opens their card link on a phone (SF-5): the card page passes axe, its Print
button prints, printing gives one page with the card alone, in the merchant's colour,
and the PDF downloads."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from giftcards import codes
from giftcards.models import GiftCard
from giftcards.tests.factories import ProductFactory
from merchants.models import Merchant
from orders.services import LineRequest, card_link_token
from orders.tests.factories import PaidOrderFactory
from tests.browser.conftest import Site

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def card(merchant: Merchant) -> GiftCard:
    merchant.brand_colour = "#0f766e"
    merchant.save()
    product = ProductFactory(merchant=merchant, name="Classic card", denominations=[2500])
    PaidOrderFactory(
        merchant=merchant,
        buyer=None,
        buyer_email="ben@example.com",
        buyer_name="Ben",
        lines=[
            LineRequest(
                product,
                2500,
                is_gift=True,
                recipient_name="Ana",
                recipient_email="ana@example.com",
                message="Happy birthday, Ana!",
            )
        ],
    )
    return GiftCard.objects.get()


@pytest.fixture
def phone_site(phone: Page, make_site: object) -> Site:
    return make_site(phone)  # type: ignore[operator]


def test_a_recipient_prints_their_card_and_downloads_the_pdf(
    phone_site: Site, card: GiftCard
) -> None:
    site, page = phone_site, phone_site.page
    code = codes.format_code(codes.decrypt(card.code_encrypted))

    site.visit(f"/gift/t/{card_link_token(card)}/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Your gift card: €25.00")
    expect(page.locator(".gift-card-code")).to_have_text(code)
    expect(page.get_by_text("Happy birthday, Ana!")).to_be_visible()

    # The Print button appears once its script runs, and asks the browser to print.
    print_button = page.get_by_role("button", name="Print")
    expect(print_button).to_be_visible()
    page.evaluate("() => { window.print = () => { window.printed = (window.printed || 0) + 1; }; }")
    print_button.click()
    assert page.evaluate("window.printed") == 1

    # On paper: the card alone, in the merchant's colour, on one page.
    page.emulate_media(media="print")
    expect(page.locator(".site-header")).to_be_hidden()
    expect(print_button).to_be_hidden()
    expect(page.get_by_role("link", name="Download PDF")).to_be_hidden()
    expect(page.locator(".gift-card-qr")).to_be_visible()
    expect(page.get_by_text("Happy birthday, Ana!")).to_be_visible()
    band = page.locator(".gift-card-brand").evaluate("e => getComputedStyle(e).backgroundColor")
    assert band == "rgb(15, 118, 110)"
    printed = page.pdf(format="A4", print_background=True)
    assert len(re.findall(rb"/Type\s*/Page\b", printed)) == 1
    page.emulate_media(media="screen")

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download PDF").click()
    download = download_info.value
    assert download.suggested_filename == "bluebird-gift-card.pdf"
    path = download.path()
    with open(path, "rb") as pdf:
        assert pdf.read(5) == b"%PDF-"
    site.assert_no_errors()

"""A clerk at the till, in a real browser: sign in through the login page, open the till,
type a card's code, redeem part of it and read the new balance on the receipt. axe-core
checks every page and every step the till panel swaps in (UX-2)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from giftcards import services
from giftcards.models import GiftCard, Transaction, TransactionKind
from giftcards.tests.factories import IssuedCardFactory
from merchants.models import Membership, Merchant, Role
from tests.browser.conftest import Site
from tests.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def clerk_email(merchant: Merchant, member_factory: Callable[..., Membership]) -> str:
    membership = member_factory(merchant, Role.CLERK, email="clerk@bluebird.example")
    return str(membership.user.email)


@pytest.fixture
def issued(merchant: Merchant) -> services.IssuedCard:
    return IssuedCardFactory(merchant=merchant, amount=5000, currency="EUR")


def sign_in(site: Site, email: str, *, at: str) -> None:
    """Open ``at`` signed out: the login page comes first, then ``at`` itself."""
    page = site.page
    site.visit(at)
    assert site.path == f"/accounts/login/?next={at}"
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    site.submit(page.get_by_role("button", name="Sign in"))


def step_heading(page: Page, text: str | re.Pattern[str]) -> Any:
    heading = page.locator("#till-panel").get_by_role("heading", level=2)
    expect(heading).to_have_text(text)
    return heading


def test_clerk_redeems_part_of_a_card_and_sees_the_new_balance(
    site: Site, merchant: Merchant, clerk_email: str, issued: services.IssuedCard
) -> None:
    page = site.page
    card = issued.card
    till = f"/m/{merchant.slug}/till/"
    sign_in(site, clerk_email, at=till)
    assert site.path == till
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Till")).to_have_attribute("aria-current", "page")
    code_field = page.get_by_label("Gift card code")
    expect(code_field).to_be_focused()  # ready for the scanner

    # htmx swaps each step into the panel: the page itself is never reloaded until the
    # receipt, which this marker proves.
    page.evaluate("window.tillMarker = 'same page'")
    # The clerk types the code as it is printed, dashes and all.
    code_field.fill(issued.formatted_code)
    page.get_by_role("button", name="Look up card").click()
    step_heading(page, f"Card …{card.last4}")
    panel = page.locator("#till-panel")
    expect(panel).to_contain_text("€50.00")
    expect(panel).to_contain_text("Active")
    expect(page.get_by_label("Amount to redeem")).to_be_focused()
    site.assert_accessible()

    # A mistake first: more than the card holds is refused before any confirmation.
    page.get_by_label("Amount to redeem").fill("80")
    page.get_by_role("button", name="Continue").click()
    amount_field = page.get_by_label("Amount to redeem")
    expect(amount_field).to_have_attribute("aria-invalid", "true")
    expect(amount_field).to_have_accessible_description(re.compile("The card holds €50.00"))
    site.assert_accessible()

    amount_field.fill("12.50")
    page.get_by_role("button", name="Continue").click()
    heading = step_heading(page, f"Redeem €12.50 from card …{card.last4}?")
    expect(heading).to_be_focused()
    expect(panel).to_contain_text("€37.50")
    site.assert_accessible()
    card.refresh_from_db()
    assert card.balance == 5000  # nothing is spent before the confirmation

    assert page.evaluate("window.tillMarker") == "same page"
    site.submit(page.get_by_role("button", name="Redeem €12.50"))
    txn = Transaction.objects.get(gift_card=card, kind=TransactionKind.REDEEM)
    assert site.path == f"/m/{merchant.slug}/till/receipt/{txn.public_id}/"
    receipt = page.get_by_role("article")
    expect(receipt).to_contain_text("€12.50")
    expect(receipt).to_contain_text("€37.50")
    expect(receipt).to_contain_text(f"…{card.last4}")
    expect(receipt).to_contain_text(txn.public_id)
    expect(receipt).to_contain_text(merchant.name)
    expect(page.get_by_role("status").filter(has_text="Redeemed")).to_contain_text(
        "The card now holds €37.50"
    )
    expect(page.get_by_role("button", name="Print receipt")).to_be_visible()
    assert issued.code not in page.content().upper().replace("-", "")

    card.refresh_from_db()
    assert card.balance == 3750
    assert GiftCard.objects.get(pk=card.pk).transactions.count() == 2

    site.follow(page.get_by_role("link", name="Next customer"))
    assert site.path == f"/m/{merchant.slug}/till/"
    expect(page.get_by_label("Gift card code")).to_have_value("")


def test_the_till_works_as_plain_forms_when_its_scripts_do_not_load(
    site: Site, merchant: Merchant, clerk_email: str, issued: services.IssuedCard
) -> None:
    page = site.page
    # htmx and the till's script blocked (an old browser, a proxy, a failed download):
    # every step is then an ordinary form post and page load.
    page.route(re.compile(r".*/(htmx\.min|till)\.js$"), lambda route: route.abort())
    sign_in(site, clerk_email, at=f"/m/{merchant.slug}/till/")

    page.get_by_label("Gift card code").fill(issued.code.lower())
    site.submit(page.get_by_role("button", name="Look up card"))
    expect(page.locator("#till-panel")).to_contain_text("€50.00")

    page.get_by_label("Amount to redeem").fill("50")
    site.submit(page.get_by_role("button", name="Continue"))
    site.submit(page.get_by_role("button", name="Redeem €50.00"))
    expect(page.get_by_role("article")).to_contain_text("€0.00")
    issued.card.refresh_from_db()
    assert (issued.card.balance, issued.card.status) == (0, "redeemed")


def test_a_manager_issues_cards_in_bulk_and_follows_the_job(
    site: Site, merchant: Merchant, member_factory: Callable[..., Membership]
) -> None:
    """The bulk pages go through axe too: the form, a CSV upload with a bad row, and the
    finished job with its progress bar, counts, row errors and report link."""
    page = site.page
    manager = member_factory(merchant, Role.MANAGER).user
    sign_in(site, str(manager.email), at=f"/m/{merchant.slug}/bulk/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Issue cards in bulk")

    count_form = page.get_by_role("region", name="Same amount on every card")
    count_form.get_by_label("Number of cards").fill("3")
    count_form.get_by_label("Amount on each card").fill("10.00")
    site.submit(count_form.get_by_role("button", name="Issue cards"))
    expect(page.get_by_role("status").filter(has_text="Done")).to_contain_text("3 cards issued")
    expect(page.get_by_label("3 of 3 rows processed")).to_have_attribute("value", "3")
    expect(page.get_by_role("link", name="Download the report (CSV)")).to_be_visible()

    site.visit(f"/m/{merchant.slug}/bulk/")
    csv_form = page.get_by_role("region", name="One card per row of a CSV file")
    csv_form.get_by_label("CSV file").set_input_files(
        files=[
            {
                "name": "promo.csv",
                "mimeType": "text/csv",
                "buffer": b"amount,recipient_email\n25.00,ana@example.com\nten,\n",
            }
        ]
    )
    site.submit(csv_form.get_by_role("button", name="Upload and issue"))
    expect(page.get_by_role("status").filter(has_text="Done")).to_contain_text("1 row failed")
    errors = page.get_by_role("table", name="Rows that were not issued, and why")
    expect(errors).to_contain_text("Type the amount as a number")
    expect(errors.get_by_role("cell", name="3", exact=True)).to_be_visible()

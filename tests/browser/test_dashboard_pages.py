"""An owner walks the merchant dashboard in a real browser: every page they can reach
from the nav passes axe-core, on a desktop and on a phone-sized screen (UX-2)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from giftcards import services
from giftcards.tests.factories import IssuedCardFactory, ProductFactory
from merchants.models import Membership, Merchant, Role
from tests.browser.conftest import Site
from tests.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def owner_email(merchant: Merchant, member_factory: Callable[..., Membership]) -> str:
    return str(member_factory(merchant, Role.OWNER, email="olive@bluebird.example").user.email)


@pytest.fixture
def programme(merchant: Merchant) -> services.IssuedCard:
    product = ProductFactory(merchant=merchant, name="Classic card", denominations=[2500, 5000])
    issued = IssuedCardFactory(merchant=merchant, amount=5000, product=product)
    services.giftcard_redeem(merchant=merchant, card_id=issued.card.pk, amount=1250)
    return issued


def _walk(site: Site, merchant: Merchant, email: str, card_id: str) -> None:
    page = site.page
    site.visit("/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    site.submit(page.get_by_role("button", name="Sign in"))
    assert site.path == f"/m/{merchant.slug}/"
    expect(page.get_by_role("heading", level=1)).to_have_text("Dashboard")
    expect(page.get_by_text("€37.50").first).to_be_visible()
    for path in (
        f"/m/{merchant.slug}/cards/",
        f"/m/{merchant.slug}/cards/{card_id}/",
        f"/m/{merchant.slug}/cards/issue/",
        f"/m/{merchant.slug}/products/",
        f"/m/{merchant.slug}/products/new/",
        f"/m/{merchant.slug}/bulk/",
        f"/m/{merchant.slug}/team/",
        f"/m/{merchant.slug}/till/",
        "/account/",
    ):
        site.visit(path)


def test_owner_pages_are_accessible_on_a_desktop(
    site: Site, merchant: Merchant, owner_email: str, programme: services.IssuedCard
) -> None:
    _walk(site, merchant, owner_email, programme.card.public_id)


def test_owner_pages_are_accessible_on_a_phone(
    phone: Page,
    make_site: Callable[[Page], Site],
    merchant: Merchant,
    owner_email: str,
    programme: services.IssuedCard,
) -> None:
    _walk(make_site(phone), merchant, owner_email, programme.card.public_id)

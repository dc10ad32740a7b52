"""An owner invited by the operator accepts in a real browser: the invitation page, a
refused weak password, then the dashboard. axe-core checks every page."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from merchants.models import Membership, Merchant, Role
from merchants.services import invitation_send, merchant_create
from tests.browser.conftest import Site
from tests.factories import PASSWORD, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_invited_owner_sets_a_password_and_lands_on_the_dashboard(site: Site) -> None:
    created = merchant_create(name="Hooli", slug="hooli", owner_email="gavin@hooli.example")
    path = re.sub(r"^https?://[^/]+", "", created.invitation.url)
    page = site.page

    site.visit(path)
    expect(page.get_by_role("heading", level=1)).to_have_text("Join Hooli")
    expect(page.get_by_text("gavin@hooli.example").first).to_be_visible()

    page.get_by_label("Choose a password").fill("short")
    page.get_by_label("Type it again").fill("short")
    site.submit(page.get_by_role("button", name="Set password and join"), status=400)
    expect(page.locator(".errorlist").first).to_contain_text("too short")
    assert not Membership.objects.exists()

    page.get_by_label("Choose a password").fill("Hooli-Owner-2026!")
    page.get_by_label("Type it again").fill("Hooli-Owner-2026!")
    site.submit(page.get_by_role("button", name="Set password and join"))
    assert site.path == "/m/hooli/"
    expect(page.get_by_text("Welcome to Hooli: you joined the team as owner.")).to_be_visible()
    assert Membership.objects.get().role == Role.OWNER

    # The link is spent: opening it again says so, clearly, with 410.
    site.visit(path, status=410)
    expect(page.get_by_role("heading", level=1)).to_have_text("This invitation cannot be used")


def test_a_signed_in_person_accepts_from_the_start_page(site: Site) -> None:
    UserFactory(email="pat@example.com")
    shop = Merchant.objects.create(name="Corner Deli", slug="corner-deli")
    invitation_send(merchant=shop, email="pat@example.com", role=Role.MANAGER)
    page = site.page

    site.visit("/accounts/login/")
    page.get_by_label("Email").fill("pat@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    site.submit(page.get_by_role("button", name="Sign in"))
    assert site.path == "/m/"
    expect(page.get_by_role("heading", name="Invitations")).to_be_visible()
    site.submit(page.get_by_role("button", name="Accept the invitation to Corner Deli"))
    assert site.path == "/m/corner-deli/"
    assert Membership.objects.get(user__email="pat@example.com").role == Role.MANAGER

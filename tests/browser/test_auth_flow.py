"""Sign-up, email confirmation, sign-in, sign-out and lockout, as a person does them in a
real browser (SE-1), with axe-core checking every page on the way (UX-2)."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from django.core import mail
from playwright.sync_api import Page, expect

from accounts.models import User
from tests.browser.conftest import Site
from tests.factories import PASSWORD, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

STRONG_PASSWORD = "Tangerine-Lantern-42!"
CONFIRM_LINK = re.compile(r"https?://\S+/accounts/confirm-email/\S+/")


def sign_in(site: Site, email: str, password: str, *, status: int = 200) -> None:
    page = site.page
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    site.submit(page.get_by_role("button", name="Sign in"), status=status)


def sign_out(site: Site) -> None:
    page = site.page
    nav = page.get_by_role("navigation", name="Main")
    site.submit(nav.get_by_role("button", name="Sign out"))
    expect(nav.get_by_role("link", name="Sign in")).to_be_visible()
    expect(nav.get_by_role("link", name="My account")).to_have_count(0)


def test_sign_up_confirm_sign_out_and_back_in_on_a_phone(
    phone: Page, make_site: Callable[[Page], Site], mailoutbox: list[mail.EmailMessage]
) -> None:
    site = make_site(phone)
    page = site.page
    email = "new.customer@example.com"

    site.visit("/")
    site.follow(page.get_by_role("main").get_by_role("link", name="Create an account"))
    assert site.path == "/accounts/signup/"
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign Up")

    page.get_by_label("Email").fill(email)
    page.get_by_label("Password:", exact=True).fill(STRONG_PASSWORD)
    page.get_by_label("Password (again):", exact=True).fill(STRONG_PASSWORD)
    site.submit(page.get_by_role("button", name="Sign up"))

    expect(page.get_by_role("heading", level=1)).to_have_text("Check your email")
    assert not User.objects.get(email=email).emailaddress_set.get().verified

    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    assert message.to == [email]
    link = CONFIRM_LINK.search(message.body)
    assert link, f"no confirmation link in:\n{message.body}"

    # Opening the link only shows a page: confirming takes a deliberate press.
    site.visit(link.group(0))
    expect(page.get_by_role("heading", level=1)).to_have_text("Confirm Email Address")
    expect(page.get_by_role("main")).to_contain_text(email)
    site.submit(page.get_by_role("button", name="Confirm"))

    assert site.path == "/account/"
    expect(page.get_by_role("heading", level=1)).to_have_text("My account")
    expect(page.get_by_role("main")).to_contain_text(email)
    assert User.objects.get(email=email).emailaddress_set.get().verified

    sign_out(site)
    assert site.path == "/"

    site.visit("/accounts/login/")
    sign_in(site, email, STRONG_PASSWORD)
    assert site.path == "/account/"
    expect(page.get_by_role("heading", level=1)).to_have_text("My account")
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="My account")).to_be_visible()
    sign_out(site)

    site.visit("/account/")  # signed out: sent to sign in, then back here afterwards
    assert site.path == "/accounts/login/?next=/account/"


def test_weak_password_is_refused_inline_and_creates_no_user(
    site: Site, mailoutbox: list[mail.EmailMessage]
) -> None:
    page = site.page
    site.visit("/accounts/signup/")

    page.get_by_label("Email").fill("weak@example.com")
    page.get_by_label("Password:", exact=True).fill("password1")
    page.get_by_label("Password (again):", exact=True).fill("password1")
    site.submit(page.get_by_role("button", name="Sign up"))

    assert site.path == "/accounts/signup/"
    password = page.get_by_label("Password:", exact=True)
    expect(password).to_have_attribute("aria-invalid", "true")
    # The errors are tied to the field, so a screen reader announces them with it.
    expect(password).to_have_accessible_description(re.compile("too common"))
    errors = page.locator(".field-invalid .errorlist")
    expect(errors).to_contain_text("This password is too common.")
    expect(errors).to_contain_text("an upper-case letter")
    expect(errors).to_contain_text("a symbol")
    expect(page.get_by_label("Email")).to_have_value("weak@example.com")
    assert not User.objects.filter(email="weak@example.com").exists()
    assert mailoutbox == []


def test_wrong_password_then_lockout_after_five_failures(site: Site) -> None:
    UserFactory(email="cas@example.com")
    page = site.page
    site.visit("/accounts/login/")

    sign_in(site, "cas@example.com", "Not-The-Password-1")
    assert site.path == "/accounts/login/"
    expect(page.get_by_role("main").get_by_role("listitem")).to_have_text(
        "The email address and/or password you specified are not correct."
    )
    expect(page.get_by_label("Email")).to_have_value("cas@example.com")
    expect(page.get_by_label("Password")).to_have_value("")

    for _ in range(3):
        sign_in(site, "cas@example.com", "Not-The-Password-1")
        expect(page.get_by_role("heading", level=1)).to_have_text("Sign In")

    # The fifth failure itself pauses sign-in...
    sign_in(site, "cas@example.com", "Not-The-Password-1", status=429)
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign-in paused for this account")

    # ...and the sixth attempt is refused even with the right password.
    site.visit("/accounts/login/")
    sign_in(site, "cas@example.com", PASSWORD, status=429)
    expect(page).to_have_title(re.compile("^Sign-in paused"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign-in paused for this account")
    expect(page.get_by_role("alert")).to_contain_text("paused sign-in for 30 minutes")
    expect(page.get_by_role("link", name="reset it now")).to_be_visible()

    site.visit("/account/")  # the right password did not sign them in
    assert site.path == "/accounts/login/?next=/account/"

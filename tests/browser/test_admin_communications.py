"""A platform admin controls messaging from the admin in a real browser (CM-1, CM-4): turns
SMS off and on and reads the change in the settings history, edits a message with the
live preview, sends a test of it, keeps it as a draft, publishes it, reads the history
and rolls it back. Every admin page on the way passes axe-core and shows no console or
CSP error."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from communications.models import Event, MessageStatus
from communications.selectors import communication_settings, template_for
from communications.services import Recipient, send
from tests.browser.conftest import Site
from tests.factories import PASSWORD, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _sign_in(site: Site) -> None:
    UserFactory(email="root@example.com", is_staff=True, is_superuser=True)
    page = site.page
    site.visit("/admin/login/")
    page.get_by_label("Email").fill("root@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    site.submit(page.get_by_role("button", name="Log in"))


def test_an_admin_switches_sms_off_edits_a_message_with_preview_and_rolls_back(
    site: Site,
) -> None:
    page = site.page
    _sign_in(site)

    # The channel switch: one settings page, no list.
    site.visit("/admin/communications/communicationsettings/")
    assert re.search(r"/communicationsettings/1/change/$", site.path)
    sms = page.get_by_label("Sms enabled")
    expect(sms).to_be_checked()
    sms.uncheck()
    page.get_by_label("Sms fallback").select_option("")
    site.submit(page.get_by_role("button", name="Save", exact=True))
    expect(page.get_by_text("was changed successfully")).to_be_visible()
    assert communication_settings().sms_enabled is False
    history = page.locator("#settings-history")
    expect(
        history.get_by_role("row", name=re.compile(r"root@example\.com Sms enabled on off"))
    ).to_be_visible()
    [log] = send(
        Event.OTP_CODE,
        Recipient(phone="+447700900123"),
        {"code": "1", "minutes": 1, "purpose": "x"},
    )
    assert log.status == MessageStatus.SUPPRESSED
    assert "sms is switched off" in log.reason

    site.visit("/admin/communications/communicationsettings/")
    page.get_by_label("Sms enabled").check()
    site.submit(page.get_by_role("button", name="Save", exact=True))
    assert communication_settings().sms_enabled is True

    # The editor: the preview follows the typing; a test goes out; a draft changes nothing.
    template = template_for(event=Event.PASSWORD_RESET, channel="email")
    assert template is not None
    site.visit("/admin/communications/communicationtemplate/")
    site.follow(page.get_by_role("link", name="Account: password reset").first)
    expect(
        page.get_by_role("heading", name="Edit message: Account: password reset (Email)")
    ).to_be_visible()
    preview = page.locator("#template-preview")
    expect(preview).to_contain_text("Reset your Giftwell password")
    html_frame = page.frame_locator("iframe.rendered-html")
    expect(html_frame.get_by_role("link", name="Choose a new password")).to_be_visible()

    subject = page.get_by_label("Subject")
    subject.fill("{{ user_email }}, here is your reset link")
    expect(preview).to_contain_text("ana@example.com, here is your reset link")
    subject.fill("{{ favourite_colour }}")
    expect(preview).to_contain_text("unknown variable(s) favourite_colour")
    subject.fill("{{ user_email }}, here is your reset link")
    expect(preview).to_contain_text("ana@example.com, here is your reset link")
    page.get_by_label("What changed").fill("Personal subject")
    page.get_by_label("Send a test to").fill("qa@example.com")
    site.submit(page.get_by_role("button", name="Send a test message"))
    expect(page.get_by_text("Test message of this text to q***@example.com")).to_be_visible()
    expect(page.get_by_label("Subject")).to_have_value("{{ user_email }}, here is your reset link")
    site.submit(page.get_by_role("button", name="Save as draft"))
    expect(page.get_by_text("Saved as draft version 2")).to_be_visible()
    expect(page.get_by_text("Editing from version 2 (a draft, not published)")).to_be_visible()
    expect(page.get_by_role("row", name=re.compile(r"v2 \(draft\)"))).to_be_visible()
    reset = {"user_email": "bo@example.com", "password_reset_url": "https://x.example/r/"}
    [sent] = send(Event.PASSWORD_RESET, Recipient(email="bo@example.com"), reset)
    assert sent.template_version == 1

    # Publishing the draft: version 2 is what goes out, and the history says who did it.
    site.submit(page.get_by_role("button", name="Publish v2"))
    expect(page.get_by_text("Version 2 is the active text")).to_be_visible()
    expect(page.get_by_role("row", name=re.compile(r"v2 \(active\)"))).to_be_visible()
    expect(
        page.locator("#history").get_by_role(
            "row", name=re.compile(r"root@example\.com Published: v2 became the active text")
        )
    ).to_be_visible()
    [sent] = send(Event.PASSWORD_RESET, Recipient(email="bo@example.com"), reset)
    assert sent.template_version == 2

    # Rollback: version 1 is the active text again.
    site.submit(page.get_by_role("button", name="Roll back to v1"))
    expect(page.get_by_text("Version 1 is the active text")).to_be_visible()
    expect(page.get_by_role("row", name=re.compile(r"v1 \(active\)"))).to_be_visible()
    expect(
        page.locator("#history").get_by_role(
            "row", name=re.compile(r"root@example\.com Rolled back: v1 became the active text")
        )
    ).to_be_visible()
    expect(preview).to_contain_text("Reset your Giftwell password")
    template.refresh_from_db()
    assert template.active_version is not None
    assert template.active_version.number == 1

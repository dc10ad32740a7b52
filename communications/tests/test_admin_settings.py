"""The one communication settings page (CM-1): the hourly limits, what each means, and
refusals that say what is wrong and change nothing."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.forms.models import model_to_dict
from django.test import Client
from django.urls import reverse
from pytest_django.asserts import assertContains

from accounts.models import User
from communications.models import CommunicationSettings, CommunicationSettingsChange
from communications.selectors import communication_settings
from communications.services import settings_update

pytestmark = pytest.mark.django_db

PAGE = reverse("admin:communications_communicationsettings_change", args=[1])


@pytest.fixture
def admin_client_(admin_user: User) -> Client:
    client = Client()
    client.force_login(admin_user)
    return client


def form_data(**changes: Any) -> dict[str, Any]:
    conf = CommunicationSettings.objects.get_or_create(pk=1)[0]
    data = {
        name: value
        for name, value in model_to_dict(conf).items()
        if name not in ("id", "updated_by") and value is not None
    }
    data = {name: value for name, value in data.items() if value is not False}
    return {**data, **changes}


def test_the_page_says_what_each_limit_means(admin_client_: Client) -> None:
    response = admin_client_.get(PAGE)
    assert response.status_code == 200
    for text in (
        "Hourly sending limits",
        "Email: per merchant, per hour",
        "Email: platform&#x27;s own, per hour",
        "SMS: whole platform, per hour",
        "One-time codes per API key, per hour",
        "never per IP address",
        "a message over it is refused (rate limited)",
        "it waits in the message log as queued",
    ):
        assertContains(response, text)


def test_a_change_is_saved_and_used_by_the_next_message(admin_client_: Client) -> None:
    communication_settings()  # cached before the change
    response = admin_client_.post(PAGE, form_data(sms_merchant_hourly_limit=250))
    assert response.status_code == 302
    assert communication_settings().sms_merchant_hourly_limit == 250


def test_a_limit_of_zero_is_refused_with_a_clear_message_and_nothing_changes(
    admin_client_: Client,
) -> None:
    before = model_to_dict(CommunicationSettings.objects.get_or_create(pk=1)[0])
    response = admin_client_.post(PAGE, form_data(email_merchant_hourly_limit=0, otp_length=3))
    assert response.status_code == 200
    assertContains(response, "Must be at least 1: with 0 nothing would ever be sent.")
    assertContains(response, "A one-time code has 4 to 10 digits.")
    assert "communication_settings_otp_length" not in response.content.decode()
    assert model_to_dict(CommunicationSettings.objects.get(pk=1)) == before


def test_each_change_is_recorded_old_to_new_with_who_and_shown_on_the_page(
    admin_client_: Client, admin_user: User
) -> None:
    response = admin_client_.post(
        PAGE, form_data(sms_merchant_hourly_limit=250, sms_fallback="", push_enabled=True)
    )
    assert response.status_code == 302

    [change] = CommunicationSettingsChange.objects.all()
    assert change.actor == admin_user
    assert change.changes == {
        "push_enabled": [False, True],
        "sms_fallback": ["email", ""],
        "sms_merchant_hourly_limit": [600, 250],
    }
    html = admin_client_.get(PAGE).content.decode()
    history = html[html.index('id="settings-history"') :]
    rows = [
        " ".join(re.sub(r"<[^>]+>", " ", row).split())
        for row in re.findall(r"<tr>(.*?)</tr>", history, re.DOTALL)[1:]
    ]
    assert [row.split(admin_user.email, 1)[1].strip() for row in rows] == [
        "Push enabled off on",
        "Sms fallback Email none",
        "SMS: per merchant, per hour 600 250",
    ]


def test_a_refused_change_records_nothing(admin_client_: Client) -> None:
    response = admin_client_.post(PAGE, form_data(email_merchant_hourly_limit=0))

    assert response.status_code == 200
    assert not CommunicationSettingsChange.objects.exists()


def test_the_service_records_only_what_changed() -> None:
    settings_update(actor=None, otp_length=8, otp_max_attempts=5)  # 5 is the value already
    settings_update(actor=None, otp_length=8)  # nothing changes

    [change] = CommunicationSettingsChange.objects.all()
    assert change.changes == {"otp_length": [6, 8]}
    assert change.actor is None

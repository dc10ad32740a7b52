"""The one communication settings page (CM-1): the hourly limits, what each means, and
refusals that say what is wrong and change nothing."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.forms.models import model_to_dict
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains

from accounts.models import User
from communications.models import (
    CommunicationLog,
    CommunicationSettings,
    CommunicationSettingsChange,
    Event,
    MessageStatus,
)
from communications.selectors import communication_settings
from communications.services import Recipient, deliver, send, settings_update

pytestmark = pytest.mark.django_db

PAGE = reverse("admin:communications_communicationsettings_change", args=[1])
TEST = {"channel": "email", "sent_at": "now"}
CODE = {"code": "493021", "minutes": 10, "purpose": "sign-in"}
ONE_MORE = (Event.TEST_MESSAGE, Recipient(email="later@example.com"), TEST)


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


def test_code_settings_that_cannot_work_are_refused_beside_the_field(
    admin_client_: Client,
) -> None:
    before = model_to_dict(CommunicationSettings.objects.get_or_create(pk=1)[0])
    response = admin_client_.post(
        PAGE, form_data(otp_expiry_minutes=0, otp_max_attempts=0, otp_length=11)
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert errors == {
        "otp_expiry_minutes": [
            "Must be at least 1 minute: a code that expires at once cannot be used."
        ],
        "otp_max_attempts": ["Must be at least 1: with 0 no code could ever be checked."],
        "otp_length": ["A one-time code has 4 to 10 digits."],
    }
    assert "communication_settings_" not in response.content.decode()
    assert model_to_dict(CommunicationSettings.objects.get(pk=1)) == before


def test_a_channel_cannot_fall_back_to_itself(admin_client_: Client) -> None:
    before = model_to_dict(CommunicationSettings.objects.get_or_create(pk=1)[0])
    response = admin_client_.post(PAGE, form_data(sms_fallback="sms", email_fallback="email"))
    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "sms_fallback": [
            "SMS cannot fall back to itself: choose another channel, or none to suppress."
        ],
        "email_fallback": [
            "Email cannot fall back to itself: choose another channel, or none to suppress."
        ],
    }
    assert "communication_settings_" not in response.content.decode()
    assert model_to_dict(CommunicationSettings.objects.get(pk=1)) == before


def test_the_page_says_how_many_queued_messages_each_switch_would_stop(
    admin_client_: Client, settings: Any
) -> None:
    settings.COMMUNICATIONS_DISPATCH_ON_COMMIT = True  # they stay queued in this test
    for n in range(2):
        send(Event.TEST_MESSAGE, Recipient(email=f"a{n}@example.com"), TEST, channels=["email"])
    send(Event.OTP_CODE, Recipient(phone="+447700900123"), CODE)
    CommunicationLog.objects.filter(pk=send(*ONE_MORE, channels=["email"])[0].pk).update(
        deferred_until=timezone.now() + timedelta(minutes=30)
    )

    response = admin_client_.get(PAGE)

    assertContains(response, "Queued now")
    assertContains(
        response,
        "Email: 2 emails queued; with email off, none of them is sent (each is suppressed "
        "when its turn comes); 1 email held by an hourly limit; with email off, they wait "
        "until it is on again",
    )
    assertContains(response, "SMS: 1 text message queued; with SMS off, none of them is sent")
    assertContains(response, "Push: no push notification is queued")
    assertContains(response, "One-time codes: 1 one-time code queued; with codes off")


def test_switching_a_channel_off_says_what_it_stops_and_changes_nothing_else(
    admin_client_: Client, settings: Any
) -> None:
    settings.COMMUNICATIONS_DISPATCH_ON_COMMIT = True
    [log] = send(Event.TEST_MESSAGE, Recipient(email="a@example.com"), TEST, channels=["email"])
    data = form_data()
    data.pop("email_enabled")  # an unticked box is not posted

    response = admin_client_.post(PAGE, data, follow=True)

    assertContains(response, "Email is off: 1 email queued; with email off, none of them is sent")
    conf = communication_settings()
    assert (conf.email_enabled, conf.sms_enabled) == (False, True)
    log.refresh_from_db()
    assert log.status == MessageStatus.QUEUED  # suppressed when its turn comes
    assert deliver(log.pk, final_attempt=False) == "suppressed"


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

"""Account emails route through ``send`` (CM-2, CM-3): allauth's password reset and email
confirmation obey the email switch, are logged, and tell the person when nothing was sent
without revealing whether an account exists."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import time_machine
from django.contrib.messages import get_messages
from django.core import mail
from django.test import Client

from accounts.models import User
from communications.backends.push import InMemoryPushBackend
from communications.backends.sms import InMemorySMSBackend
from communications.models import CommunicationLog, Event, MessageStatus
from communications.services import (
    Recipient,
    release_deferred_messages,
    send,
    settings_update,
)

pytestmark = pytest.mark.django_db

RESET = "/accounts/password/reset/"
START = datetime(2031, 3, 4, 13, 20, tzinfo=UTC)
NEXT_HOUR = datetime(2031, 3, 4, 14, 0, tzinfo=UTC)
NOT_SENT = (
    "We could not send you an email right now: email is switched off. "
    "Please try again later or contact support."
)


def reset(client: Client, email: str):
    return client.post(RESET, {"email": email}, follow=True)


def warnings_on(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def nothing_went_out() -> bool:
    return (
        mail.outbox == [] and InMemorySMSBackend.outbox == [] and InMemoryPushBackend.outbox == []
    )


def test_a_reset_with_email_switched_off_sends_nothing_and_says_so(
    client: Client, user: User
) -> None:
    settings_update(actor=None, email_enabled=False, email_fallback="")
    response = reset(client, user.email)

    assert response.status_code == 200
    assert response.redirect_chain[-1][0] == "/accounts/password/reset/done/"
    assert nothing_went_out()
    log = CommunicationLog.objects.get()
    assert (log.event, log.channel, log.status) == (
        Event.PASSWORD_RESET,
        "email",
        MessageStatus.SUPPRESSED,
    )
    assert log.reason == "email is switched off and no fallback is set"
    assert log.user == user
    assert warnings_on(response) == [NOT_SENT]
    assert NOT_SENT in response.content.decode()


def test_an_unknown_address_sees_exactly_what_an_account_sees(client: Client, user: User) -> None:
    settings_update(actor=None, email_enabled=False, email_fallback="")
    known = reset(Client(), user.email)
    unknown = reset(Client(), "nobody-here@example.com")

    assert warnings_on(unknown) == warnings_on(known) == [NOT_SENT]
    assert unknown.redirect_chain == known.redirect_chain
    assert nothing_went_out()
    assert CommunicationLog.objects.count() == 1  # only the account's, suppressed


def test_with_email_on_an_unknown_address_gets_no_warning_and_no_email(client: Client) -> None:
    response = reset(client, "nobody-here@example.com")
    assert response.redirect_chain[-1][0] == "/accounts/password/reset/done/"
    assert warnings_on(response) == []
    assert nothing_went_out()
    assert not CommunicationLog.objects.exists()


def test_a_reset_rate_limit_is_not_shown_so_accounts_stay_hidden(
    client: Client, user: User
) -> None:
    settings_update(actor=None, per_recipient_hourly_limit=1)
    reset(client, user.email)
    response = reset(client, user.email)
    assert list(CommunicationLog.objects.values_list("status", flat=True).order_by("pk")) == [
        MessageStatus.SENT,
        MessageStatus.RATE_LIMITED,
    ]
    assert len(mail.outbox) == 1
    # An unknown address is never limited, so a warning here would tell the two apart.
    assert warnings_on(response) == []


def fill_the_platforms_email_hour() -> None:
    """Use up the hour of email that belongs to no merchant (account emails)."""
    settings_update(actor=None, email_platform_hourly_limit=1)
    send(
        Event.TEST_MESSAGE,
        Recipient(email="ops@example.com"),
        {"channel": "email", "sent_at": "now"},
    )


def delayed_notice(until: str = "14:00") -> str:
    return (
        "Your email is on its way but may take a while: we are sending a lot of email "
        f"right now, and it goes out after {until} UTC."
    )


def test_a_signup_held_back_by_the_platforms_email_volume_says_it_may_take_a_while(
    client: Client,
) -> None:
    with time_machine.travel(START, tick=False):
        fill_the_platforms_email_hour()
        response = _sign_up(client)
    log = CommunicationLog.objects.get(event=Event.ACCOUNT_EMAIL_VERIFICATION)
    assert (log.status, log.deferred_until) == (MessageStatus.QUEUED, NEXT_HOUR)
    assert log.reason.startswith("deferred: the platform's own messages")
    assert warnings_on(response) == [
        delayed_notice(),
        "Confirmation email sent to new@example.com.",
    ]
    assert len(mail.outbox) == 1  # only the message that filled the hour
    with time_machine.travel(NEXT_HOUR, tick=False):
        release_deferred_messages()
    assert "/accounts/confirm-email/" in mail.outbox[-1].body


def test_a_reset_held_back_says_the_same_for_known_and_unknown_addresses(user: User) -> None:
    with time_machine.travel(START, tick=False):
        fill_the_platforms_email_hour()
        known = reset(Client(), user.email)
        unknown = reset(Client(), "nobody-here@example.com")

    assert warnings_on(known) == warnings_on(unknown) == [delayed_notice()]
    assert known.redirect_chain == unknown.redirect_chain
    log = CommunicationLog.objects.get(event=Event.PASSWORD_RESET)
    assert (log.status, log.deferred_until) == (MessageStatus.QUEUED, NEXT_HOUR)
    assert len(mail.outbox) == 1


def test_a_reset_over_the_limit_per_address_while_the_hour_is_full_looks_the_same(
    user: User,
) -> None:
    settings_update(actor=None, per_recipient_hourly_limit=1)
    with time_machine.travel(START, tick=False):
        reset(Client(), user.email)
        fill_the_platforms_email_hour()
        known = reset(Client(), user.email)  # refused: the address had its one
        unknown = reset(Client(), "nobody-here@example.com")
    assert warnings_on(known) == warnings_on(unknown) == [delayed_notice()]
    assert CommunicationLog.objects.filter(status=MessageStatus.RATE_LIMITED).count() == 1


def test_switching_email_back_on_works_on_the_next_request(client: Client, user: User) -> None:
    settings_update(actor=None, email_enabled=False, email_fallback="")
    assert NOT_SENT in reset(client, user.email).content.decode()
    assert mail.outbox == []

    settings_update(actor=None, email_enabled=True)
    response = reset(client, user.email)
    assert warnings_on(response) == []
    [email] = mail.outbox
    assert email.to == [user.email]
    assert "/accounts/password/reset/key/" in email.body
    assert list(CommunicationLog.objects.values_list("status", flat=True).order_by("pk")) == [
        MessageStatus.SUPPRESSED,
        MessageStatus.SENT,
    ]


def _sign_up(client: Client) -> Any:
    password = "Tulip-Garden-42!"
    return client.post(
        "/accounts/signup/",
        {"email": "new@example.com", "password1": password, "password2": password},
        follow=True,
    )


def test_the_signup_confirmation_goes_through_send(client: Client) -> None:
    response = _sign_up(client)
    assert response.status_code == 200
    log = CommunicationLog.objects.get()
    assert (log.event, log.status) == (Event.ACCOUNT_EMAIL_VERIFICATION, MessageStatus.SENT)
    assert log.user == User.objects.get(email="new@example.com")
    assert log.recipient_masked == "n***@example.com"
    [email] = mail.outbox
    assert "/accounts/confirm-email/" in email.body
    assert warnings_on(response) == ["Confirmation email sent to new@example.com."]


def test_a_signup_with_email_switched_off_says_no_confirmation_was_sent(client: Client) -> None:
    settings_update(actor=None, email_enabled=False, email_fallback="")
    response = _sign_up(client)
    assert response.status_code == 200
    log = CommunicationLog.objects.get()
    assert (log.event, log.status) == (Event.ACCOUNT_EMAIL_VERIFICATION, MessageStatus.SUPPRESSED)
    assert warnings_on(response) == [NOT_SENT]  # and no "Confirmation email sent"
    assert NOT_SENT in response.content.decode()
    assert nothing_went_out()


def test_resending_the_confirmation_goes_through_send(client: Client) -> None:
    from allauth.account.models import EmailAddress

    from tests.factories import UserFactory

    person = UserFactory(verified=False)
    EmailAddress.objects.create(user=person, email=person.email, verified=False, primary=True)
    client.force_login(person)
    response = client.post(
        "/accounts/email/", {"action_send": "", "email": person.email}, follow=True
    )
    assert response.status_code == 200
    log = CommunicationLog.objects.get()
    assert (log.event, log.status, log.user) == (
        Event.ACCOUNT_EMAIL_VERIFICATION,
        MessageStatus.SENT,
        person,
    )
    assert "/accounts/confirm-email/" in mail.outbox[0].body

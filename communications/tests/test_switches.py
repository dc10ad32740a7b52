"""The channel switches (CM-1, CM-3) hold at the moment of sending, however they were
changed: the switch in force is the one in the database, and a message queued before a
switch went off is suppressed when its turn comes, not sent."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import mail
from django.db import connection

from communications.backends import TransientError
from communications.backends.email import DjangoEmailBackend
from communications.models import CommunicationLog, Event, MessageStatus
from communications.services import Recipient, deliver, send, settings_update

pytestmark = pytest.mark.django_db

ANA = Recipient(email="ana@example.com", phone="+447700900123")
CODE = {"code": "493021", "minutes": 10, "purpose": "sign-in"}
TEST = {"channel": "email", "sent_at": "now"}


def switch_by_sql(**values: Any) -> None:
    """Change the settings row as the shell, a fixture or a data migration would: with no
    service, no admin and no signal."""
    assignments = ", ".join(f"{name} = %s" for name in values)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE communications_communicationsettings SET {assignments} WHERE id = 1",  # noqa: S608
            list(values.values()),
        )


def queued(event: str = Event.TEST_MESSAGE, **kwargs: Any) -> CommunicationLog:
    [log] = send(event, ANA, kwargs.pop("context", TEST), **kwargs)
    log.refresh_from_db()
    assert log.status == MessageStatus.QUEUED
    return log


def row(log: CommunicationLog) -> tuple[Any, ...]:
    log.refresh_from_db()
    return (log.status, log.reason, log.attempts, bool(log.payload), log.claimed_at)


@pytest.fixture
def held_in_queue(settings: Any) -> None:
    """Messages stay queued: their task runs only when a test calls ``deliver``."""
    settings.COMMUNICATIONS_DISPATCH_ON_COMMIT = True


def test_a_switch_changed_outside_the_admin_applies_to_the_very_next_message() -> None:
    [first] = send(Event.TEST_MESSAGE, ANA, TEST, channels=["email"])
    first.refresh_from_db()
    assert first.status == MessageStatus.SENT

    switch_by_sql(email_enabled=False, email_fallback="")
    [second] = send(Event.TEST_MESSAGE, ANA, TEST, channels=["email"])

    assert second.status == MessageStatus.SUPPRESSED
    assert second.reason == "email is switched off and no fallback is set"
    assert len(mail.outbox) == 1

    switch_by_sql(email_enabled=True)
    [third] = send(Event.TEST_MESSAGE, ANA, TEST, channels=["email"])
    third.refresh_from_db()
    assert third.status == MessageStatus.SENT


def test_a_queued_message_whose_channel_is_switched_off_before_delivery_is_suppressed(
    held_in_queue: None,
) -> None:
    log = queued(channels=["email"])
    switch_by_sql(email_enabled=False, email_fallback="")

    assert deliver(log.pk, final_attempt=False) == "suppressed"

    assert row(log) == (
        MessageStatus.SUPPRESSED,
        "email was switched off after it was queued",
        0,  # nothing was handed to the provider
        False,  # the rendered message is gone
        None,
    )
    assert mail.outbox == []
    # Switched on again, the suppressed message stays suppressed: it is never sent late.
    switch_by_sql(email_enabled=True)
    assert deliver(log.pk, final_attempt=False) == "skipped"
    assert mail.outbox == []


def test_a_message_waiting_for_a_retry_is_suppressed_once_its_channel_is_off(
    held_in_queue: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int | None] = []

    def busy(self: Any, message: Any) -> Any:
        calls.append(message.log_id)
        raise TransientError("421 try later")

    monkeypatch.setattr(DjangoEmailBackend, "send", busy)
    log = queued(channels=["email"])
    assert deliver(log.pk, final_attempt=False, retry_in=3600) == "retry"
    log.refresh_from_db()
    assert log.next_attempt_at is not None
    assert (log.next_attempt_at - log.dispatched_at).total_seconds() == 3600

    settings_update(actor=None, email_enabled=False, email_fallback="")
    assert deliver(log.pk, final_attempt=False) == "suppressed"

    assert calls == [log.pk]  # the backend was not called again
    assert row(log)[:3] == (
        MessageStatus.SUPPRESSED,
        "email was switched off after it was queued",
        1,
    )


def test_the_fallback_takes_a_message_queued_before_its_channel_was_switched_off(
    held_in_queue: None, sms_outbox: list[Any], settings: Any
) -> None:
    log = queued(Event.OTP_CODE, context=CODE)
    assert log.channel == "sms"
    settings_update(actor=None, sms_enabled=False, sms_fallback="email")
    settings.COMMUNICATIONS_DISPATCH_ON_COMMIT = False
    settings.CELERY_TASK_ALWAYS_EAGER = True

    assert deliver(log.pk, final_attempt=False) == "suppressed"

    log.refresh_from_db()
    assert log.status == MessageStatus.SUPPRESSED
    [by_email] = CommunicationLog.objects.exclude(pk=log.pk)
    assert by_email.channel == "email"
    assert log.reason == (
        "sms was switched off after it was queued; handed to its fallback, email "
        f"(message {by_email.pk}: queued)"
    )
    assert sms_outbox == []
    [email] = mail.outbox
    assert email.to == ["ana@example.com"]
    assert "493021" in email.body
    by_email.refresh_from_db()
    assert by_email.status == MessageStatus.SENT


def test_the_fallback_does_not_send_a_message_twice_on_one_channel(
    held_in_queue: None, sms_outbox: list[Any]
) -> None:
    by_sms, _by_email = send(Event.TEST_MESSAGE, ANA, TEST, channels=["sms", "email"])
    settings_update(actor=None, sms_enabled=False, sms_fallback="email")

    assert deliver(by_sms.pk, final_attempt=False) == "suppressed"

    by_sms.refresh_from_db()
    assert by_sms.reason == (
        "sms was switched off after it was queued; its fallback, email, already carries "
        "this message"
    )
    assert CommunicationLog.objects.count() == 2
    assert sms_outbox == []


def test_a_queued_one_time_code_is_suppressed_once_codes_are_switched_off(
    held_in_queue: None, sms_outbox: list[Any]
) -> None:
    log = queued(Event.OTP_CODE, context=CODE)
    switch_by_sql(otp_enabled=False)

    assert deliver(log.pk, final_attempt=False) == "suppressed"

    assert row(log)[:2] == (
        MessageStatus.SUPPRESSED,
        "one-time codes were switched off after it was queued",
    )
    assert sms_outbox == []


def test_a_message_another_worker_holds_is_left_to_it_even_when_switched_off(
    held_in_queue: None,
) -> None:
    log = queued(channels=["email"])
    CommunicationLog.objects.filter(pk=log.pk).update(claimed_at=log.created_at, attempts=1)
    switch_by_sql(email_enabled=False)
    before = row(log)

    assert deliver(log.pk, final_attempt=False) == "skipped"

    assert row(log) == before
    assert mail.outbox == []


def test_a_queued_message_whose_channel_stays_on_is_sent(held_in_queue: None) -> None:
    log = queued(channels=["email"])
    switch_by_sql(sms_enabled=False)  # another channel

    assert deliver(log.pk, final_attempt=False) == "sent"
    assert row(log)[0] == MessageStatus.SENT
    assert len(mail.outbox) == 1

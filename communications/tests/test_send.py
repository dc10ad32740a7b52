"""The send path (CM-2, CM-3, CM-5): switches, fallbacks, limits, templates, the log."""

from __future__ import annotations

import pytest
from django.core import mail

from communications import crypto
from communications.backends import PermanentError, TransientError
from communications.models import CommunicationLog, Event, MessageStatus
from communications.selectors import communication_settings
from communications.services import Recipient, record_delivery_status, send, settings_update

pytestmark = pytest.mark.django_db

ANA = Recipient(email="ana@example.com", phone="+447700900123")
CODE_CONTEXT = {"code": "493021", "minutes": 10, "purpose": "sign-in"}


def test_an_email_is_rendered_sent_and_logged() -> None:
    [log] = send(
        Event.PASSWORD_RESET,
        ANA,
        {"user_email": "ana@example.com", "password_reset_url": "https://x.example/r/abc/"},
    )
    log.refresh_from_db()
    assert log.status == MessageStatus.SENT
    assert (log.channel, log.event, log.template_version) == ("email", "password_reset", 1)
    assert log.recipient_masked == "a***@example.com"
    assert log.payload == ""  # the rendered text, with its link, is gone once sent
    assert log.provider_message_id
    [email] = mail.outbox
    assert email.to == ["ana@example.com"]
    assert "https://x.example/r/abc/" in email.body
    assert email.alternatives[0][1] == "text/html"


def test_a_switched_off_channel_suppresses_and_says_why(sms_outbox) -> None:
    settings_update(actor=None, sms_enabled=False, sms_fallback="")
    [log] = send(Event.OTP_CODE, ANA, CODE_CONTEXT)
    assert log.status == MessageStatus.SUPPRESSED
    assert log.reason == "sms is switched off and no fallback is set"
    assert sms_outbox == []
    assert mail.outbox == []


def test_a_switched_off_channel_uses_its_fallback(sms_outbox) -> None:
    settings_update(actor=None, sms_enabled=False, sms_fallback="email")
    [log] = send(Event.OTP_CODE, ANA, CODE_CONTEXT)
    log.refresh_from_db()
    assert (log.requested_channel, log.channel, log.status) == ("sms", "email", "sent")
    assert "sent by email instead" in log.reason
    assert sms_outbox == []
    assert "493021" in mail.outbox[0].body


def test_switching_back_on_works_without_a_restart(sms_outbox) -> None:
    settings_update(actor=None, sms_enabled=False, sms_fallback="")
    assert send(Event.OTP_CODE, ANA, CODE_CONTEXT)[0].status == "suppressed"
    settings_update(actor=None, sms_enabled=True)
    assert communication_settings().sms_enabled is True
    log = send(Event.OTP_CODE, ANA, CODE_CONTEXT)[0]
    log.refresh_from_db()
    assert log.status == "sent"
    assert "493021" in sms_outbox[0].text


def test_the_limit_per_recipient_ends_in_rate_limited() -> None:
    settings_update(actor=None, per_recipient_hourly_limit=2)
    statuses = [
        send(Event.TEST_MESSAGE, ANA, {"channel": "email", "sent_at": "now"})[0].status
        for _ in range(3)
    ]
    assert statuses == ["queued", "queued", "rate_limited"]
    refused = CommunicationLog.objects.get(status="rate_limited")
    assert refused.reason.startswith("limit of 2 emails an hour to one recipient reached;")
    assert (refused.payload, refused.deferred_until) == ("", None)
    assert len(mail.outbox) == 2


def test_the_channel_wide_limit_defers_rather_than_drops(sms_outbox) -> None:
    settings_update(actor=None, sms_hourly_ceiling=1)
    first = send(Event.OTP_CODE, ANA, CODE_CONTEXT)[0]
    second = send(Event.OTP_CODE, Recipient(phone="+447700900999"), CODE_CONTEXT)[0]
    assert first.status == second.status == "queued"
    assert first.deferred_until is None
    assert second.deferred_until is not None
    assert second.reason.startswith(
        "deferred: the whole platform reached its ceiling of 1 text message an hour; sends after "
    )
    assert second.payload  # sealed, waiting
    assert len(sms_outbox) == 1


def test_no_address_for_the_channel_is_logged_not_sent() -> None:
    [log] = send(Event.OTP_CODE, Recipient(email="ana@example.com"), CODE_CONTEXT)
    assert log.status == "suppressed"
    assert log.reason == "no sms address for this recipient"


def test_a_transient_error_is_retried_then_failed(monkeypatch) -> None:
    calls = []

    def flaky(self, message):
        calls.append(message.log_id)
        raise TransientError("timed out")

    monkeypatch.setattr("communications.backends.email.DjangoEmailBackend.send", flaky)
    monkeypatch.setattr("communications.tasks.backoff", lambda retries: 0)
    [log] = send(Event.TEST_MESSAGE, ANA, {"channel": "email", "sent_at": "now"})
    log.refresh_from_db()
    assert log.status == "failed"
    assert log.attempts == 6  # the first try and five retries
    assert "timed out" in log.error
    assert log.payload == ""
    assert len(calls) == 6


def test_a_transient_error_then_success_sends_once(monkeypatch) -> None:
    outcomes = [TransientError("busy"), None]
    original = __import__("communications.backends.email", fromlist=["x"]).DjangoEmailBackend.send

    def once_flaky(self, message):
        outcome = outcomes.pop(0)
        if outcome:
            raise outcome
        return original(self, message)

    monkeypatch.setattr("communications.backends.email.DjangoEmailBackend.send", once_flaky)
    monkeypatch.setattr("communications.tasks.backoff", lambda retries: 0)
    [log] = send(Event.TEST_MESSAGE, ANA, {"channel": "email", "sent_at": "now"})
    log.refresh_from_db()
    assert (log.status, log.attempts) == ("sent", 2)
    assert len(mail.outbox) == 1


def test_a_permanent_error_fails_at_once(monkeypatch) -> None:
    def refuse(self, message):
        raise PermanentError("mailbox does not exist")

    monkeypatch.setattr("communications.backends.email.DjangoEmailBackend.send", refuse)
    [log] = send(Event.TEST_MESSAGE, ANA, {"channel": "email", "sent_at": "now"})
    log.refresh_from_db()
    assert (log.status, log.attempts) == ("failed", 1)


def test_a_message_is_never_sent_twice_by_a_second_delivery() -> None:
    from communications.services import deliver

    [log] = send(Event.TEST_MESSAGE, ANA, {"channel": "email", "sent_at": "now"})
    assert deliver(log.pk, final_attempt=False) == "skipped"
    assert len(mail.outbox) == 1


def test_queued_payloads_are_encrypted(settings) -> None:
    settings.COMMUNICATIONS_DISPATCH_ON_COMMIT = True  # stays queued inside this test
    [log] = send(Event.OTP_CODE, ANA, CODE_CONTEXT)
    log.refresh_from_db()
    assert log.status == "queued"
    assert "493021" not in log.payload
    assert crypto.unseal(log.payload)["text"].startswith("493021 is your")


def test_provider_callbacks_move_the_log_on() -> None:
    [log] = send(Event.TEST_MESSAGE, ANA, {"channel": "email", "sent_at": "now"})
    log.refresh_from_db()
    assert (
        record_delivery_status(
            provider_message_id=log.provider_message_id, delivered=True, cost=3, cost_currency="USD"
        )
        == 1
    )
    log.refresh_from_db()
    assert (log.status, log.cost, log.cost_currency) == ("delivered", 3, "USD")
    assert log.delivered_at is not None


def test_django_mail_from_anywhere_goes_through_the_gateway(settings) -> None:
    from django.core.mail import send_mail  # a library sending the Django way

    settings.EMAIL_BACKEND = "communications.mail.GatewayEmailBackend"
    settings_update(actor=None, email_enabled=False, email_fallback="")
    assert send_mail("Hi", "Body", None, ["ops@example.com"]) == 0
    log = CommunicationLog.objects.get()
    assert (log.event, log.status) == ("system_email", "suppressed")
    settings_update(actor=None, email_enabled=True)
    assert send_mail("Hi", "Body", None, ["ops@example.com"]) == 1
    assert mail.outbox[-1].subject == "Hi"


def test_a_missing_shipped_template_is_installed_on_first_use() -> None:
    from communications.models import CommunicationTemplate

    CommunicationTemplate.objects.filter(event="test_message").update(active_version=None)
    CommunicationTemplate.objects.filter(event="test_message").delete()
    [log] = send(Event.TEST_MESSAGE, ANA, {"channel": "email", "sent_at": "now"})
    log.refresh_from_db()
    assert log.status == "sent"
    assert CommunicationTemplate.objects.filter(event="test_message").count() == 3


def test_fallbacks_are_followed_in_order_past_switched_off_channels() -> None:
    # push -> sms (off) -> email: the message goes by email, and the log says the way.
    settings_update(
        actor=None, push_enabled=False, push_fallback="sms", sms_enabled=False, sms_fallback="email"
    )
    [log] = send(Event.TEST_MESSAGE, ANA, {"channel": "push", "sent_at": "now"}, channels=["push"])
    assert (log.requested_channel, log.channel) == ("push", "email")
    assert log.reason == "push is switched off; sent by email instead (sms is off too)"
    assert mail.outbox[-1].to == ["ana@example.com"]


def test_a_fallback_loop_of_switched_off_channels_is_suppressed(sms_outbox) -> None:
    settings_update(
        actor=None,
        sms_enabled=False,
        sms_fallback="email",
        email_enabled=False,
        email_fallback="sms",
    )
    [log] = send(Event.OTP_CODE, ANA, CODE_CONTEXT)
    assert log.status == MessageStatus.SUPPRESSED
    assert log.reason == "sms is switched off and its fallback, email, is off too"
    assert sms_outbox == []
    assert mail.outbox == []

"""The send path's hourly limits (CM-2): a merchant's volume limit holds up only that
merchant, the platform's ceiling holds up everyone, and neither drops a message: it waits,
queued with the reason, until the release task sends it in an hour with room. Only the
limit per recipient (abuse) refuses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.forms.models import model_to_dict

from communications.backends import TransientError
from communications.models import CommunicationLog, CommunicationSettings, Event, MessageStatus
from communications.selectors import communication_settings
from communications.services import (
    Recipient,
    deliver,
    release_deferred_messages,
    send,
    settings_update,
)
from communications.tasks import release_deferred_messages as release_task
from merchants.models import Merchant

pytestmark = pytest.mark.django_db

START = datetime(2031, 3, 4, 13, 20, tzinfo=UTC)
NEXT_HOUR = datetime(2031, 3, 4, 14, 0, tzinfo=UTC)
RECEIPT = {
    "merchant_name": "Bluebird",
    "amount": "€12.50",
    "balance": "€37.50",
    "last4": "ZB6W",
    "transaction_id": "txn_1",
    "when": "4 Mar 2031 13:20",
}


def receipt(n: int, merchant: Merchant | None) -> CommunicationLog:
    [log] = send(
        Event.REDEMPTION_RECEIPT,
        Recipient(email=f"buyer{n}@example.com"),
        RECEIPT,
        channels=["email"],
        merchant=merchant,
    )
    log.refresh_from_db()
    return log


def sent_to() -> list[str]:
    return [message.to[0] for message in mail.outbox]


def table_of_settings() -> dict[str, Any]:
    return model_to_dict(CommunicationSettings.objects.get_or_create(pk=1)[0])


def table() -> list[tuple[Any, ...]]:
    return list(
        CommunicationLog.objects.order_by("pk").values_list(
            "pk", "status", "reason", "deferred_until", "attempts", "payload"
        )
    )


def test_a_merchant_over_its_hourly_email_limit_waits_and_others_go_at_once(
    merchant: Merchant, other_merchant: Merchant
) -> None:
    settings_update(actor=None, email_merchant_hourly_limit=2)
    with time_machine.travel(START, tick=False):
        first, second = receipt(1, merchant), receipt(2, merchant)
        held = receipt(3, merchant)
        theirs = receipt(4, other_merchant)
        account = receipt(5, None)

    assert [log.status for log in (first, second, theirs, account)] == ["sent"] * 4
    assert held.status == MessageStatus.QUEUED
    assert held.reason == (
        "deferred: Bluebird Coffee reached its 2 emails an hour; sends after 14:00 UTC"
    )
    assert held.deferred_until == NEXT_HOUR
    assert held.payload  # the rendered message waits, sealed
    assert (held.attempts, held.claimed_at) == (0, None)
    assert sent_to() == [f"buyer{n}@example.com" for n in (1, 2, 4, 5)]


def test_a_deferred_message_is_sent_by_the_release_task_in_the_next_hour(
    merchant: Merchant,
) -> None:
    settings_update(actor=None, email_merchant_hourly_limit=1)
    with time_machine.travel(START, tick=False):
        receipt(1, merchant)
        held = receipt(2, merchant)
    with time_machine.travel(NEXT_HOUR - timedelta(seconds=1), tick=False):
        assert release_task.delay().get() == 0  # not yet
        assert CommunicationLog.objects.get(pk=held.pk).deferred_until == NEXT_HOUR
    with time_machine.travel(NEXT_HOUR + timedelta(seconds=30), tick=False):
        assert release_task.delay().get() == 1
        assert release_task.delay().get() == 0  # a repeat sends nothing again
        held.refresh_from_db()
        assert (held.status, held.deferred_until, held.payload) == ("sent", None, "")
        assert held.attempts == 1
        assert sent_to() == ["buyer1@example.com", "buyer2@example.com"]
        # It counted against the hour it went in: that hour is full for the merchant now.
        assert receipt(3, merchant).status == MessageStatus.QUEUED


def test_released_oldest_first_and_deferred_again_when_the_next_hour_fills(
    merchant: Merchant,
) -> None:
    settings_update(actor=None, email_merchant_hourly_limit=1)
    with time_machine.travel(START, tick=False):
        receipt(1, merchant)
        older, newer = receipt(2, merchant), receipt(3, merchant)
    with time_machine.travel(NEXT_HOUR + timedelta(minutes=1), tick=False):
        assert release_deferred_messages() == 1
    older.refresh_from_db()
    newer.refresh_from_db()
    assert older.status == MessageStatus.SENT
    assert newer.status == MessageStatus.QUEUED
    assert newer.deferred_until == NEXT_HOUR + timedelta(hours=1)
    assert newer.reason == (
        "deferred: Bluebird Coffee reached its 1 email an hour; sends after 15:00 UTC"
    )
    with time_machine.travel(NEXT_HOUR + timedelta(hours=1, minutes=1), tick=False):
        assert release_deferred_messages() == 1
    assert sent_to() == [f"buyer{n}@example.com" for n in (1, 2, 3)]


def test_the_platform_ceiling_defers_everyone(merchant: Merchant, other_merchant: Merchant) -> None:
    settings_update(actor=None, email_hourly_ceiling=2)
    with time_machine.travel(START, tick=False):
        receipt(1, merchant)
        receipt(2, other_merchant)
        held = [receipt(3, merchant), receipt(4, other_merchant), receipt(5, None)]
    assert {log.status for log in held} == {MessageStatus.QUEUED}
    assert {log.reason for log in held} == {
        "deferred: the whole platform reached its ceiling of 2 emails an hour; "
        "sends after 14:00 UTC"
    }
    assert len(mail.outbox) == 2
    with time_machine.travel(NEXT_HOUR, tick=False):
        assert release_deferred_messages() == 2  # the ceiling again: oldest two first
    assert sent_to()[2:] == ["buyer3@example.com", "buyer4@example.com"]


def test_messages_of_no_merchant_have_their_own_bucket(merchant: Merchant) -> None:
    settings_update(actor=None, email_platform_hourly_limit=1)
    with time_machine.travel(START, tick=False):
        receipt(1, None)
        held = receipt(2, None)
        theirs = receipt(3, merchant)
    assert held.reason == (
        "deferred: the platform's own messages (no merchant) reached their 1 email an hour; "
        "sends after 14:00 UTC"
    )
    assert theirs.status == MessageStatus.SENT


def test_the_limit_per_recipient_refuses_and_nothing_waits(merchant: Merchant) -> None:
    settings_update(actor=None, per_recipient_hourly_limit=1)
    with time_machine.travel(START, tick=False):
        receipt(1, merchant)
        before = len(mail.outbox)
        refused = receipt(1, merchant)
    assert refused.status == MessageStatus.RATE_LIMITED
    assert refused.reason == (
        "limit of 1 email an hour to one recipient reached; "
        "more can go to this recipient after 14:00 UTC"
    )
    assert (refused.payload, refused.deferred_until) == ("", None)
    assert len(mail.outbox) == before
    with time_machine.travel(NEXT_HOUR, tick=False):
        assert release_deferred_messages() == 0
    assert len(mail.outbox) == before
    # A refused message took nothing from the merchant's volume.
    settings_update(actor=None, email_merchant_hourly_limit=2)
    with time_machine.travel(START, tick=False):
        assert receipt(2, merchant).status == MessageStatus.SENT


def test_a_retry_of_a_released_message_is_not_counted_again(
    merchant: Merchant, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings_update(actor=None, email_merchant_hourly_limit=1)
    with time_machine.travel(START, tick=False):
        receipt(1, merchant)
        held = receipt(2, merchant)
    from communications.backends.email import DjangoEmailBackend

    original = DjangoEmailBackend.send
    failures = [TransientError("busy")]

    def flaky(self: Any, message: Any) -> Any:
        if failures:
            raise failures.pop()
        return original(self, message)

    monkeypatch.setattr(DjangoEmailBackend, "send", flaky)
    monkeypatch.setattr("communications.tasks.backoff", lambda retries: 0)
    with time_machine.travel(NEXT_HOUR, tick=False):
        assert release_deferred_messages() == 1
        held.refresh_from_db()
        assert (held.status, held.attempts) == (MessageStatus.SENT, 2)
        # Counted once, at release: the merchant's one email of this hour, not two.
        assert release_deferred_messages() == 0
        settings_update(actor=None, email_merchant_hourly_limit=2)
        assert receipt(3, merchant).status == MessageStatus.SENT


def test_a_deferred_message_is_not_sent_by_a_stray_delivery(merchant: Merchant) -> None:
    settings_update(actor=None, email_merchant_hourly_limit=1)
    with time_machine.travel(START, tick=False):
        receipt(1, merchant)
        held = receipt(2, merchant)
        before = table()
        assert deliver(held.pk, final_attempt=True) == "skipped"
        assert table() == before
    assert len(mail.outbox) == 1


def test_a_switched_off_channel_keeps_its_deferred_messages_until_it_is_on_again(
    merchant: Merchant,
) -> None:
    settings_update(actor=None, email_merchant_hourly_limit=1)
    with time_machine.travel(START, tick=False):
        receipt(1, merchant)
        held = receipt(2, merchant)
    settings_update(actor=None, email_enabled=False)
    with time_machine.travel(NEXT_HOUR, tick=False):
        before = table()
        assert release_deferred_messages() == 0
        assert table() == before
    settings_update(actor=None, email_enabled=True)
    with time_machine.travel(NEXT_HOUR + timedelta(hours=2), tick=False):
        assert release_deferred_messages() == 1
    held.refresh_from_db()
    assert held.status == MessageStatus.SENT


def test_the_release_runs_every_minute(settings: Any) -> None:
    [entry] = [
        entry
        for entry in settings.CELERY_BEAT_SCHEDULE.values()
        if entry["task"] == "communications.release_deferred_messages"
    ]
    assert entry["schedule"] == timedelta(minutes=1)


# --- the settings ------------------------------------------------------------------


def test_the_defaults_fit_a_real_platform() -> None:
    conf = communication_settings()
    assert [
        (conf.hourly_ceiling(c), conf.merchant_hourly_limit(c), conf.platform_hourly_limit(c))
        for c in ("email", "sms", "push")
    ] == [(10_000, 1_000, 2_000), (3_600, 600, 600), (50_000, 5_000, 5_000)]
    assert (conf.per_recipient_hourly_limit, conf.otp_rate_limit) == (10, 10)
    assert conf.otp_api_key_hourly_limit == 600


@pytest.mark.parametrize(
    "field",
    [
        "email_hourly_ceiling",
        "sms_merchant_hourly_limit",
        "push_platform_hourly_limit",
        "per_recipient_hourly_limit",
        "otp_api_key_hourly_limit",
    ],
)
def test_a_limit_of_zero_is_refused_with_a_clear_message(field: str) -> None:
    before = CommunicationSettings.objects.get_or_create(pk=1)[0]
    with pytest.raises(ValidationError) as refused:
        settings_update(actor=None, **{field: 0})
    assert refused.value.message_dict == {
        field: ["Must be at least 1: with 0 nothing would ever be sent."]
    }
    assert getattr(CommunicationSettings.objects.get(pk=1), field) == getattr(before, field)


def test_a_bad_code_length_is_refused_without_the_constraints_name() -> None:
    with pytest.raises(ValidationError) as refused:
        settings_update(actor=None, otp_length=3)
    assert refused.value.messages == ["A one-time code has 4 to 10 digits."]
    assert CommunicationSettings.objects.get(pk=1).otp_length == 6


def test_an_unknown_setting_is_refused() -> None:
    from django.core.exceptions import FieldDoesNotExist

    with pytest.raises(FieldDoesNotExist):
        settings_update(actor=None, sms_rate_limit=1)


@pytest.mark.parametrize(
    ("changes", "errors"),
    [
        (
            {"otp_expiry_minutes": 0},
            {
                "otp_expiry_minutes": [
                    "Must be at least 1 minute: a code that expires at once cannot be used."
                ]
            },
        ),
        (
            {"otp_max_attempts": 0},
            {"otp_max_attempts": ["Must be at least 1: with 0 no code could ever be checked."]},
        ),
        ({"otp_length": 11}, {"otp_length": ["A one-time code has 4 to 10 digits."]}),
        (
            {"push_fallback": "push"},
            {
                "push_fallback": [
                    "Push cannot fall back to itself: choose another channel, or none to suppress."
                ]
            },
        ),
    ],
)
def test_settings_that_cannot_work_are_refused_and_nothing_changes(
    changes: dict[str, Any], errors: dict[str, list[str]]
) -> None:
    before = table_of_settings()
    with pytest.raises(ValidationError) as refused:
        settings_update(actor=None, email_hourly_ceiling=5, **changes)
    assert refused.value.message_dict == errors
    assert table_of_settings() == before


@pytest.mark.parametrize(
    "values",
    [
        {"otp_expiry_minutes": 0},
        {"otp_max_attempts": 0},
        {"otp_length": 11},
        {"email_fallback": "email"},
        {"sms_fallback": "sms"},
    ],
)
def test_the_database_refuses_settings_that_cannot_work(values: dict[str, Any]) -> None:
    before = table_of_settings()
    with pytest.raises(IntegrityError), transaction.atomic():
        CommunicationSettings.objects.filter(pk=1).update(**values)
    assert table_of_settings() == before

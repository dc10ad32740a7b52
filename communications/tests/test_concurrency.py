"""Releases of deferred messages running at once, on real PostgreSQL row locks: each
message is handed to the provider once and counted once, and the merchant's hourly limit
holds exactly. Each release runs in its own thread with its own database connection."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pytest
import time_machine
from django.core import mail
from django.db import connection

from communications.models import CommunicationLog, Event, MessageStatus
from communications.services import Recipient, release_deferred_messages, send, settings_update
from merchants.models import Merchant
from tests.concurrency import in_threads

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL row locks"),
]

START = datetime(2031, 3, 4, 13, 20, tzinfo=UTC)
NEXT_HOUR = datetime(2031, 3, 4, 14, 0, 30, tzinfo=UTC)


def test_parallel_releases_send_and_count_each_message_once(merchant: Merchant) -> None:
    settings_update(actor=None, email_merchant_hourly_limit=2)
    with time_machine.travel(START, tick=False):
        for n in range(32):
            send(
                Event.TEST_MESSAGE,
                Recipient(email=f"buyer{n}@example.com"),
                {"channel": "email", "sent_at": "now"},
                channels=["email"],
                merchant=merchant,
            )
    assert CommunicationLog.objects.filter(deferred_until__isnull=False).count() == 30
    settings_update(actor=None, email_merchant_hourly_limit=20)

    with time_machine.travel(NEXT_HOUR, tick=False):
        released = in_threads(6, lambda _: release_deferred_messages(batch_size=3))

    assert sum(released) == 20  # the merchant's limit in the new hour, exactly
    recipients = Counter(message.to[0] for message in mail.outbox)
    assert len(recipients) == 22  # two in the first hour, twenty released
    assert set(recipients.values()) == {1}
    logs = CommunicationLog.objects.all()
    assert Counter(log.status for log in logs) == {MessageStatus.SENT: 22, MessageStatus.QUEUED: 10}
    assert {log.attempts for log in logs if log.status == MessageStatus.SENT} == {1}
    waiting = [log for log in logs if log.status == MessageStatus.QUEUED]
    assert all(log.deferred_until and log.deferred_until.hour == 15 for log in waiting)
    assert all(log.attempts == 0 and log.payload for log in waiting)

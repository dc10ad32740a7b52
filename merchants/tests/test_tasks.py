"""The purge of stored idempotent API responses (OP-1), and its beat schedule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django_celery_beat.models import PeriodicTask
from django_celery_beat.schedulers import DatabaseScheduler

from config.celery import app
from merchants import idempotency
from merchants.models import IdempotencyRecord, Merchant
from merchants.tasks import purge_idempotency_records

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.mark.django_db
def test_idempotency_records_older_than_48_hours_are_purged(merchant: Merchant) -> None:
    def record(key: str, age: timedelta) -> None:
        IdempotencyRecord.objects.create(
            merchant=merchant,
            key=key,
            fingerprint="f" * 64,
            method="POST",
            path="/api/v1/gift-cards/",
            response_status=201,
            response_body={},
            created_at=START - age,
        )

    record("old", timedelta(hours=49))
    record("recent", timedelta(hours=47))

    with time_machine.travel(START, tick=False):
        assert purge_idempotency_records.delay().get() == 1
        assert purge_idempotency_records.delay().get() == 0
        assert idempotency.purge_expired() == 0

    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["recent"]


@pytest.mark.django_db
def test_a_purge_queued_under_its_old_name_still_runs(merchant: Merchant) -> None:
    IdempotencyRecord.objects.create(
        merchant=merchant,
        key="old",
        fingerprint="f" * 64,
        method="POST",
        path="/api/v1/gift-cards/",
        response_status=201,
        response_body={},
        created_at=START - timedelta(hours=49),
    )
    with time_machine.travel(START, tick=False):
        # A worker looks a message's task up by name in this registry.
        assert app.tasks["giftcards.jobs.purge_idempotency_records"].delay().get() == 1
    assert not IdempotencyRecord.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_the_purge_runs_daily_at_three() -> None:
    # The scheduler closes stale connections as beat does, hence a transactional test.
    assert "merchants.purge_idempotency_records" in app.tasks
    DatabaseScheduler(app=app)
    purge = PeriodicTask.objects.get(name="purge-idempotency-records")
    assert purge.task == "merchants.purge_idempotency_records"
    assert purge.enabled
    assert purge.crontab is not None
    assert (purge.crontab.minute, purge.crontab.hour) == ("0", "3")

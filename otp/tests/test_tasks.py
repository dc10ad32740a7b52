"""The periodic job that marks expired codes, and its place in the beat schedule (OP-1)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django_celery_beat.models import PeriodicTask
from django_celery_beat.schedulers import DatabaseScheduler

from config.celery import app
from otp.models import OneTimeCode, OtpStatus
from otp.services import otp_request
from otp.tasks import expire_pending_codes

START = datetime(2031, 3, 4, 10, 0, tzinfo=UTC)


@pytest.mark.django_db
def test_the_task_marks_codes_past_their_expiry() -> None:
    with time_machine.travel(START, tick=False):
        otp_request(purpose="login", channel="sms", recipient="+447700900123")
    with time_machine.travel(START + timedelta(minutes=11), tick=False):
        assert expire_pending_codes.delay().get() == 1
        assert expire_pending_codes.delay().get() == 0
    assert OneTimeCode.objects.get().status == OtpStatus.EXPIRED


@pytest.mark.django_db(transaction=True)
def test_the_job_runs_daily_at_three() -> None:
    # The scheduler closes stale connections as beat does, hence a transactional test.
    assert "otp.expire_pending_codes" in app.tasks
    DatabaseScheduler(app=app)
    job = PeriodicTask.objects.get(name="expire-one-time-codes")
    assert job.task == "otp.expire_pending_codes"
    assert job.enabled
    assert job.crontab is not None
    assert (job.crontab.minute, job.crontab.hour) == ("0", "3")
    assert (job.crontab.day_of_week, job.crontab.day_of_month) == ("*", "*")

"""The periodic job is declared in code, lands in django-celery-beat's schedule and runs."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.utils import timezone
from django_celery_beat.models import PeriodicTask
from django_celery_beat.schedulers import DatabaseScheduler

from config.celery import app
from core.tasks import clear_expired_sessions

pytestmark = pytest.mark.django_db


def _session(expires_in: timedelta) -> str:
    store = SessionStore()
    store["x"] = 1
    store.create()
    Session.objects.filter(session_key=store.session_key).update(
        expire_date=timezone.now() + expires_in
    )
    return str(store.session_key)


def test_clear_expired_sessions_deletes_only_expired_ones() -> None:
    old = _session(timedelta(days=-1))
    live = _session(timedelta(days=1))
    result = clear_expired_sessions.delay()
    assert result.get() == 1
    assert not Session.objects.filter(session_key=old).exists()
    assert Session.objects.filter(session_key=live).exists()
    assert clear_expired_sessions.delay().get() == 0  # idempotent


@pytest.mark.django_db(transaction=True)
def test_beat_schedule_is_synced_into_the_database_scheduler() -> None:
    # The scheduler closes stale connections as beat does, hence a transactional test.
    assert "core.clear_expired_sessions" in app.tasks
    DatabaseScheduler(app=app)
    task = PeriodicTask.objects.get(name="clear-expired-sessions")
    assert task.task == "core.clear_expired_sessions"
    assert task.enabled
    assert task.interval is not None
    assert (
        task.interval.every * {"hours": 3600, "seconds": 1, "days": 86400}[task.interval.period]
        == 86400
    )

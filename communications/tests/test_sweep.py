"""No message lost to a crash: the sweep releases claims of workers that died while
sending and queues again messages whose task was lost, so every message reaches a final
state within a stated bound; the admin's log flags any that waits past it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from kombu.exceptions import OperationalError
from pytest_django.asserts import assertContains, assertNotContains

from accounts.models import User
from communications import services
from communications.backends.email import message_id
from communications.models import CommunicationLog, Event, MessageStatus
from communications.selectors import stuck_after
from communications.services import (
    MAX_ATTEMPTS,
    Recipient,
    SweepResult,
    deliver,
    send,
    sweep_stalled_messages,
)
from communications.tasks import deliver_message
from communications.tasks import sweep_stalled_messages as sweep_task

pytestmark = pytest.mark.django_db

ANA = Recipient(email="ana@example.com")
TEST = {"channel": "email", "sent_at": "now"}
LOG_LIST = reverse("admin:communications_communicationlog_changelist")


@pytest.fixture
def lost_tasks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Tasks go to a broker that loses them: the ids that were queued, and nothing runs."""
    queued: list[int] = []
    monkeypatch.setattr(services, "_enqueue", queued.append)
    return queued


def queued_message() -> CommunicationLog:
    [log] = send(Event.TEST_MESSAGE, ANA, TEST, channels=["email"])
    log.refresh_from_db()
    assert log.status == MessageStatus.QUEUED
    return log


def age(log: CommunicationLog, *, claimed: timedelta | None = None, due: timedelta) -> None:
    """Make ``log`` look as it would ``due`` after its attempt fell due (and ``claimed``
    after a worker claimed it)."""
    now = timezone.now()
    CommunicationLog.objects.filter(pk=log.pk).update(
        next_attempt_at=now - due,
        dispatched_at=now - due,
        claimed_at=now - claimed if claimed is not None else None,
        attempts=1 if claimed is not None else 0,
    )


def state(log: CommunicationLog) -> tuple[Any, ...]:
    log.refresh_from_db()
    return (log.status, log.attempts, log.claimed_at, log.next_attempt_at, log.dispatched_at)


def test_a_dead_workers_claim_is_released_and_the_message_sent_once(
    lost_tasks: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    log = queued_message()
    age(log, claimed=timedelta(minutes=11), due=timedelta(minutes=11))
    monkeypatch.undo()  # the broker works again

    assert sweep_stalled_messages() == SweepResult(released=1)

    log.refresh_from_db()
    assert (log.status, log.attempts) == (MessageStatus.SENT, 2)  # the lost attempt counts
    [email] = mail.outbox
    assert email.extra_headers["Message-ID"] == message_id(log.pk)
    assert sweep_stalled_messages() == SweepResult()


def test_a_claim_younger_than_the_timeout_is_left_to_its_worker(lost_tasks: list[int]) -> None:
    log = queued_message()
    age(log, claimed=timedelta(minutes=9), due=timedelta(minutes=9))
    before = state(log)

    assert sweep_stalled_messages() == SweepResult()

    assert state(log) == before
    assert lost_tasks == [log.pk]  # only the first dispatch, by send
    assert mail.outbox == []


def test_a_message_out_of_attempts_fails_with_the_reason(lost_tasks: list[int]) -> None:
    log = queued_message()
    age(log, claimed=timedelta(minutes=11), due=timedelta(minutes=11))
    CommunicationLog.objects.filter(pk=log.pk).update(attempts=MAX_ATTEMPTS)

    assert sweep_stalled_messages() == SweepResult(failed=1)

    log.refresh_from_db()
    assert log.status == MessageStatus.FAILED
    assert log.error == (
        f"The worker sending it stopped during each of {MAX_ATTEMPTS} attempts; not tried again."
    )
    assert log.failed_at is not None
    assert log.payload == ""
    assert lost_tasks == [log.pk]
    assert mail.outbox == []


def test_a_message_whose_task_was_lost_is_queued_again_and_sent_once(
    lost_tasks: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    log = queued_message()
    assert sweep_stalled_messages() == SweepResult()  # just queued: its task may yet run
    age(log, due=timedelta(minutes=6))
    monkeypatch.undo()

    assert sweep_stalled_messages() == SweepResult(redispatched=1)

    log.refresh_from_db()
    assert (log.status, log.attempts) == (MessageStatus.SENT, 1)
    assert len(mail.outbox) == 1
    assert sweep_stalled_messages() == SweepResult()
    assert len(mail.outbox) == 1


def test_a_lost_task_is_queued_again_once_per_period_while_nothing_runs(
    lost_tasks: list[int],
) -> None:
    log = queued_message()
    age(log, due=timedelta(minutes=6))

    assert sweep_stalled_messages() == SweepResult(redispatched=1)
    assert sweep_stalled_messages() == SweepResult()  # not again a minute later
    assert lost_tasks == [log.pk, log.pk]

    # Still nothing ran after another period: once more, and its due time is kept, so
    # the admin's log can tell it is stuck.
    due = state(log)[3]
    CommunicationLog.objects.filter(pk=log.pk).update(
        dispatched_at=timezone.now() - timedelta(minutes=6)
    )
    assert sweep_stalled_messages() == SweepResult(redispatched=1)
    assert lost_tasks == [log.pk, log.pk, log.pk]
    assert state(log)[3] == due


def test_a_message_waiting_for_its_retry_or_an_hour_with_room_is_left_alone(
    lost_tasks: list[int],
) -> None:
    retrying = queued_message()
    CommunicationLog.objects.filter(pk=retrying.pk).update(
        next_attempt_at=timezone.now() + timedelta(minutes=40),
        dispatched_at=timezone.now() - timedelta(minutes=20),
    )
    deferred = queued_message()
    CommunicationLog.objects.filter(pk=deferred.pk).update(
        deferred_until=timezone.now() + timedelta(minutes=30),
        next_attempt_at=None,
        dispatched_at=None,
    )
    before = (state(retrying), state(deferred))

    assert sweep_stalled_messages() == SweepResult()

    assert (state(retrying), state(deferred)) == before
    assert mail.outbox == []


def test_sent_and_failed_messages_are_never_swept(lost_tasks: list[int]) -> None:
    log = queued_message()
    age(log, claimed=timedelta(hours=2), due=timedelta(hours=2))
    for status in (MessageStatus.SENT, MessageStatus.FAILED, MessageStatus.SUPPRESSED):
        CommunicationLog.objects.filter(pk=log.pk).update(status=status)
        before = state(log)
        assert sweep_stalled_messages() == SweepResult()
        assert state(log) == before


def test_the_sweep_works_in_batches_until_none_is_left(lost_tasks: list[int]) -> None:
    logs = [queued_message() for _ in range(5)]
    for log in logs:
        age(log, due=timedelta(minutes=6))

    assert sweep_stalled_messages(batch_size=2) == SweepResult(redispatched=5)

    assert sorted(lost_tasks) == sorted([log.pk for log in logs] * 2)


def test_a_retry_records_when_it_is_due(lost_tasks: list[int], monkeypatch) -> None:
    from communications.backends import TransientError

    def busy(self: Any, message: Any) -> Any:
        raise TransientError("421 busy")

    monkeypatch.setattr("communications.backends.email.DjangoEmailBackend.send", busy)
    log = queued_message()
    before = timezone.now()

    assert deliver(log.pk, final_attempt=False, retry_in=600) == "retry"

    log.refresh_from_db()
    assert log.claimed_at is None
    assert log.next_attempt_at is not None
    assert log.next_attempt_at >= before + timedelta(seconds=600)
    assert sweep_stalled_messages() == SweepResult()  # not overdue: waiting for its time


def test_a_message_out_of_attempts_by_its_log_fails_whatever_the_task_thinks(
    lost_tasks: list[int], monkeypatch
) -> None:
    from communications.backends import TransientError

    def busy(self: Any, message: Any) -> Any:
        raise TransientError("421 busy")

    monkeypatch.setattr("communications.backends.email.DjangoEmailBackend.send", busy)
    log = queued_message()
    CommunicationLog.objects.filter(pk=log.pk).update(attempts=MAX_ATTEMPTS - 1)

    # A task queued again by the sweep starts counting its retries from 0.
    assert deliver(log.pk, final_attempt=False) == "failed"
    log.refresh_from_db()
    assert (log.status, log.attempts) == (MessageStatus.FAILED, MAX_ATTEMPTS)


def test_a_broker_that_is_down_does_not_fail_the_sender_and_the_sweep_sends_later(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def down(*args: Any, **kwargs: Any) -> Any:
        raise OperationalError("Error 111 connecting to redis:6379. Connection refused.")

    monkeypatch.setattr(deliver_message, "delay", down)
    log = queued_message()  # no exception reaches the caller
    monkeypatch.undo()
    age(log, due=timedelta(minutes=6))

    assert sweep_stalled_messages() == SweepResult(redispatched=1)
    log.refresh_from_db()
    assert log.status == MessageStatus.SENT


def test_the_sweep_runs_every_minute_and_its_task_answers() -> None:
    [entry] = [
        entry
        for entry in django_settings.CELERY_BEAT_SCHEDULE.values()
        if entry["task"] == "communications.sweep_stalled_messages"
    ]
    assert entry["schedule"] == timedelta(minutes=1)
    assert sweep_task.delay().get() == {"released": 0, "redispatched": 0, "failed": 0}


def test_a_worker_is_stopped_before_its_claim_could_be_taken_for_a_dead_ones() -> None:
    assert deliver_message.time_limit is not None
    assert deliver_message.time_limit < django_settings.COMMUNICATIONS_CLAIM_TIMEOUT
    assert stuck_after() == timedelta(minutes=15)


def test_the_message_id_is_the_same_for_every_attempt_at_one_message(settings) -> None:
    settings.COMMUNICATIONS_MESSAGE_ID_DOMAIN = "gifts.example.com"
    first = message_id(41)
    assert message_id(41) == first
    assert message_id(42) != first
    assert first.startswith("<log-41.")
    assert first.endswith("@gifts.example.com>")
    # Another installation on the same domain never uses the same id for its log row 41.
    settings.SECRET_KEY = "another-installation-" + "s" * 40
    assert message_id(41) != first


# --- the admin's log -------------------------------------------------------------------


@pytest.fixture
def admin_client_(admin_user: User) -> Client:
    client = Client()
    client.force_login(admin_user)
    return client


def test_the_log_flags_messages_stuck_past_the_bound(
    admin_client_: Client, lost_tasks: list[int]
) -> None:
    stuck = queued_message()
    age(stuck, due=timedelta(minutes=16))
    fresh = queued_message()
    age(fresh, due=timedelta(minutes=2))

    response = admin_client_.get(LOG_LIST)

    assertContains(response, "1 queued message has waited more than 15 minutes for a worker")
    assert [row.pk for row in response.context["cl"].result_list] == [fresh.pk, stuck.pk]
    flagged = admin_client_.get(LOG_LIST, {"stuck": "yes"})
    assert [row.pk for row in flagged.context["cl"].result_list] == [stuck.pk]
    assertNotContains(flagged, "for a worker: the Celery workers")


def test_a_log_with_nothing_stuck_says_nothing(admin_client_: Client, lost_tasks) -> None:
    fresh = queued_message()
    age(fresh, due=timedelta(minutes=14))
    age(queued_message(), claimed=timedelta(minutes=14), due=timedelta(minutes=14))

    response = admin_client_.get(LOG_LIST)

    assertNotContains(response, "for a worker")
    assert response.context["cl"].result_count == 2

"""The switches and the delivery guarantees across real processes on one PostgreSQL
database, each with its own local-memory cache (as without Redis):

* a switch changed in one process holds for the very next message of another, and for a
  message another process queued before the change;
* a worker killed (SIGKILL) while the SMTP server holds its message, and a task lost with
  the broker: the sweep gets the message delivered, exactly once, within seconds here
  (the timeouts are shortened; in production, minutes).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from email import message_from_bytes, policy
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from django.db import connection

from communications import services
from communications.backends.email import message_id
from communications.models import CommunicationLog, MessageStatus
from communications.services import SweepResult, settings_update, sweep_stalled_messages
from tests.processes import PlatformProcess
from tests.smtp import free_port

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="needs PostgreSQL shared by processes"
    ),
]


@pytest.fixture
def processes() -> Iterator[list[PlatformProcess]]:
    started: list[PlatformProcess] = []
    yield started
    for process in started:
        process.kill()


def start(processes: list[PlatformProcess]) -> PlatformProcess:
    process = PlatformProcess(connection.settings_dict)
    processes.append(process)
    return process


def test_a_switch_changed_in_one_process_holds_for_the_next_message_of_another(
    processes: list[PlatformProcess],
) -> None:
    web, admin = start(processes), start(processes)
    assert web.ask("send email")["status"] == MessageStatus.SENT  # settings read here

    admin.ask('switch email_fallback ""')
    admin.ask("switch email_enabled false")
    after = web.ask("send email")

    assert (after["status"], after["reason"]) == (
        MessageStatus.SUPPRESSED,
        "email is switched off and no fallback is set",
    )
    admin.ask("switch email_enabled true")
    assert web.ask("send email")["status"] == MessageStatus.SENT


def test_a_message_queued_in_one_process_is_suppressed_when_switched_off_in_another(
    processes: list[PlatformProcess],
) -> None:
    web, admin, worker = start(processes), start(processes), start(processes)
    worker.ask("send sms")  # the worker has read the settings before
    queued = web.ask("queue email")
    assert queued["status"] == MessageStatus.QUEUED

    admin.ask("switch email_enabled false")
    delivered = worker.ask(f"deliver {queued['id']}")

    assert delivered["outcome"] == "suppressed"
    assert (delivered["status"], delivered["reason"]) == (
        MessageStatus.SUPPRESSED,
        "email was switched off after it was queued",
    )


class HoldingMailbox:
    """An SMTP server's DATA handler that holds the first message without answering (as a
    slow server does) until the client goes away; a message whose client went away before
    the server's answer is not taken, as in any MTA. Later messages are taken at once."""

    def __init__(self) -> None:
        self.received: list[Any] = []
        self.attempts = 0
        self.holding = threading.Event()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.attempts += 1
        if self.attempts == 1:
            self.holding.set()
            # Cancelled by aiosmtpd when the connection drops.
            await asyncio.sleep(60)
            return "451 4.3.0 Held too long"
        self.received.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 Message accepted for delivery"


@pytest.fixture
def mailbox(settings: Any) -> Iterator[HoldingMailbox]:
    box = HoldingMailbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.COMMUNICATIONS_EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = controller.port
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 5
    try:
        yield box
    finally:
        controller.stop()


def test_a_worker_killed_while_the_server_holds_the_message_delivers_it_once(
    processes: list[PlatformProcess], mailbox: HoldingMailbox, settings: Any
) -> None:
    started = time.monotonic()
    web, worker = start(processes), start(processes)
    queued = web.ask("queue email")
    worker.ask(f"smtp {settings.EMAIL_PORT}")
    worker.tell(f"deliver {queued['id']}")
    assert mailbox.holding.wait(timeout=30)
    log = CommunicationLog.objects.get(pk=queued["id"])
    assert (log.status, log.attempts, log.claimed_at is not None) == ("queued", 1, True)

    worker.kill()  # a deploy, the OOM killer: mid-send, nothing recorded
    # Its redelivered task (late acks) finds the message claimed and leaves it.
    redelivered = start(processes).ask(f"deliver {queued['id']}")
    assert redelivered["outcome"] == "skipped"
    assert sweep_stalled_messages() == SweepResult()  # the claim is not old enough yet

    settings.COMMUNICATIONS_CLAIM_TIMEOUT = 1  # ten minutes in production
    time.sleep(1.1)
    assert sweep_stalled_messages() == SweepResult(released=1)  # and delivers it here

    log.refresh_from_db()
    assert (log.status, log.attempts) == (MessageStatus.SENT, 2)
    [email] = mailbox.received
    assert email["Message-ID"] == message_id(log.pk)
    assert email["To"] == "ana@example.com"
    assert mailbox.attempts == 2
    assert sweep_stalled_messages() == SweepResult()
    assert len(mailbox.received) == 1
    assert time.monotonic() - started < 60


def test_a_task_lost_with_the_broker_is_delivered_once(
    processes: list[PlatformProcess], mailbox: HoldingMailbox, settings: Any
) -> None:
    mailbox.attempts = 1  # nothing held: every message is taken
    web = start(processes)
    queued = web.ask("queue email")
    web.stop()  # its broker, in memory, goes with it: the task is lost
    assert sweep_stalled_messages() == SweepResult()  # just queued: its task may yet run

    settings.COMMUNICATIONS_REDISPATCH_AFTER = 1  # five minutes in production
    time.sleep(1.1)
    assert sweep_stalled_messages() == SweepResult(redispatched=1)

    log = CommunicationLog.objects.get(pk=queued["id"])
    assert (log.status, log.attempts) == (MessageStatus.SENT, 1)
    [email] = mailbox.received
    assert email["Message-ID"] == message_id(log.pk)
    assert sweep_stalled_messages() == SweepResult()
    assert len(mailbox.received) == 1


def test_sweeps_at_once_queue_each_lost_message_once(
    processes: list[PlatformProcess], settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.concurrency import in_threads

    settings.COMMUNICATIONS_REDISPATCH_AFTER = 1
    settings_update(actor=None, per_recipient_hourly_limit=100)  # all to one address
    web = start(processes)
    ids = [web.ask("queue email")["id"] for _ in range(30)]
    assert CommunicationLog.objects.filter(pk__in=ids, status=MessageStatus.QUEUED).count() == 30
    web.stop()
    time.sleep(1.1)
    queued_again: list[int] = []
    lock = threading.Lock()

    def enqueue(log_id: int) -> None:
        with lock:
            queued_again.append(log_id)

    monkeypatch.setattr(services, "_enqueue", enqueue)

    results = in_threads(4, lambda _: sweep_stalled_messages(batch_size=4))

    assert sum(result.redispatched for result in results) == 30
    assert sorted(queued_again) == sorted(ids)

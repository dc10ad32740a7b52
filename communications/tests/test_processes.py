"""The switches across real processes on one PostgreSQL database, each with its own
local-memory cache (as without Redis): a switch changed in one process holds for the very
next message of another, and for a message another process queued before the change."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.db import connection

from communications.models import MessageStatus
from tests.processes import PlatformProcess

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

"""What the one-time code tests share: addresses, reading a code out of a message, and a
picture of everything a refusal must leave alone."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.core import mail

from communications.backends.sms import InMemorySMSBackend
from communications.models import CommunicationLog
from otp.models import OneTimeCode

PHONE = "+447700900123"
EMAIL = "ana@example.com"

_CODE = re.compile(r"(?<!\d)(\d{4,10})(?!\d)")


def code_in(text: str) -> str:
    match = _CODE.search(text)
    assert match, f"no code in {text!r}"
    return match.group(1)


def last_sms_code() -> str:
    return code_in(InMemorySMSBackend.outbox[-1].text)


def last_email_code() -> str:
    return code_in(mail.outbox[-1].body)


@dataclass(frozen=True)
class State:
    """Every code (status and attempts), every message log row and both outboxes."""

    codes: list[tuple[str, str, int]]
    logs: int
    sms: int
    emails: int


def state() -> State:
    return State(
        codes=list(
            OneTimeCode.objects.order_by("pk").values_list("public_id", "status", "attempts")
        ),
        logs=CommunicationLog.objects.count(),
        sms=len(InMemorySMSBackend.outbox),
        emails=len(mail.outbox),
    )

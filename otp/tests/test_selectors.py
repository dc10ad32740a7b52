"""Usage figures of one-time codes (OT-3), as CM-6 reads them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from communications.services import settings_update
from otp.exceptions import OtpNotDelivered
from otp.selectors import otp_usage
from otp.services import otp_request, otp_verify
from otp.tests.helpers import last_sms_code

pytestmark = pytest.mark.django_db

START = datetime(2031, 3, 4, 10, 0, tzinfo=UTC)


def send_to(n: int) -> str:
    recipient = f"+4477009001{n:02d}"
    otp_request(purpose="login", channel="sms", recipient=recipient)
    return recipient


def check(recipient: str, code: str) -> None:
    otp_verify(purpose="login", recipient=recipient, code=code)


def test_usage_counts_how_codes_fared() -> None:
    settings_update(actor=None, otp_resend_cooldown_seconds=0, otp_max_attempts=2)
    with time_machine.travel(START - timedelta(days=2), tick=False):
        send_to(99)  # before the period asked about
    with time_machine.travel(START, tick=False):
        verified = send_to(1)
        check(verified, "x")  # one wrong attempt first
        check(verified, last_sms_code())
        failed = send_to(2)
        check(failed, "x")
        check(failed, "y")
        send_to(3)  # left to expire
        superseded = send_to(4)
        send_to(4)
        check(superseded, "z")  # against the newer code, which stays pending
        settings_update(actor=None, sms_enabled=False, sms_fallback="")
        with pytest.raises(OtpNotDelivered):
            send_to(5)
        settings_update(actor=None, sms_enabled=True)
    with time_machine.travel(START + timedelta(minutes=5), tick=False):
        send_to(6)  # still pending at the time of reading

    with time_machine.travel(START + timedelta(minutes=12), tick=False):
        usage = otp_usage(since=START - timedelta(hours=1))
        everything = otp_usage()

    assert usage == {
        "issued": 6,
        "verified": 1,
        "failed": 1,
        "expired": 2,  # the one left alone, and the newer code to +...04
        "superseded": 1,
        "pending": 1,
        "not_delivered": 1,
        "wrong_attempts": 4,
    }
    assert everything["issued"] == 7
    assert everything["expired"] == 3


def test_usage_with_no_codes_is_all_zeros() -> None:
    assert set(otp_usage().values()) == {0}

"""Parallel guesses at one code, on real PostgreSQL row locks: never more wrong codes
than ``max_attempts``, and a right code works once. Each request runs in its own thread
with its own database connection, through the whole API stack."""

from __future__ import annotations

from collections import Counter

import pytest
from django.db import connection

from communications.services import settings_update
from merchants.models import Merchant
from otp.models import OneTimeCode, OtpStatus
from otp.services import otp_request, otp_verify
from otp.tests.helpers import PHONE, last_sms_code
from tests.concurrency import api_client, in_threads

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL row locks"),
]


def _wrong(code: str, index: int) -> str:
    guess = f"{index:06d}"
    return guess if guess != code else "999999"


def test_parallel_wrong_guesses_never_exceed_max_attempts(merchant: Merchant, api_key: str) -> None:
    settings_update(actor=None, otp_max_attempts=5)
    otp_request(purpose="login", channel="sms", recipient=PHONE, merchant=merchant)
    code = last_sms_code()

    def guess(index: int) -> tuple[int, str, int | None]:
        response = api_client(api_key).post(
            "/api/v1/otp/verify/",
            {"purpose": "login", "recipient": PHONE, "code": _wrong(code, index)},
            format="json",
        )
        body = response.json()
        return response.status_code, body["code"], body.get("attempts_remaining")

    outcomes = in_threads(20, guess)

    counts = Counter((status, error) for status, error, _ in outcomes)
    assert counts == {(400, "otp_invalid"): 4, (429, "otp_attempts_exceeded"): 16}
    # every wrong guess saw the ones before it: each count down happened exactly once
    assert sorted(left for status, _, left in outcomes if status == 400) == [1, 2, 3, 4]
    otp = OneTimeCode.objects.get()
    assert (otp.status, otp.attempts) == (OtpStatus.FAILED, 5)
    refused = otp_verify(purpose="login", recipient=PHONE, code=code, merchant=merchant)
    assert refused.error is not None
    assert refused.error.code == "otp_attempts_exceeded"


def test_parallel_right_codes_verify_once(merchant: Merchant) -> None:
    otp_request(purpose="login", channel="sms", recipient=PHONE, merchant=merchant)
    code = last_sms_code()

    def check(index: int) -> str:
        verification = otp_verify(purpose="login", recipient=PHONE, code=code, merchant=merchant)
        return verification.error.code if verification.error else "verified"

    assert Counter(in_threads(10, check)) == {"verified": 1, "otp_invalid": 9}
    otp = OneTimeCode.objects.get()
    assert (otp.status, otp.attempts) == (OtpStatus.VERIFIED, 0)

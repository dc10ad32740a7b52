"""API v1 one-time codes: paths, shapes, status codes and error codes, keys and scopes,
idempotency, and what each refusal leaves behind."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.core import mail
from rest_framework.test import APIClient

from communications.models import CommunicationLog, MessageStatus
from communications.services import settings_update
from merchants.idempotency import REPLAY_HEADER
from merchants.models import Merchant
from otp.models import OneTimeCode, OtpStatus
from otp.tests.helpers import EMAIL, PHONE, code_in, last_sms_code, state
from tests.factories import ApiKeyFactory

pytestmark = pytest.mark.django_db

REQUEST = "/api/v1/otp/request/"
VERIFY = "/api/v1/otp/verify/"
START = datetime(2031, 3, 4, 10, 0, tzinfo=UTC)
CODE_FIELDS = {
    "id",
    "object",
    "purpose",
    "channel",
    "recipient",
    "status",
    "expires_at",
    "created_at",
}
SMS_LOGIN = {"purpose": "login", "channel": "sms", "recipient": PHONE}


def post(client: APIClient, path: str, data: dict[str, Any], **headers: str):
    return client.post(path, data, format="json", headers=headers)


def ask(client: APIClient, data: dict[str, Any] | None = None, **headers: str):
    return post(client, REQUEST, data or SMS_LOGIN, **headers)


def verify(client: APIClient, code: str, **headers: str):
    return post(client, VERIFY, {"purpose": "login", "recipient": PHONE, "code": code}, **headers)


def wrong(code: str) -> str:
    return "000000" if code != "000000" else "111111"


def assert_problem(response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == code
    assert body["status"] == status
    assert {"type", "title", "detail"} <= set(body)
    return body


def assert_retry_after(response, seconds: int | None = None) -> None:
    body = response.json()
    assert int(response["Retry-After"]) == body["retry_after"] >= 1
    if seconds is not None:
        assert body["retry_after"] == seconds


@pytest.fixture
def no_cooldown() -> None:
    settings_update(actor=None, otp_resend_cooldown_seconds=0)


# --- asking for a code ------------------------------------------------------------


def test_a_request_sends_the_code_and_answers_without_it(
    api_client: APIClient, merchant: Merchant, sms_outbox
) -> None:
    response = ask(api_client)

    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == CODE_FIELDS | {"delivery_channel"}
    assert body["id"].startswith("otp_")
    assert body["object"] == "one_time_code"
    assert (body["purpose"], body["channel"], body["delivery_channel"]) == ("login", "sms", "sms")
    assert (body["recipient"], body["status"]) == ("+44*****23", "pending")
    code = last_sms_code()
    assert code not in response.content.decode()
    otp = OneTimeCode.objects.get(public_id=body["id"])
    assert otp.merchant == merchant
    assert otp.ip_address == "127.0.0.1"
    assert [m.to for m in sms_outbox] == [PHONE]


def test_a_request_by_email(api_client: APIClient) -> None:
    response = ask(
        api_client, {"purpose": "sensitive_action", "channel": "email", "recipient": EMAIL}
    )
    assert response.status_code == 201, response.content
    assert response.json()["recipient"] == "a***@example.com"
    [message] = mail.outbox
    assert message.to == [EMAIL]
    assert code_in(message.body) not in response.content.decode()


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({**SMS_LOGIN, "recipient": EMAIL}, "recipient"),
        ({**SMS_LOGIN, "recipient": "07700 900123"}, "recipient"),
        ({**SMS_LOGIN, "channel": "email"}, "recipient"),
        ({**SMS_LOGIN, "purpose": "anything"}, "purpose"),
        ({**SMS_LOGIN, "channel": "push"}, "channel"),
        ({"purpose": "login", "channel": "sms"}, "recipient"),
        ({**SMS_LOGIN, "recipient": 447700900123}, "recipient"),
        ({**SMS_LOGIN, "locale": "en"}, "locale"),
    ],
)
def test_a_bad_request_is_a_validation_error_and_nothing_happens(
    api_client: APIClient, data: dict[str, Any], field: str
) -> None:
    before = state()
    body = assert_problem(ask(api_client, data), 400, "validation_error")
    assert [e["field"] for e in body["errors"]] == [field]
    assert state() == before


def test_a_resend_within_the_cooldown_is_429_with_retry_after(api_client: APIClient) -> None:
    with time_machine.travel(START, tick=False):
        assert ask(api_client).status_code == 201
        before = state()
    with time_machine.travel(START + timedelta(seconds=20), tick=False):
        response = ask(api_client)
    assert_problem(response, 429, "otp_cooldown")
    assert_retry_after(response, 40)
    assert state() == before


def test_over_the_hourly_limit_is_429_with_retry_after(api_client: APIClient, no_cooldown) -> None:
    settings_update(actor=None, otp_rate_limit=2)
    with time_machine.travel(START + timedelta(minutes=15), tick=False):
        assert ask(api_client).status_code == 201
        assert ask(api_client).status_code == 201
        before = state()
        response = ask(api_client)
    body = assert_problem(response, 429, "otp_rate_limited")
    assert body["limited_by"] == "recipient"
    assert_retry_after(response, 45 * 60)
    assert state() == before


def test_requests_with_a_key_are_never_limited_per_ip_address(
    api_client: APIClient, no_cooldown, sms_outbox
) -> None:
    # All of a merchant's server traffic comes from one address: only the key and the
    # recipient count, so many recipients from one key and one address all get codes.
    settings_update(actor=None, otp_rate_limit=1)

    statuses = [
        api_client.post(
            REQUEST, {**SMS_LOGIN, "recipient": f"+4477009001{n:02d}"}, format="json"
        ).status_code
        for n in range(12)
    ]

    assert statuses == [201] * 12
    assert len(sms_outbox) == 12
    assert set(OneTimeCode.objects.values_list("ip_address", flat=True)) == {"127.0.0.1"}


def test_the_hourly_limit_per_api_key(
    api_client: APIClient, merchant: Merchant, no_cooldown, sms_outbox
) -> None:
    settings_update(actor=None, otp_api_key_hourly_limit=2)
    with time_machine.travel(START + timedelta(minutes=15), tick=False):
        assert ask(api_client, {**SMS_LOGIN, "recipient": "+447700900101"}).status_code == 201
        assert ask(api_client, {**SMS_LOGIN, "recipient": "+447700900102"}).status_code == 201
        before = state()
        refused = ask(api_client, {**SMS_LOGIN, "recipient": "+447700900103"})

        body = assert_problem(refused, 429, "otp_rate_limited")
        assert body["limited_by"] == "api_key"
        assert body["detail"] == (
            "This API key reached its limit of 2 codes an hour. Try again in 45 minutes."
        )
        assert_retry_after(refused, 45 * 60)
        assert state() == before
        assert len(sms_outbox) == 2
        # The refusal used up nothing else: the recipient gets a code through another key.
        other_key = APIClient()
        other_key.credentials(
            HTTP_AUTHORIZATION=f"Bearer {ApiKeyFactory(merchant=merchant, name='b').plaintext}"
        )
        assert ask(other_key, {**SMS_LOGIN, "recipient": "+447700900103"}).status_code == 201
    with time_machine.travel(START + timedelta(hours=1), tick=False):
        assert ask(api_client, {**SMS_LOGIN, "recipient": "+447700900104"}).status_code == 201


def test_with_the_otp_switch_off_it_is_503_nothing_is_sent_and_the_log_says_why(
    api_client: APIClient,
) -> None:
    settings_update(actor=None, otp_enabled=False)
    before = state()
    response = ask(api_client)
    assert_problem(response, 503, "otp_disabled")
    assert "Retry-After" not in response
    after = state()
    assert (after.codes, after.sms, after.emails) == ([], 0, 0)
    assert after.logs == before.logs + 1
    log = CommunicationLog.objects.get()
    assert (log.event, log.channel, log.status) == ("otp_code", "sms", "suppressed")
    assert log.reason == "one-time codes are switched off"
    assert log.recipient_masked == "+44*****23"


@pytest.mark.parametrize("idempotency_key", ["", "nd-1"])
def test_an_undelivered_code_is_503_and_the_log_says_why(
    api_client: APIClient, sms_outbox, idempotency_key: str
) -> None:
    settings_update(actor=None, sms_enabled=False, sms_fallback="")
    headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}

    body = assert_problem(ask(api_client, **headers), 503, "otp_not_delivered")

    assert body["delivery_status"] == "suppressed"
    assert body["reason"] == "sms is switched off and no fallback is set"
    # the refusal is answered after the undelivered code and its log row are committed
    otp = OneTimeCode.objects.get()
    assert otp.status == OtpStatus.UNDELIVERED
    log = CommunicationLog.objects.get()
    assert (log.status, otp.log_id) == (MessageStatus.SUPPRESSED, log.pk)
    assert sms_outbox == []


@pytest.mark.parametrize("idempotency_key", ["", "rl-1"])
def test_a_message_the_send_path_rate_limits_is_503_with_retry_after(
    api_client: APIClient, no_cooldown, idempotency_key: str
) -> None:
    settings_update(actor=None, per_recipient_hourly_limit=1)
    headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
    with time_machine.travel(START + timedelta(minutes=50), tick=False):
        assert ask(api_client).status_code == 201
        response = ask(api_client, **headers)
    assert assert_problem(response, 503, "otp_not_delivered")["delivery_status"] == "rate_limited"
    assert_retry_after(response, 10 * 60)
    if idempotency_key:  # the replay carries the header too
        with time_machine.travel(START + timedelta(minutes=51), tick=False):
            replay = ask(api_client, **headers)
        assert replay[REPLAY_HEADER] == "true"
        assert_problem(replay, 503, "otp_not_delivered")
        assert_retry_after(replay, 10 * 60)


# --- checking a code --------------------------------------------------------------


def test_the_right_code_verifies_once(api_client: APIClient) -> None:
    issued = ask(api_client).json()

    response = verify(api_client, last_sms_code())

    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == CODE_FIELDS | {"verified", "verified_at"}
    assert (body["id"], body["status"], body["verified"]) == (issued["id"], "verified", True)
    assert body["verified_at"]
    again = assert_problem(verify(api_client, last_sms_code()), 400, "otp_invalid")
    assert "attempts_remaining" not in again


@pytest.mark.parametrize("idempotency_key", ["", "v-1"])
def test_a_wrong_code_is_400_and_the_attempt_is_kept(
    api_client: APIClient, idempotency_key: str
) -> None:
    ask(api_client)
    before = state()
    headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}

    response = verify(api_client, wrong(last_sms_code()), **headers)

    body = assert_problem(response, 400, "otp_invalid")
    assert body["attempts_remaining"] == 4
    assert "Retry-After" not in response
    after = state()
    [(_, status, attempts)] = after.codes
    assert (status, attempts) == ("pending", 1)  # committed although the answer is a refusal
    assert (after.logs, after.sms, after.emails) == (before.logs, before.sms, before.emails)


def test_the_last_wrong_code_kills_it_with_429(api_client: APIClient) -> None:
    settings_update(actor=None, otp_max_attempts=2)
    ask(api_client)
    code = last_sms_code()
    assert verify(api_client, wrong(code)).json()["attempts_remaining"] == 1

    body = assert_problem(verify(api_client, wrong(code)), 429, "otp_attempts_exceeded")
    assert body["attempts_remaining"] == 0
    before = state()
    response = verify(api_client, code)
    assert_problem(response, 429, "otp_attempts_exceeded")
    assert "Retry-After" not in response  # waiting does not help: ask for a new code
    assert state() == before
    assert before.codes[0][1:] == ("failed", 2)


def test_an_expired_code_is_422(api_client: APIClient) -> None:
    with time_machine.travel(START, tick=False):
        ask(api_client)
        before = state()
    with time_machine.travel(START + timedelta(minutes=10, seconds=1), tick=False):
        response = verify(api_client, last_sms_code())
    assert_problem(response, 422, "otp_expired")
    after = state()
    assert after.codes == [(before.codes[0][0], "expired", 0)]
    assert (after.logs, after.sms) == (before.logs, before.sms)


def test_no_code_waiting_is_400_and_nothing_changes(api_client: APIClient) -> None:
    before = state()
    body = assert_problem(verify(api_client, "123456"), 400, "otp_invalid")
    assert "attempts_remaining" not in body
    assert state() == before


def test_a_code_for_another_purpose_is_not_accepted(api_client: APIClient) -> None:
    ask(api_client)
    before = state()
    response = post(
        api_client,
        VERIFY,
        {"purpose": "phone_verification", "recipient": PHONE, "code": last_sms_code()},
    )
    assert_problem(response, 400, "otp_invalid")
    assert state() == before


def test_a_verify_with_bad_input_is_a_validation_error(api_client: APIClient) -> None:
    ask(api_client)
    before = state()
    response = post(api_client, VERIFY, {"purpose": "login", "recipient": "nobody", "code": "1"})
    body = assert_problem(response, 400, "validation_error")
    assert [e["field"] for e in body["errors"]] == ["recipient"]
    assert state() == before


@pytest.mark.parametrize(
    ("changes", "field"), [({"code": 493021}, "code"), ({"remember_me": True}, "remember_me")]
)
def test_a_code_sent_as_a_number_or_an_unknown_field_is_refused_and_not_counted(
    api_client: APIClient, changes: dict[str, Any], field: str
) -> None:
    ask(api_client)
    before = state()
    data = {"purpose": "login", "recipient": PHONE, "code": last_sms_code(), **changes}
    body = assert_problem(post(api_client, VERIFY, data), 400, "validation_error")
    assert [e["field"] for e in body["errors"]] == [field]
    assert state() == before


# --- keys, scopes and tenants ------------------------------------------------------


def test_another_merchants_key_cannot_verify_the_code(
    api_client: APIClient, other_api_client: APIClient
) -> None:
    ask(api_client)
    code = last_sms_code()
    before = state()

    assert_problem(verify(other_api_client, code), 400, "otp_invalid")

    assert state() == before  # not even an attempt against the first merchant's code
    assert verify(api_client, code).status_code == 200


def test_a_key_without_the_otp_scope_is_403(merchant: Merchant) -> None:
    client = APIClient()
    key = ApiKeyFactory(merchant=merchant, name="cards only", scopes=["cards:read"])
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key.plaintext}")
    before = state()
    for response in (ask(client), verify(client, "123456")):
        body = assert_problem(response, 403, "permission_denied")
        assert "otp:write" in body["detail"]
    assert state() == before


def test_a_key_with_only_the_otp_scope_works(merchant: Merchant) -> None:
    client = APIClient()
    key = ApiKeyFactory(merchant=merchant, name="sign-in", scopes=["otp:write"])
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key.plaintext}")
    assert ask(client).status_code == 201
    assert verify(client, last_sms_code()).status_code == 200


def test_without_a_key_it_is_401() -> None:
    before = state()
    assert_problem(ask(APIClient()), 401, "not_authenticated")
    assert_problem(verify(APIClient(), "123456"), 401, "not_authenticated")
    assert state() == before


# --- idempotency ------------------------------------------------------------------


def test_a_replayed_request_sends_no_second_code(api_client: APIClient, sms_outbox) -> None:
    with time_machine.travel(START, tick=False):
        first = ask(api_client, **{"Idempotency-Key": "otp-1"})
        assert first.status_code == 201
        before = state()
        replay = ask(api_client, **{"Idempotency-Key": "otp-1"})
    # and after the cooldown, when asking again would be allowed, still a replay
    with time_machine.travel(START + timedelta(minutes=5), tick=False):
        later = ask(api_client, **{"Idempotency-Key": "otp-1"})
        fresh = ask(api_client)  # the replays claimed no cooldown and used no limit

    for response in (replay, later):
        assert response.status_code == 201
        assert response[REPLAY_HEADER] == "true"
        assert response.json() == first.json()
    assert fresh.status_code == 201
    assert len(sms_outbox) == 2
    assert before.sms == 1
    assert OneTimeCode.objects.count() == 2


def test_the_same_key_with_another_body_is_409(api_client: APIClient) -> None:
    assert ask(api_client, **{"Idempotency-Key": "otp-2"}).status_code == 201
    before = state()
    response = ask(
        api_client, {**SMS_LOGIN, "recipient": "+447700900101"}, **{"Idempotency-Key": "otp-2"}
    )
    assert_problem(response, 409, "idempotency_key_reused")
    assert state() == before


def test_a_replayed_wrong_guess_counts_once(api_client: APIClient) -> None:
    ask(api_client)
    guess = wrong(last_sms_code())
    first = verify(api_client, guess, **{"Idempotency-Key": "g-1"})
    replay = verify(api_client, guess, **{"Idempotency-Key": "g-1"})
    assert replay[REPLAY_HEADER] == "true"
    assert replay.json() == first.json()
    assert replay["Content-Type"] == "application/problem+json"
    assert OneTimeCode.objects.get().attempts == 1


def test_a_replayed_cooldown_refusal_keeps_its_retry_after(api_client: APIClient) -> None:
    with time_machine.travel(START, tick=False):
        ask(api_client)
        first = ask(api_client, **{"Idempotency-Key": "cd-1"})
        replay = ask(api_client, **{"Idempotency-Key": "cd-1"})
    assert_problem(first, 429, "otp_cooldown")
    assert replay[REPLAY_HEADER] == "true"
    assert_retry_after(replay, 60)


def test_a_replayed_verification_answers_the_same(api_client: APIClient) -> None:
    ask(api_client)
    first = verify(api_client, last_sms_code(), **{"Idempotency-Key": "ok-1"})
    replay = verify(api_client, last_sms_code(), **{"Idempotency-Key": "ok-1"})
    assert first.status_code == replay.status_code == 200
    assert replay.json() == first.json()

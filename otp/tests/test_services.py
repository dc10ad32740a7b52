"""Asking for and checking one-time codes (OT-1, OT-2): hashing, expiry, attempts,
cooldown, hourly limits, the OTP switch, fallbacks, superseding and scoping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail

from communications.models import CommunicationLog, MessageStatus
from communications.services import release_deferred_messages, settings_update
from merchants.models import Merchant
from otp import hashing
from otp.exceptions import (
    OtpAttemptsExceeded,
    OtpCooldown,
    OtpDisabled,
    OtpExpired,
    OtpInvalid,
    OtpInvalidRecipient,
    OtpNotDelivered,
    OtpRateLimited,
)
from otp.models import OneTimeCode, OtpStatus
from otp.services import otp_expire_pending, otp_request, otp_verify
from otp.tests.helpers import EMAIL, PHONE, code_in, last_email_code, last_sms_code, state
from tests.factories import ApiKeyFactory, UserFactory

pytestmark = pytest.mark.django_db

START = datetime(2031, 3, 4, 10, 0, tzinfo=UTC)


def login_code(recipient: str = PHONE, channel: str = "sms", **kwargs):
    return otp_request(purpose="login", channel=channel, recipient=recipient, **kwargs)


def check(code: str, recipient: str = PHONE, purpose: str = "login", **kwargs):
    return otp_verify(purpose=purpose, recipient=recipient, code=code, **kwargs)


@pytest.fixture
def no_cooldown() -> None:
    settings_update(actor=None, otp_resend_cooldown_seconds=0)


# --- issuing ----------------------------------------------------------------------


def test_the_code_goes_in_the_message_and_only_its_keyed_hash_is_kept(
    sms_outbox, capsys, caplog
) -> None:
    settings_update(actor=None, otp_length=10)  # long enough not to turn up by chance
    issued = login_code()

    [message] = sms_outbox
    assert message.to == PHONE
    code = code_in(message.text)
    assert len(code) == 10
    row = OneTimeCode.objects.get()
    stored = [str(getattr(row, field.attname)) for field in OneTimeCode._meta.concrete_fields]
    assert not any(code in value for value in stored)
    assert row.code_hash == hashing.code_hash(purpose="login", public_id=row.public_id, code=code)
    assert (row.status, row.channel, row.recipient_masked) == ("pending", "sms", "+44*****23")
    assert PHONE not in stored
    assert issued.delivery_channel == "sms"
    assert issued.log.status == MessageStatus.QUEUED
    assert row.log_id == issued.log.pk
    # nowhere else either: not in the message log, not in any log line
    assert CommunicationLog.objects.get().payload == ""  # sent: the rendered text is gone
    captured = capsys.readouterr()
    assert code not in captured.out + captured.err + caplog.text


def test_the_same_code_for_two_rows_hashes_differently() -> None:
    first = hashing.code_hash(purpose="login", public_id="otp_a", code="123456")
    assert first != hashing.code_hash(purpose="login", public_id="otp_b", code="123456")
    assert first != hashing.code_hash(purpose="sensitive_action", public_id="otp_a", code="123456")


def test_the_expiry_length_and_attempts_come_from_the_settings_record() -> None:
    settings_update(actor=None, otp_expiry_minutes=3, otp_length=8, otp_max_attempts=2)
    with time_machine.travel(START, tick=False):
        issued = login_code()
    assert issued.otp.expires_at == START + timedelta(minutes=3)
    assert issued.otp.max_attempts == 2
    assert len(last_sms_code()) == 8


def test_a_recipient_that_does_not_fit_the_channel_is_refused_and_nothing_happens() -> None:
    before = state()
    with pytest.raises(OtpInvalidRecipient):
        login_code(recipient=EMAIL, channel="sms")
    with pytest.raises(OtpInvalidRecipient):
        login_code(recipient="07700 900123")  # not international
    assert state() == before


# --- checking ---------------------------------------------------------------------


def test_the_right_code_works_once() -> None:
    login_code()
    code = last_sms_code()

    verification = check(code)
    assert verification
    assert verification.otp is not None
    assert verification.otp.status == OtpStatus.VERIFIED
    assert verification.otp.verified_at is not None

    again = check(code)
    assert not again
    assert isinstance(again.error, OtpInvalid)
    assert "used already" in again.error.detail


def test_what_people_type_is_normalised(no_cooldown) -> None:
    login_code(recipient="+44 (7700) 900-123")
    code = last_sms_code()
    assert check(f"{code[:3]} {code[3:]}", recipient="0044 7700 900123")
    login_code(recipient="Ana@Example.COM", channel="email")
    assert check(last_email_code(), recipient="Ana@example.com")


def test_wrong_codes_count_down_then_the_code_fails_for_good() -> None:
    settings_update(actor=None, otp_max_attempts=3)
    login_code()
    code = last_sms_code()
    wrong = "000000" if code != "000000" else "111111"

    outcomes = [check(wrong).error for _ in range(4)]

    assert [type(e) for e in outcomes] == [
        OtpInvalid,
        OtpInvalid,
        OtpAttemptsExceeded,
        OtpAttemptsExceeded,
    ]
    assert [e.extra["attempts_remaining"] for e in outcomes if e] == [2, 1, 0, 0]
    assert "2 attempts left" in outcomes[0].detail
    assert "1 attempt left" in outcomes[1].detail
    otp = OneTimeCode.objects.get()
    assert (otp.status, otp.attempts) == (OtpStatus.FAILED, 3)
    # the right code is no use any more, and costs nothing
    refused = check(code)
    assert isinstance(refused.error, OtpAttemptsExceeded)
    otp.refresh_from_db()
    assert (otp.status, otp.attempts) == (OtpStatus.FAILED, 3)


def test_raise_if_refused_hands_back_the_code_or_raises_the_refusal() -> None:
    login_code()
    with pytest.raises(OtpInvalid):
        check("not-it").raise_if_refused()
    assert check(last_sms_code()).raise_if_refused().status == OtpStatus.VERIFIED


def test_a_code_expires_when_its_time_is_up() -> None:
    with time_machine.travel(START, tick=False):
        login_code()
        code = last_sms_code()
    with time_machine.travel(START + timedelta(minutes=10), tick=False):
        refused = check(code)
    assert isinstance(refused.error, OtpExpired)
    assert refused.error.status == 422
    otp = OneTimeCode.objects.get()
    assert (otp.status, otp.attempts, otp.verified_at) == (OtpStatus.EXPIRED, 0, None)
    with time_machine.travel(START + timedelta(minutes=5), tick=False):
        assert isinstance(check(code).error, OtpExpired)  # expired stays expired


def test_a_code_still_works_just_before_it_expires() -> None:
    with time_machine.travel(START, tick=False):
        login_code()
    with time_machine.travel(START + timedelta(minutes=9, seconds=59), tick=False):
        assert check(last_sms_code())


def test_no_code_waiting_is_an_invalid_code_and_records_nothing() -> None:
    before = state()
    refused = check("123456")
    assert isinstance(refused.error, OtpInvalid)
    assert refused.otp is None
    assert "attempts_remaining" not in refused.error.extra
    assert state() == before


def test_a_new_code_supersedes_the_earlier_one(no_cooldown) -> None:
    first = login_code()
    first_code = last_sms_code()
    second = login_code()
    second_code = last_sms_code()

    first.otp.refresh_from_db()
    assert first.otp.status == OtpStatus.SUPERSEDED
    if first_code != second_code:
        refused = check(first_code)
        assert isinstance(refused.error, OtpInvalid)
        assert refused.otp == second.otp  # checked against the newest code
    assert check(second_code).otp == second.otp


def test_codes_are_scoped_to_their_purpose() -> None:
    login_code()
    code = last_sms_code()

    refused = check(code, purpose="phone_verification")

    assert isinstance(refused.error, OtpInvalid)
    assert refused.otp is None
    otp = OneTimeCode.objects.get()
    assert (otp.status, otp.attempts) == (OtpStatus.PENDING, 0)
    assert not hashing.matches(
        purpose="phone_verification", public_id=otp.public_id, code=code, stored_hash=otp.code_hash
    )
    assert check(code, purpose="login")


def test_codes_are_scoped_to_their_merchant(merchant: Merchant, other_merchant: Merchant) -> None:
    login_code(merchant=merchant)
    code = last_sms_code()

    for outsider in (other_merchant, None):
        refused = check(code, merchant=outsider)
        assert isinstance(refused.error, OtpInvalid)
        assert refused.otp is None

    otp = OneTimeCode.objects.get()
    assert (otp.merchant, otp.status, otp.attempts) == (merchant, OtpStatus.PENDING, 0)
    assert check(code, merchant=merchant)


def test_codes_are_scoped_to_their_user(no_cooldown) -> None:
    ana, ben = UserFactory(), UserFactory()
    login_code(user=ana)
    code = last_sms_code()
    assert isinstance(check(code, user=ben).error, OtpInvalid)
    assert isinstance(check(code).error, OtpInvalid)
    assert OneTimeCode.objects.get().attempts == 0
    assert check(code, user=ana)


# --- the brakes -------------------------------------------------------------------


def test_the_cooldown_refuses_a_resend_then_allows_it(sms_outbox) -> None:
    with time_machine.travel(START, tick=False):
        first = login_code()
        before = state()
        with pytest.raises(OtpCooldown) as refused:
            login_code()
        assert refused.value.status == 429
        assert refused.value.retry_after == 60
        assert refused.value.extra["retry_after"] == 60
        assert state() == before
    with time_machine.travel(START + timedelta(seconds=45), tick=False):
        with pytest.raises(OtpCooldown) as refused:
            login_code()
        assert refused.value.retry_after == 15
    with time_machine.travel(START + timedelta(seconds=61), tick=False):
        login_code()
    assert len(sms_outbox) == 2
    first.otp.refresh_from_db()
    assert first.otp.status == OtpStatus.SUPERSEDED


def test_the_cooldown_is_per_purpose_and_per_merchant(merchant: Merchant) -> None:
    login_code()
    otp_request(purpose="phone_verification", channel="sms", recipient=PHONE)
    login_code(merchant=merchant)
    assert OneTimeCode.objects.filter(status=OtpStatus.PENDING).count() == 3


@pytest.mark.parametrize(
    ("limited_by", "vary"),
    [
        ("recipient", lambda n: {"recipient": PHONE, "ip": f"10.0.0.{n}"}),
        ("ip", lambda n: {"recipient": f"+4477009001{n:02d}", "ip": "10.0.0.1"}),
        ("user", lambda n: {"recipient": f"+4477009001{n:02d}", "ip": f"10.0.0.{n}"}),
    ],
)
def test_hourly_limits_refuse_with_rate_limited(no_cooldown, limited_by: str, vary) -> None:
    settings_update(actor=None, otp_rate_limit=2)
    user = UserFactory() if limited_by == "user" else None
    with time_machine.travel(START, tick=False):
        login_code(user=user, **vary(1))
        login_code(user=user, **vary(2))
        before = state()
        with pytest.raises(OtpRateLimited) as refused:
            login_code(user=user, **vary(3))
        assert state() == before
    assert refused.value.status == 429
    assert refused.value.extra["limited_by"] == limited_by
    who = {"recipient": "This recipient", "ip": "This IP address", "user": "This person"}
    assert refused.value.detail == (
        f"{who[limited_by]} reached its limit of 2 codes an hour. Try again in 60 minutes."
    )
    assert refused.value.retry_after == 3600  # the window ends on the hour
    with time_machine.travel(START + timedelta(hours=1), tick=False):
        login_code(user=user, **vary(3))  # a new hour
    assert OneTimeCode.objects.count() == 3


def test_with_an_api_key_requests_count_per_key_and_recipient_never_per_ip(
    no_cooldown, merchant: Merchant
) -> None:
    key = ApiKeyFactory(merchant=merchant, name="server").api_key
    settings_update(actor=None, otp_rate_limit=1, otp_api_key_hourly_limit=3)
    with time_machine.travel(START, tick=False):
        for n in range(3):  # one address, three recipients: the address is not counted
            login_code(
                recipient=f"+4477009001{n:02d}", merchant=merchant, api_key=key, ip="10.0.0.1"
            )
        before = state()
        with pytest.raises(OtpRateLimited) as refused:
            login_code(recipient="+447700900199", merchant=merchant, api_key=key, ip="10.0.0.9")
        assert state() == before
        assert refused.value.extra["limited_by"] == "api_key"
        assert refused.value.detail == (
            "This API key reached its limit of 3 codes an hour. Try again in 60 minutes."
        )
        # The recipient's own limit still holds for the key's merchant.
        other = ApiKeyFactory(merchant=merchant, name="other").api_key
        with pytest.raises(OtpRateLimited) as again:
            login_code(recipient="+447700900100", merchant=merchant, api_key=other)
        assert again.value.extra["limited_by"] == "recipient"


def test_a_refused_request_uses_up_nothing(no_cooldown) -> None:
    settings_update(actor=None, otp_rate_limit=2)
    with time_machine.travel(START, tick=False):
        login_code(recipient="+447700900101", ip="10.0.0.1")
        login_code(recipient="+447700900102", ip="10.0.0.1")
        with pytest.raises(OtpRateLimited):
            login_code(recipient=PHONE, ip="10.0.0.1")  # over the address's limit
        # had PHONE been counted, the second of these would be over its limit
        login_code(recipient=PHONE, ip="10.0.0.2")
        login_code(recipient=PHONE, ip="10.0.0.3")
    assert OneTimeCode.objects.count() == 4


def test_merchants_do_not_share_recipient_limits(
    no_cooldown, merchant: Merchant, other_merchant: Merchant
) -> None:
    settings_update(actor=None, otp_rate_limit=1)
    login_code(merchant=merchant)
    with pytest.raises(OtpRateLimited):
        login_code(merchant=merchant)
    login_code(merchant=other_merchant)


# --- the switch, the channels and the send path ------------------------------------


def test_with_the_otp_switch_off_nothing_is_issued_or_sent_and_the_log_says_why(
    sms_outbox,
) -> None:
    settings_update(actor=None, otp_enabled=False)
    with pytest.raises(OtpDisabled) as refused:
        login_code()
    assert refused.value.status == 503
    assert OneTimeCode.objects.count() == 0
    assert sms_outbox == []
    assert mail.outbox == []
    # Inside a transaction the log row waits for the rollback, so it is kept.
    assert CommunicationLog.objects.count() == 0
    refused.value.run_after_rollback()
    log = CommunicationLog.objects.get()
    assert (log.event, log.status, log.reason) == (
        "otp_code",
        "suppressed",
        "one-time codes are switched off",
    )
    settings_update(actor=None, otp_enabled=True)
    login_code()  # no cooldown was claimed by the refusal


def test_a_code_sent_before_the_switch_went_off_can_still_be_checked() -> None:
    login_code()
    settings_update(actor=None, otp_enabled=False)
    assert check(last_sms_code())


def test_with_sms_off_a_users_code_goes_by_email(sms_outbox) -> None:
    settings_update(actor=None, sms_enabled=False, sms_fallback="email")
    ana = UserFactory(email=EMAIL)

    issued = login_code(user=ana)

    assert issued.delivery_channel == "email"
    assert issued.otp.channel == "sms"  # as asked
    assert sms_outbox == []
    [message] = mail.outbox
    assert message.to == [EMAIL]
    assert check(code_in(message.body), user=ana)


def test_with_sms_off_and_no_fallback_address_the_code_is_not_delivered(sms_outbox) -> None:
    login_code(ip="10.0.0.1")
    earlier = last_sms_code()
    settings_update(actor=None, sms_enabled=False, sms_fallback="email", otp_rate_limit=100)

    with time_machine.travel(datetime.now(UTC) + timedelta(minutes=2)):
        with pytest.raises(OtpNotDelivered) as refused:
            login_code()  # no user, so no email address to fall back to
        assert refused.value.status == 503
        assert refused.value.extra["delivery_status"] == MessageStatus.SUPPRESSED
        assert "no email address" in refused.value.extra["reason"]
        assert "retry_after" not in refused.value.extra
        # kept, so the message log says why, and the earlier code is still the one
        undelivered = OneTimeCode.objects.get(status=OtpStatus.UNDELIVERED)
        assert undelivered.log is not None
        assert undelivered.log.status == MessageStatus.SUPPRESSED
        assert len(sms_outbox) == 1
        assert check(earlier)
        settings_update(actor=None, sms_enabled=True)
        login_code()  # the undelivered code left no cooldown behind
    assert len(sms_outbox) == 2


def test_a_message_the_send_path_rate_limits_is_not_delivered_and_says_when(
    no_cooldown, sms_outbox
) -> None:
    settings_update(actor=None, per_recipient_hourly_limit=1)
    with time_machine.travel(START, tick=False):
        login_code()
        earlier = last_sms_code()
        with pytest.raises(OtpNotDelivered) as refused:
            login_code()
    assert refused.value.extra["delivery_status"] == MessageStatus.RATE_LIMITED
    assert refused.value.extra["retry_after"] == 3600
    assert len(sms_outbox) == 1
    with time_machine.travel(START, tick=False):
        assert check(earlier)


def test_a_code_held_back_by_its_merchants_hourly_volume_works_when_it_arrives(
    no_cooldown, merchant: Merchant, sms_outbox
) -> None:
    settings_update(actor=None, sms_merchant_hourly_limit=1)
    with time_machine.travel(START + timedelta(minutes=50), tick=False):
        login_code(recipient="+447700900101", merchant=merchant)
        issued = login_code(merchant=merchant)
    assert issued.log.status == MessageStatus.QUEUED
    assert issued.log.deferred_until == START + timedelta(hours=1)
    assert issued.otp.status == OtpStatus.PENDING
    # good for its full ten minutes from when the message can go
    assert issued.otp.expires_at == START + timedelta(hours=1, minutes=10)
    assert len(sms_outbox) == 1
    with time_machine.travel(START + timedelta(hours=1, minutes=8), tick=False):
        assert release_deferred_messages() == 1
        assert check(last_sms_code(), merchant=merchant)


# --- housekeeping -----------------------------------------------------------------


def test_expire_pending_marks_only_pending_codes_past_their_expiry(no_cooldown) -> None:
    with time_machine.travel(START, tick=False):
        old = login_code(recipient="+447700900101")
        used = login_code(recipient="+447700900102")
        assert check(last_sms_code(), recipient="+447700900102")
    with time_machine.travel(START + timedelta(minutes=8), tick=False):
        live = login_code(recipient="+447700900103")
    with time_machine.travel(START + timedelta(minutes=11), tick=False):
        assert otp_expire_pending() == 1
        assert otp_expire_pending() == 0  # idempotent
    statuses = {
        otp.pk: otp.status
        for otp in OneTimeCode.objects.filter(pk__in=[old.otp.pk, used.otp.pk, live.otp.pk])
    }
    assert statuses == {
        old.otp.pk: OtpStatus.EXPIRED,
        used.otp.pk: OtpStatus.VERIFIED,
        live.otp.pk: OtpStatus.PENDING,
    }

"""Provider delivery callbacks update the log (CM-8): Twilio's signed status callback and
an email provider's tracking webhook through django-anymail (Postmark's payloads)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest
from django.test import Client
from twilio.request_validator import RequestValidator

from communications.models import CommunicationLog, Event, MessageStatus
from communications.services import Recipient, send

pytestmark = pytest.mark.django_db

TOKEN = "0123456789abcdef0123456789abcdef"
SITE = "https://gifts.example.com"
TWILIO_PATH = "/hooks/twilio/status/"
SID = "SM1f0e8ae6ade43cb3c0ce4525424e404f"
ACCOUNT = "AC7b3bd0f3c0d9d7b2e4f1e1c8f6b6a9d1"
HOOK_SECRET = "giftwell-hooks:4d3f9c7b1a2e8f60"
POSTMARK_PATH = "/hooks/anymail/postmark/tracking/"
POSTMARK_ID = "883953f4-6105-42a2-a16a-77a8eac79483"
SMS_TEST = {"channel": "sms", "sent_at": "5 Mar 2026 16:30"}
EMAIL_TEST = {"channel": "email", "sent_at": "5 Mar 2026 16:30"}


@pytest.fixture
def twilio_settings(settings):
    settings.TWILIO_AUTH_TOKEN = TOKEN
    settings.SITE_URL = SITE
    return settings


@pytest.fixture
def sms_log() -> CommunicationLog:
    """A text message Twilio accepted (the provider id is Twilio's message SID)."""
    [log] = send(Event.TEST_MESSAGE, Recipient(phone="+447700900123"), SMS_TEST, channels=["sms"])
    CommunicationLog.objects.filter(pk=log.pk).update(provider="twilio", provider_message_id=SID)
    log.refresh_from_db()
    assert log.status == MessageStatus.SENT
    return log


def twilio_payload(status: str, **extra: str) -> dict[str, str]:
    """The form Twilio posts to a message's StatusCallback."""
    return {
        "AccountSid": ACCOUNT,
        "ApiVersion": "2010-04-01",
        "From": "+15017122661",
        "MessageSid": SID,
        "MessageStatus": status,
        "MessagingServiceSid": "MG9752274e9e519418a7406176694466fa",
        "SmsSid": SID,
        "SmsStatus": status,
        "To": "+447700900123",
        **extra,
    }


def post_twilio(
    client: Client, params: dict[str, str], *, signature: str | None = "sign", **headers: str
):
    if signature == "sign":
        signature = RequestValidator(TOKEN).compute_signature(SITE + TWILIO_PATH, params)
    if signature is not None:
        headers["HTTP_X_TWILIO_SIGNATURE"] = signature
    return client.post(TWILIO_PATH, params, **headers)


def test_twilio_delivered_moves_the_log_and_records_the_cost(
    client: Client, twilio_settings, sms_log: CommunicationLog
) -> None:
    params = twilio_payload("delivered", Price="-0.00750", PriceUnit="USD")
    response = post_twilio(client, params)
    assert response.status_code == 204
    sms_log.refresh_from_db()
    assert sms_log.status == MessageStatus.DELIVERED
    assert (sms_log.cost, sms_log.cost_currency) == (1, "USD")  # 0.75 cents, rounded up
    assert sms_log.delivered_at is not None


def test_twilio_undelivered_fails_the_log_with_the_reason(
    client: Client, twilio_settings, sms_log: CommunicationLog
) -> None:
    params = twilio_payload("undelivered", ErrorCode="30003", Price="-0.00750", PriceUnit="USD")
    assert post_twilio(client, params).status_code == 204
    sms_log.refresh_from_db()
    assert sms_log.status == MessageStatus.FAILED
    assert sms_log.error == "Twilio: undelivered (error 30003): unreachable destination handset"
    assert sms_log.failed_at is not None


@pytest.mark.parametrize(
    "signature",
    [
        None,  # no signature header at all
        "",
        "dGhpcyBpcyBub3QgYSBzaWduYXR1cmU=",
        # signed with another token
        RequestValidator("f" * 32).compute_signature(
            SITE + TWILIO_PATH, twilio_payload("delivered", Price="-0.00750", PriceUnit="USD")
        ),
        # signed for another URL (what a request straight to the app server looks like)
        RequestValidator(TOKEN).compute_signature(
            "http://testserver" + TWILIO_PATH,
            twilio_payload("delivered", Price="-0.00750", PriceUnit="USD"),
        ),
    ],
)
def test_twilio_callback_without_a_valid_signature_is_refused(
    client: Client, twilio_settings, sms_log: CommunicationLog, signature: str | None
) -> None:
    params = twilio_payload("delivered", Price="-0.00750", PriceUnit="USD")
    response = post_twilio(client, params, signature=signature)
    assert response.status_code == 403
    sms_log.refresh_from_db()
    assert (sms_log.status, sms_log.cost, sms_log.delivered_at) == (MessageStatus.SENT, None, None)


def test_twilio_callback_signed_for_changed_parameters_is_refused(
    client: Client, twilio_settings, sms_log: CommunicationLog
) -> None:
    signed = twilio_payload("delivered")
    signature = RequestValidator(TOKEN).compute_signature(SITE + TWILIO_PATH, signed)
    tampered = {**signed, "MessageStatus": "undelivered", "ErrorCode": "30003"}
    assert post_twilio(client, tampered, signature=signature).status_code == 403
    sms_log.refresh_from_db()
    assert sms_log.status == MessageStatus.SENT


def test_twilio_callback_is_refused_while_no_token_is_configured(
    client: Client, twilio_settings, sms_log: CommunicationLog
) -> None:
    params = twilio_payload("delivered")
    signature = RequestValidator("").compute_signature(SITE + TWILIO_PATH, params)
    twilio_settings.TWILIO_AUTH_TOKEN = ""
    assert post_twilio(client, params, signature=signature).status_code == 403
    sms_log.refresh_from_db()
    assert sms_log.status == MessageStatus.SENT


def test_a_replayed_twilio_callback_changes_nothing_more(
    client: Client, twilio_settings, sms_log: CommunicationLog
) -> None:
    params = twilio_payload("delivered", Price="-0.00750", PriceUnit="USD")
    assert post_twilio(client, params).status_code == 204
    sms_log.refresh_from_db()
    first = (sms_log.status, sms_log.delivered_at, sms_log.cost, sms_log.updated_at)

    assert post_twilio(client, params).status_code == 204
    sms_log.refresh_from_db()
    assert (sms_log.status, sms_log.delivered_at, sms_log.cost, sms_log.updated_at) == first


def test_twilio_progress_statuses_record_nothing(
    client: Client, twilio_settings, sms_log: CommunicationLog
) -> None:
    for status in ("queued", "sending", "sent"):
        assert post_twilio(client, twilio_payload(status)).status_code == 204
    sms_log.refresh_from_db()
    assert (sms_log.status, sms_log.delivered_at) == (MessageStatus.SENT, None)


def test_twilio_callback_for_a_message_we_did_not_send_changes_nothing(
    client: Client, twilio_settings, sms_log: CommunicationLog
) -> None:
    params = {**twilio_payload("delivered"), "MessageSid": "SM" + "0" * 32, "SmsSid": ""}
    assert post_twilio(client, params).status_code == 204
    sms_log.refresh_from_db()
    assert sms_log.status == MessageStatus.SENT


# --- Email provider webhooks (django-anymail, Postmark) --------------------------------


@pytest.fixture
def anymail_settings(settings):
    settings.ANYMAIL_TRACKING_ESP = "postmark"
    settings.ANYMAIL = {"WEBHOOK_SECRET": [HOOK_SECRET]}
    return settings


@pytest.fixture
def email_log() -> CommunicationLog:
    """An email the provider accepted (the provider id is Postmark's MessageID)."""
    [log] = send(Event.TEST_MESSAGE, Recipient(email="ana@example.com"), EMAIL_TEST)
    CommunicationLog.objects.filter(pk=log.pk).update(
        provider="postmark", provider_message_id=POSTMARK_ID
    )
    log.refresh_from_db()
    assert log.status == MessageStatus.SENT
    return log


def postmark_delivery() -> dict[str, object]:
    return {
        "RecordType": "Delivery",
        "ServerID": 23,
        "MessageStream": "outbound",
        "MessageID": POSTMARK_ID,
        "Recipient": "ana@example.com",
        "Tag": "",
        "DeliveredAt": "2026-03-05T16:33:54.9070259Z",
        "Details": "smtp;250 2.0.0 OK 1583425834 y5si1278458qtb.200 - gsmtp",
        "Metadata": {"log_id": "1"},
    }


def postmark_bounce() -> dict[str, object]:
    return {
        "RecordType": "Bounce",
        "MessageStream": "outbound",
        "ID": 4323372036854775807,
        "Type": "HardBounce",
        "TypeCode": 1,
        "Name": "Hard bounce",
        "Tag": "",
        "MessageID": POSTMARK_ID,
        "Metadata": {"log_id": "1"},
        "ServerID": 23,
        "Description": "The server was unable to deliver your message (ex: unknown user, "
        "mailbox not found).",
        "Details": "smtp;550 5.1.1 The email account that you tried to reach does not exist.",
        "Email": "ana@example.com",
        "From": "no-reply@gifts.example.com",
        "BouncedAt": "2026-03-05T16:34:01.0000000Z",
        "DumpAvailable": True,
        "Inactive": True,
        "CanActivate": True,
        "Subject": "Giftwell test message",
    }


def basic_auth(credentials: str) -> str:
    return "Basic " + base64.b64encode(credentials.encode()).decode()


def post_postmark(client: Client, payload: dict[str, object], *, auth: str | None, path=None):
    headers = {"HTTP_AUTHORIZATION": basic_auth(auth)} if auth is not None else {}
    return client.post(
        path or POSTMARK_PATH, json.dumps(payload), content_type="application/json", **headers
    )


def test_postmark_delivery_moves_the_log_to_delivered(
    client: Client, anymail_settings, email_log: CommunicationLog
) -> None:
    response = post_postmark(client, postmark_delivery(), auth=HOOK_SECRET)
    assert response.status_code == 200
    email_log.refresh_from_db()
    assert email_log.status == MessageStatus.DELIVERED
    assert email_log.delivered_at == datetime(2026, 3, 5, 16, 33, 54, 907025, tzinfo=UTC)


def test_postmark_bounce_fails_the_log_with_the_reason(
    client: Client, anymail_settings, email_log: CommunicationLog
) -> None:
    assert post_postmark(client, postmark_bounce(), auth=HOOK_SECRET).status_code == 200
    email_log.refresh_from_db()
    assert email_log.status == MessageStatus.FAILED
    assert email_log.error.startswith("Postmark: bounced: The server was unable to deliver")
    assert "550 5.1.1" in email_log.error


def test_a_replayed_postmark_event_changes_nothing_more(
    client: Client, anymail_settings, email_log: CommunicationLog
) -> None:
    post_postmark(client, postmark_delivery(), auth=HOOK_SECRET)
    email_log.refresh_from_db()
    first = (email_log.status, email_log.delivered_at, email_log.updated_at)
    assert post_postmark(client, postmark_delivery(), auth=HOOK_SECRET).status_code == 200
    email_log.refresh_from_db()
    assert (email_log.status, email_log.delivered_at, email_log.updated_at) == first


def test_postmark_engagement_events_are_not_outcomes(
    client: Client, anymail_settings, email_log: CommunicationLog
) -> None:
    opened = {
        "RecordType": "Open",
        "MessageID": POSTMARK_ID,
        "Recipient": "ana@example.com",
        "ReceivedAt": "2026-03-05T16:40:00Z",
        "Metadata": {},
    }
    assert post_postmark(client, opened, auth=HOOK_SECRET).status_code == 200
    email_log.refresh_from_db()
    assert email_log.status == MessageStatus.SENT


@pytest.mark.parametrize(
    "auth", [None, "giftwell-hooks:wrong-password", "someone:4d3f9c7b1a2e8f60"]
)
def test_postmark_webhook_without_the_right_basic_auth_is_refused(
    client: Client, anymail_settings, email_log: CommunicationLog, auth: str | None
) -> None:
    response = post_postmark(client, postmark_bounce(), auth=auth)
    assert response.status_code == 400
    email_log.refresh_from_db()
    assert (email_log.status, email_log.error, email_log.failed_at) == ("sent", "", None)


def test_postmark_webhook_is_refused_while_no_secret_is_configured(
    client: Client, anymail_settings, email_log: CommunicationLog
) -> None:
    anymail_settings.ANYMAIL = {"WEBHOOK_SECRET": []}
    with pytest.warns(Warning, match="insecure"):
        response = post_postmark(client, postmark_delivery(), auth=HOOK_SECRET)
    assert response.status_code == 400
    email_log.refresh_from_db()
    assert email_log.status == MessageStatus.SENT


def test_another_providers_webhook_path_is_not_found(
    client: Client, anymail_settings, email_log: CommunicationLog
) -> None:
    for esp in ("sendgrid", "mailgun", "no-such-esp"):
        path = f"/hooks/anymail/{esp}/tracking/"
        response = post_postmark(client, postmark_delivery(), auth=HOOK_SECRET, path=path)
        assert response.status_code == 404
    email_log.refresh_from_db()
    assert email_log.status == MessageStatus.SENT


def test_twilio_callback_signed_by_a_webhook_rule_shared_key(
    client: Client, twilio_settings, sms_log: CommunicationLog
) -> None:
    shared = "webhooks-shared-key-secret-0123456789"
    twilio_settings.TWILIO_WEBHOOK_SHARED_KEY_SECRET = shared
    params = twilio_payload("delivered", Price="-0.00750", PriceUnit="USD")
    rule = "key=webhooks_sharedkey_1,algorithm=HMAC_SHA256"
    settings_header = {"HTTP_X_TWILIO_WEBHOOKS_SIGNATURE_SETTINGS": rule}
    forged = RequestValidator(TOKEN).compute_signature(SITE + TWILIO_PATH, params)
    response = post_twilio(client, params, signature=forged, **settings_header)
    assert response.status_code == 403  # the auth token's signature is not the rule's

    signature = RequestValidator(shared).compute_signature(
        SITE + TWILIO_PATH, params, algorithm="HMAC_SHA256"
    )
    assert post_twilio(client, params, signature=signature, **settings_header).status_code == 204
    sms_log.refresh_from_db()
    assert sms_log.status == MessageStatus.DELIVERED

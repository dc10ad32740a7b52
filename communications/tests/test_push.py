"""Web Push end to end (CM-8): a browser subscribes, a push message reaches every device of
the person, and a device that unsubscribed is forgotten."""

from __future__ import annotations

import base64
import json
import os
import secrets
from types import SimpleNamespace

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.test import Client
from pywebpush import WebPushException

from accounts.models import User
from communications.backends import reset_backends
from communications.backends.push import InMemoryPushBackend
from communications.models import CommunicationLog, Event, MessageStatus, PushSubscription
from communications.push import push_subscription_save
from communications.services import Recipient, send, settings_update
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

SUBSCRIBE = "/hooks/push/subscribe/"
VAPID_KEY = "/hooks/push/vapid-public-key/"
TEST_PUSH = {"channel": "push", "sent_at": "5 Mar 2026 16:30"}


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def browser_subscription(host: str = "fcm.googleapis.com", *, scheme: str = "https") -> dict:
    """What ``PushSubscription.toJSON()`` gives in a browser: a fresh P-256 key pair and a
    16-byte auth secret, as base64url."""
    public = ec.generate_private_key(ec.SECP256R1()).public_key()
    point = public.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return {
        "endpoint": f"{scheme}://{host}/fcm/send/{secrets.token_urlsafe(24)}:{secrets.token_urlsafe(90)}",
        "expirationTime": None,
        "keys": {"p256dh": b64url(point), "auth": b64url(os.urandom(16))},
    }


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def post_json(client: Client, body: object):
    return client.post(SUBSCRIBE, json.dumps(body), content_type="application/json")


def test_a_valid_browser_subscription_is_stored(user: User) -> None:
    subscription = browser_subscription()
    response = signed_in(user).post(
        SUBSCRIBE,
        json.dumps(subscription),
        content_type="application/json",
        HTTP_USER_AGENT="Mozilla/5.0 (Android 14) Chrome/124.0",
    )
    assert response.status_code == 201
    stored = PushSubscription.objects.get()
    assert response.json() == {"id": stored.pk}
    assert (stored.user, stored.endpoint) == (user, subscription["endpoint"])
    assert (stored.p256dh, stored.auth) == (
        subscription["keys"]["p256dh"],
        subscription["keys"]["auth"],
    )
    assert "Chrome" in stored.user_agent


def test_subscribing_the_same_browser_again_refreshes_it(user: User) -> None:
    client = signed_in(user)
    subscription = browser_subscription()
    assert post_json(client, subscription).status_code == 201
    subscription["keys"]["auth"] = b64url(os.urandom(16))
    assert post_json(client, subscription).status_code == 201
    assert PushSubscription.objects.get().auth == subscription["keys"]["auth"]


def _with(subscription: dict, **changes: object) -> dict:
    keys = {**subscription["keys"], **changes.pop("keys", {})}  # type: ignore[dict-item]
    return {**subscription, **changes, "keys": keys}


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (browser_subscription("push.evil.example"), "not a push service we deliver to"),
        (browser_subscription("127.0.0.1"), "not a push service we deliver to"),
        (browser_subscription("fcm.googleapis.com.evil.example"), "not a push service"),
        (browser_subscription(scheme="http"), "must be an https URL"),
        (
            _with(browser_subscription(), endpoint="https://fcm.googleapis.com:8443/fcm/send/x"),
            "not a push service",
        ),
        (
            _with(browser_subscription(), keys={"p256dh": b64url(b"\x04" + b"\x01" * 64)}),
            "not a P-256 public key",
        ),
        (_with(browser_subscription(), keys={"p256dh": "not base64!"}), "p256dh"),
        (_with(browser_subscription(), keys={"auth": b64url(os.urandom(8))}), "16 bytes"),
        ({"endpoint": "https://fcm.googleapis.com/fcm/send/x"}, "no keys"),
        ("just a string", "JSON object"),
        (None, "JSON object"),
    ],
)
def test_an_invalid_subscription_is_refused_and_nothing_is_stored(
    user: User, body: object, detail: str
) -> None:
    response = post_json(signed_in(user), body)
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 400
    assert detail in problem["detail"]
    assert not PushSubscription.objects.exists()


def test_a_body_that_is_not_json_is_refused(user: User) -> None:
    response = signed_in(user).post(SUBSCRIBE, "{not json", content_type="application/json")
    assert response.status_code == 400
    assert not PushSubscription.objects.exists()


def test_subscribing_needs_a_signed_in_person(client: Client) -> None:
    response = post_json(client, browser_subscription())
    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"
    assert not PushSubscription.objects.exists()


def test_delete_removes_only_the_persons_own_subscription(user: User) -> None:
    other = UserFactory()
    mine = push_subscription_save(user=user, subscription=browser_subscription())
    theirs = push_subscription_save(user=other, subscription=browser_subscription())
    client = signed_in(user)

    response = client.delete(
        SUBSCRIBE, json.dumps({"endpoint": theirs.endpoint}), content_type="application/json"
    )
    assert response.status_code == 404
    assert PushSubscription.objects.filter(pk=theirs.pk).exists()

    response = client.delete(
        SUBSCRIBE, json.dumps({"endpoint": mine.endpoint}), content_type="application/json"
    )
    assert response.status_code == 204
    assert list(PushSubscription.objects.values_list("pk", flat=True)) == [theirs.pk]


def test_delete_needs_a_signed_in_person(client: Client, user: User) -> None:
    mine = push_subscription_save(user=user, subscription=browser_subscription())
    response = client.delete(
        SUBSCRIBE, json.dumps({"endpoint": mine.endpoint}), content_type="application/json"
    )
    assert response.status_code == 401
    assert PushSubscription.objects.count() == 1


def test_the_vapid_key_endpoint_answers_503_while_no_key_is_set(client: Client, settings) -> None:
    settings.WEBPUSH_VAPID_PUBLIC_KEY = ""
    response = client.get(VAPID_KEY)
    assert response.status_code == 503
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["status"] == 503


def test_the_vapid_key_endpoint_gives_the_public_key(client: Client, settings) -> None:
    key = b64url(b"\x04" + os.urandom(64))
    settings.WEBPUSH_VAPID_PUBLIC_KEY = key
    response = client.get(VAPID_KEY)
    assert response.status_code == 200
    assert response.json() == {"publicKey": key}


# --- Sending ---------------------------------------------------------------------------


def test_a_push_message_goes_to_every_device_of_the_person(user: User) -> None:
    settings_update(actor=None, push_enabled=True)
    phone = push_subscription_save(user=user, subscription=browser_subscription())
    laptop = push_subscription_save(
        user=user, subscription=browser_subscription("updates.push.services.mozilla.com")
    )
    push_subscription_save(user=UserFactory(), subscription=browser_subscription())

    [log] = send(Event.TEST_MESSAGE, Recipient.for_user(user), TEST_PUSH, channels=["push"])
    log.refresh_from_db()
    assert (log.channel, log.status, log.recipient_masked) == ("push", "sent", "device")
    [message] = InMemoryPushBackend.outbox
    assert "test push message" in message.text
    targets = json.loads(message.to)
    assert {target["endpoint"] for target in targets} == {phone.endpoint, laptop.endpoint}
    assert all(set(target["keys"]) == {"p256dh", "auth"} for target in targets)


def test_push_to_a_person_without_devices_is_logged_not_sent(user: User) -> None:
    settings_update(actor=None, push_enabled=True, push_fallback="")
    [log] = send(Event.TEST_MESSAGE, Recipient.for_user(user), TEST_PUSH, channels=["push"])
    assert (log.status, log.reason) == ("suppressed", "no push address for this recipient")
    assert InMemoryPushBackend.outbox == []


def test_push_switched_off_sends_nothing(user: User) -> None:
    settings_update(actor=None, push_enabled=False, push_fallback="")
    push_subscription_save(user=user, subscription=browser_subscription())
    [log] = send(Event.TEST_MESSAGE, Recipient.for_user(user), TEST_PUSH, channels=["push"])
    assert log.status == "suppressed"
    assert InMemoryPushBackend.outbox == []


# --- The Web Push backend --------------------------------------------------------------


@pytest.fixture
def webpush_backend(settings):
    settings.COMMUNICATIONS_BACKENDS = {
        **settings.COMMUNICATIONS_BACKENDS,
        "push": "communications.backends.push.WebPushBackend",
    }
    private = ec.generate_private_key(ec.SECP256R1())
    settings.WEBPUSH_VAPID_PRIVATE_KEY = b64url(
        private.private_numbers().private_value.to_bytes(32)
    )
    settings.WEBPUSH_VAPID_SUBJECT = "mailto:ops@gifts.example.com"
    reset_backends()
    settings_update(actor=None, push_enabled=True, push_fallback="")
    return settings


def push_service_answers(monkeypatch, answers: dict[str, int]) -> list[dict]:
    """Stand in for the push services' HTTP endpoints (pywebpush posts with ``requests``);
    the encryption and VAPID signing before it are pywebpush's real ones."""
    posted: list[dict] = []

    def post(url, data=None, headers=None, timeout=None, **kwargs):
        posted.append({"url": url, "data": data, "headers": headers})
        status = next(code for host, code in answers.items() if host in url)
        return SimpleNamespace(
            status_code=status,
            reason="",
            text="",
            headers={"location": f"{url}/messages/0:1712345"} if status < 300 else {},
        )

    monkeypatch.setattr("pywebpush.requests.post", post)
    return posted


def test_webpush_encrypts_signs_and_touches_the_subscription(
    webpush_backend, monkeypatch, user: User
) -> None:
    posted = push_service_answers(monkeypatch, {"fcm.googleapis.com": 201})
    device = push_subscription_save(user=user, subscription=browser_subscription())
    [log] = send(Event.TEST_MESSAGE, Recipient.for_user(user), TEST_PUSH, channels=["push"])
    log.refresh_from_db()
    assert (log.status, log.provider) == ("sent", "webpush")
    assert log.provider_message_id.startswith(device.endpoint)
    [request] = posted
    assert request["url"] == device.endpoint
    assert request["headers"]["content-encoding"] == "aes128gcm"
    assert request["headers"]["Authorization"].startswith("vapid t=")
    assert int(request["headers"]["ttl"]) > 0
    assert b"test push message" not in request["data"]  # encrypted for the device
    device.refresh_from_db()
    assert device.last_used_at is not None


def test_a_device_that_unsubscribed_is_forgotten_and_the_message_fails(
    webpush_backend, monkeypatch, user: User
) -> None:
    device = push_subscription_save(user=user, subscription=browser_subscription())

    def gone(**kwargs):
        raise WebPushException(
            "Push failed: 410 Gone", response=SimpleNamespace(status_code=410, text="")
        )

    monkeypatch.setattr("pywebpush.webpush", gone)
    [log] = send(Event.TEST_MESSAGE, Recipient.for_user(user), TEST_PUSH, channels=["push"])
    log.refresh_from_db()
    assert (log.status, log.attempts) == ("failed", 1)  # not retried: it cannot succeed
    assert log.error == "The device unsubscribed."
    assert not PushSubscription.objects.filter(pk=device.pk).exists()


def test_one_gone_device_does_not_stop_the_others(webpush_backend, monkeypatch, user: User) -> None:
    posted = push_service_answers(
        monkeypatch, {"fcm.googleapis.com": 404, "updates.push.services.mozilla.com": 201}
    )
    stale = push_subscription_save(user=user, subscription=browser_subscription())
    live = push_subscription_save(
        user=user, subscription=browser_subscription("updates.push.services.mozilla.com")
    )
    [log] = send(Event.TEST_MESSAGE, Recipient.for_user(user), TEST_PUSH, channels=["push"])
    log.refresh_from_db()
    assert log.status == "sent"
    assert len(posted) == 2
    assert list(PushSubscription.objects.values_list("pk", flat=True)) == [live.pk]
    assert not PushSubscription.objects.filter(pk=stale.pk).exists()


def test_a_push_service_in_trouble_is_retried_then_failed_and_keeps_the_device(
    webpush_backend, monkeypatch, user: User
) -> None:
    posted = push_service_answers(monkeypatch, {"fcm.googleapis.com": 503})
    monkeypatch.setattr("communications.tasks.backoff", lambda retries: 0)
    device = push_subscription_save(user=user, subscription=browser_subscription())
    [log] = send(Event.TEST_MESSAGE, Recipient.for_user(user), TEST_PUSH, channels=["push"])
    log.refresh_from_db()
    assert (log.status, log.attempts) == ("failed", 6)
    assert "503" in log.error
    assert len(posted) == 6
    assert PushSubscription.objects.filter(pk=device.pk).exists()


def test_webpush_without_a_vapid_key_fails_without_calling_anyone(
    webpush_backend, monkeypatch, user: User
) -> None:
    posted = push_service_answers(monkeypatch, {"fcm.googleapis.com": 201})
    webpush_backend.WEBPUSH_VAPID_PRIVATE_KEY = ""
    push_subscription_save(user=user, subscription=browser_subscription())
    [log] = send(Event.TEST_MESSAGE, Recipient.for_user(user), TEST_PUSH, channels=["push"])
    log.refresh_from_db()
    assert log.status == "failed"
    assert "not configured" in log.error
    assert posted == []
    assert CommunicationLog.objects.filter(status=MessageStatus.SENT).count() == 0

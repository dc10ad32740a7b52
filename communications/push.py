"""Web Push subscriptions: the browsers and devices a person allowed to show our messages.

Services (writes) and selectors (reads) for ``PushSubscription``. A browser's
``PushSubscription.toJSON()`` is validated before it is stored: the endpoint must be an
``https`` URL on one of ``WEBPUSH_ENDPOINT_HOSTS`` (the push services of the browsers we
support), so a stored subscription cannot make the server POST to an address of someone's
choosing, and the keys must be a real P-256 point and a 16-byte secret (RFC 8291), so
encryption cannot fail later on.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from communications.models import PushSubscription
from core.errors import ApplicationError

# Devices kept per person; subscribing one more forgets the oldest.
MAX_SUBSCRIPTIONS_PER_USER = 10
MAX_ENDPOINT_LENGTH = 2000


class InvalidPushSubscription(ApplicationError):
    code = "invalid_push_subscription"
    status = 400
    title = "Invalid push subscription"


@dataclass(frozen=True)
class SubscriptionInfo:
    endpoint: str
    p256dh: str
    auth: str

    def as_json(self) -> str:
        """The shape pywebpush (and the browser's ``toJSON()``) use."""
        return json.dumps(
            {"endpoint": self.endpoint, "keys": {"p256dh": self.p256dh, "auth": self.auth}}
        )


def _b64url_bytes(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def _allowed_host(host: str) -> bool:
    for allowed in settings.WEBPUSH_ENDPOINT_HOSTS:
        allowed = allowed.lower()
        if allowed.startswith("."):
            if host.endswith(allowed):
                return True
        elif host == allowed:
            return True
    return False


def _endpoint(raw: object) -> str:
    if not isinstance(raw, str) or not raw:
        raise InvalidPushSubscription("The subscription has no endpoint.")
    if len(raw) > MAX_ENDPOINT_LENGTH:
        raise InvalidPushSubscription("The endpoint is too long.")
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError as exc:
        raise InvalidPushSubscription("The endpoint is not a URL.") from exc
    host = (parts.hostname or "").lower()
    if parts.scheme != "https" or not host or parts.username or parts.password:
        raise InvalidPushSubscription("The endpoint must be an https URL.")
    if port not in (None, 443) or not _allowed_host(host):
        raise InvalidPushSubscription("The endpoint is not a push service we deliver to.")
    return raw


def _key(keys: Mapping[str, Any], name: str) -> tuple[str, bytes]:
    value = keys.get(name)
    if not isinstance(value, str) or not value or len(value) > 100:
        raise InvalidPushSubscription(f"The subscription has no {name} key.")
    try:
        return value, _b64url_bytes(value)
    except (binascii.Error, ValueError) as exc:
        raise InvalidPushSubscription(f"The {name} key is not base64url.") from exc


def subscription_parse(raw: object) -> SubscriptionInfo:
    """Validate a browser's ``PushSubscription`` JSON, or raise ``InvalidPushSubscription``."""
    if not isinstance(raw, Mapping):
        raise InvalidPushSubscription("Send the browser's PushSubscription as a JSON object.")
    endpoint = _endpoint(raw.get("endpoint"))
    keys = raw.get("keys")
    if not isinstance(keys, Mapping):
        raise InvalidPushSubscription("The subscription has no keys.")
    p256dh, p256dh_bytes = _key(keys, "p256dh")
    auth, auth_bytes = _key(keys, "auth")
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), p256dh_bytes)
    except ValueError as exc:
        raise InvalidPushSubscription("The p256dh key is not a P-256 public key.") from exc
    if len(auth_bytes) != 16:
        raise InvalidPushSubscription("The auth secret must be 16 bytes.")
    return SubscriptionInfo(endpoint=endpoint, p256dh=p256dh, auth=auth)


@transaction.atomic
def push_subscription_save(
    *, user: User, subscription: object, user_agent: str = ""
) -> PushSubscription:
    """Store (or refresh) the signed-in person's subscription for this browser.

    An endpoint belongs to one browser profile: when another person signs in on it and
    subscribes, the endpoint moves to them, so nobody keeps receiving the previous
    person's messages on a device they no longer use.
    """
    info = subscription_parse(subscription)
    saved, _ = PushSubscription.objects.update_or_create(
        endpoint=info.endpoint,
        defaults={
            "user": user,
            "p256dh": info.p256dh,
            "auth": info.auth,
            "user_agent": user_agent[:300],
        },
    )
    stale = PushSubscription.objects.filter(user=user).order_by("-created_at", "-id")[
        MAX_SUBSCRIPTIONS_PER_USER:
    ]
    PushSubscription.objects.filter(pk__in=list(stale.values_list("pk", flat=True))).delete()
    return saved


def push_subscription_remove(*, user: User, endpoint: str) -> bool:
    """The person turned notifications off in this browser. Only their own endpoint."""
    deleted, _ = PushSubscription.objects.filter(user=user, endpoint=endpoint).delete()
    return deleted > 0


def push_subscription_forget(*, endpoint: str) -> int:
    """The push service answered 404/410: the browser unsubscribed or the endpoint
    expired, and it will never come back (RFC 8030 section 7.3)."""
    if not endpoint:
        return 0
    deleted, _ = PushSubscription.objects.filter(endpoint=endpoint).delete()
    return deleted


def push_subscription_touch(*, endpoint: str) -> None:
    """A message reached the push service for this endpoint."""
    PushSubscription.objects.filter(endpoint=endpoint).update(last_used_at=timezone.now())


def push_subscriptions_for(*, user: User) -> tuple[str, ...]:
    """The person's subscriptions, newest first, as the JSON strings
    ``communications.services.Recipient(push_subscriptions=...)`` takes."""
    rows = PushSubscription.objects.filter(user=user).order_by("-created_at", "-id")
    return tuple(
        SubscriptionInfo(endpoint=row.endpoint, p256dh=row.p256dh, auth=row.auth).as_json()
        for row in rows
    )

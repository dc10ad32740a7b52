"""Web Push (VAPID) to a person's subscribed devices, and an in-memory outbox for tests."""

from __future__ import annotations

import json
import threading
import uuid
from typing import Any

from django.conf import settings

from communications.backends import OutgoingMessage, PermanentError, SentReceipt, TransientError

# How long a push service keeps a message for a device that is offline. With no TTL
# (pywebpush's default) a phone that is asleep never sees the message at all.
PUSH_TTL_SECONDS = 24 * 3600


class InMemoryPushBackend:
    outbox: list[OutgoingMessage] = []
    _lock = threading.Lock()

    def send(self, message: OutgoingMessage) -> SentReceipt:
        with self._lock:
            InMemoryPushBackend.outbox.append(message)
        return SentReceipt(provider="memory", message_id=f"mem_{uuid.uuid4().hex}")


def subscriptions_in(to: str) -> list[dict[str, Any]]:
    """The subscriptions a message is addressed to: one browser's ``PushSubscription``
    JSON, or a JSON list of them (every device of the person)."""
    try:
        parsed = json.loads(to)
    except ValueError as exc:
        raise PermanentError("The push subscription is not valid JSON.") from exc
    items = parsed if isinstance(parsed, list) else [parsed]
    subscriptions = [
        item for item in items if isinstance(item, dict) and isinstance(item.get("endpoint"), str)
    ]
    if not subscriptions:
        raise PermanentError("The message has no push subscription to go to.")
    return subscriptions


class WebPushBackend:
    """Sends the message to each subscription in ``message.to``.

    A push service answering 404 or 410 says the browser unsubscribed or the subscription
    expired for good (RFC 8030 section 7.3): that subscription is forgotten. The message
    counts as sent when at least one device's push service took it; it is not retried
    then, so no device shows it twice. When none took it, the error is transient (retried)
    unless every device is gone.
    """

    def send(self, message: OutgoingMessage) -> SentReceipt:
        from pywebpush import WebPushException, webpush

        from communications.push import push_subscription_forget, push_subscription_touch

        if not settings.WEBPUSH_VAPID_PRIVATE_KEY:
            raise PermanentError("Web Push is not configured (no VAPID private key).")
        data = json.dumps({"title": message.subject, "body": message.text})
        accepted: list[str] = []
        gone = 0
        errors: list[str] = []
        for subscription in subscriptions_in(message.to):
            endpoint = str(subscription["endpoint"])
            try:
                response = webpush(
                    subscription_info=subscription,
                    data=data,
                    vapid_private_key=settings.WEBPUSH_VAPID_PRIVATE_KEY,
                    # A new dict each time: pywebpush writes the endpoint's origin into it.
                    vapid_claims={"sub": settings.WEBPUSH_VAPID_SUBJECT},
                    timeout=10,
                    ttl=PUSH_TTL_SECONDS,
                )
            except WebPushException as exc:
                status = getattr(exc.response, "status_code", None)
                if status in (404, 410):
                    push_subscription_forget(endpoint=endpoint)
                    gone += 1
                else:
                    errors.append(f"push service answered {status or 'nothing'}")
                continue
            except OSError as exc:  # network trouble, timeouts (requests' errors too)
                errors.append(type(exc).__name__)
                continue
            push_subscription_touch(endpoint=endpoint)
            headers = getattr(response, "headers", None) or {}
            accepted.append(str(headers.get("location", "")))
        if accepted:
            return SentReceipt(provider="webpush", message_id=accepted[0][:200])
        if errors:
            raise TransientError("Web Push: " + "; ".join(errors))
        raise PermanentError(
            "The device unsubscribed." if gone == 1 else "Every device unsubscribed."
        )

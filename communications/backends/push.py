"""Web Push (VAPID) to a person's subscribed devices, and an in-memory outbox for tests."""

from __future__ import annotations

import json
import threading
import uuid

from django.conf import settings

from communications.backends import OutgoingMessage, PermanentError, SentReceipt, TransientError


class InMemoryPushBackend:
    outbox: list[OutgoingMessage] = []
    _lock = threading.Lock()

    def send(self, message: OutgoingMessage) -> SentReceipt:
        with self._lock:
            InMemoryPushBackend.outbox.append(message)
        return SentReceipt(provider="memory", message_id=f"mem_{uuid.uuid4().hex}")


class WebPushBackend:
    """``message.to`` is a subscription (JSON, as the browser's PushManager gives it)."""

    def send(self, message: OutgoingMessage) -> SentReceipt:
        from pywebpush import WebPushException, webpush

        try:
            subscription = json.loads(message.to)
        except ValueError as exc:
            raise PermanentError("The push subscription is not valid JSON.") from exc
        data = json.dumps({"title": message.subject, "body": message.text})
        try:
            response = webpush(
                subscription_info=subscription,
                data=data,
                vapid_private_key=settings.WEBPUSH_VAPID_PRIVATE_KEY,
                vapid_claims={"sub": settings.WEBPUSH_VAPID_SUBJECT},
                timeout=10,
            )
        except WebPushException as exc:
            status = getattr(exc.response, "status_code", None)
            if status in (404, 410):
                raise PermanentError("The device unsubscribed.") from exc
            raise TransientError(str(exc)) from exc
        except OSError as exc:
            raise TransientError(f"{type(exc).__name__}: {exc}") from exc
        return SentReceipt(
            provider="webpush", message_id=str(getattr(response, "headers", {}).get("location", ""))
        )

"""Text messages: Twilio in production, a console printer for local runs and an
in-memory outbox for tests."""

from __future__ import annotations

import sys
import threading
import uuid

from django.conf import settings
from django.urls import reverse

from communications.backends import OutgoingMessage, PermanentError, SentReceipt, TransientError
from core.site import site_url


class InMemorySMSBackend:
    """Keeps messages in ``outbox`` (tests read it, like ``django.core.mail.outbox``)."""

    outbox: list[OutgoingMessage] = []
    _lock = threading.Lock()

    def send(self, message: OutgoingMessage) -> SentReceipt:
        with self._lock:
            InMemorySMSBackend.outbox.append(message)
        return SentReceipt(provider="memory", message_id=f"mem_{uuid.uuid4().hex}")


class ConsoleSMSBackend:
    """Prints the message on the server's standard output, for the zero-setup run.

    Like Django's console email backend this shows codes in the terminal: it is for
    local development only, and the production profile does not use it.
    """

    def send(self, message: OutgoingMessage) -> SentReceipt:
        sys.stdout.write(f"\n--- SMS to {message.to} ---\n{message.text}\n---\n")
        sys.stdout.flush()
        return SentReceipt(provider="console", message_id=f"console_{uuid.uuid4().hex}")


class TwilioSMSBackend:
    """Twilio's Messages API through the official library. Twilio calls our status
    callback with the delivery outcome (signed; see ``communications.webhooks``)."""

    def __init__(self) -> None:
        from twilio.rest import Client

        self.client = Client(settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN)

    def send(self, message: OutgoingMessage) -> SentReceipt:
        from twilio.base.exceptions import TwilioException, TwilioRestException

        kwargs: dict[str, str] = {"to": message.to, "body": message.text}
        if settings.TWILIO_MESSAGING_SERVICE_SID:
            kwargs["messaging_service_sid"] = settings.TWILIO_MESSAGING_SERVICE_SID
        else:
            kwargs["from_"] = settings.TWILIO_FROM_NUMBER
        if site_url().startswith("https://"):
            kwargs["status_callback"] = site_url() + reverse("communications:twilio-status")
        try:
            sent = self.client.messages.create(**kwargs)
        except TwilioRestException as exc:
            if exc.status == 429 or exc.status >= 500:
                raise TransientError(f"Twilio {exc.status}: {exc.msg}") from exc
            raise PermanentError(f"Twilio {exc.status} ({exc.code}): {exc.msg}") from exc
        except (TwilioException, OSError) as exc:  # network trouble, timeouts
            raise TransientError(f"{type(exc).__name__}: {exc}") from exc
        return SentReceipt(provider="twilio", message_id=str(sent.sid))

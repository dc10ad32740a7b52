"""Email through Django's email backends (SMTP, or a provider through django-anymail),
named by ``COMMUNICATIONS_EMAIL_BACKEND``."""

from __future__ import annotations

import smtplib
import socket

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.message import make_msgid

from communications.backends import OutgoingMessage, PermanentError, SentReceipt, TransientError


def _is_transient(exc: Exception) -> bool:
    if isinstance(exc, smtplib.SMTPResponseException):
        return 400 <= exc.smtp_code < 500
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(400 <= code < 500 for code, _ in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPServerDisconnected | smtplib.SMTPConnectError):
        return True
    if isinstance(exc, socket.timeout | TimeoutError | ConnectionError | OSError):
        return True
    status = getattr(exc, "status_code", None)  # anymail's AnymailAPIError
    return status is None or status >= 500 or status == 429


class DjangoEmailBackend:
    def send(self, message: OutgoingMessage) -> SentReceipt:
        msgid = make_msgid(domain=settings.COMMUNICATIONS_MESSAGE_ID_DOMAIN)
        email = EmailMultiAlternatives(
            subject=message.subject,
            body=message.text,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[message.to],
            headers={"Message-ID": msgid},
            connection=get_connection(
                backend=settings.COMMUNICATIONS_EMAIL_BACKEND, fail_silently=False
            ),
        )
        if message.html:
            email.attach_alternative(message.html, "text/html")
        if message.log_id is not None:
            email.extra_headers["X-Giftwell-Log"] = str(message.log_id)
            # anymail: tags and metadata come back in its tracking webhooks
            email.metadata = {"log_id": str(message.log_id)}  # type: ignore[attr-defined]
        try:
            email.send()
        except Exception as exc:
            if _is_transient(exc):
                raise TransientError(f"{type(exc).__name__}: {exc}") from exc
            raise PermanentError(f"{type(exc).__name__}: {exc}") from exc
        status = getattr(email, "anymail_status", None)
        provider_id = getattr(status, "message_id", None) if status is not None else None
        return SentReceipt(
            provider=settings.COMMUNICATIONS_EMAIL_BACKEND.rsplit(".", 1)[-1],
            message_id=str(provider_id or msgid.strip("<>")),
        )

"""Email through Django's email backends (SMTP, or a provider through django-anymail),
named by ``COMMUNICATIONS_EMAIL_BACKEND``.

Inline images travel in the message itself, as mail clients block ``data:`` URIs and
remote images: each is a part with ``Content-ID: <id>`` and ``Content-Disposition:
inline``, in a multipart/related container with the HTML that shows it::

    multipart/alternative
        text/plain
        multipart/related
            text/html           <img src="cid:card-qr">
            image/png           Content-ID: <card-qr>
"""

from __future__ import annotations

import smtplib
import socket
from collections.abc import Mapping
from email.mime.base import MIMEBase
from email.mime.image import MIMEImage
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.message import SafeMIMEMultipart, make_msgid
from django.utils.crypto import salted_hmac

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


def inline_image_part(content_id: str, data: bytes) -> MIMEImage:
    part = MIMEImage(data, _subtype="png")
    part["Content-ID"] = f"<{content_id}>"
    part.add_header("Content-Disposition", "inline", filename=f"{content_id}.png")
    return part


class RelatedEmail(EmailMultiAlternatives):
    """An email whose HTML alternative shows inline images.

    The image parts are the message's ``attachments``, which is where provider backends
    (django-anymail) look for inline images. Django's own MIME, for SMTP, would put
    attachments beside the alternatives in a multipart/mixed, where clients list them as
    files; here they go in a multipart/related with the HTML instead. Only inline images
    are ever attached to this class."""

    def __init__(self, *args: Any, inline_images: Mapping[str, bytes], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for content_id, data in inline_images.items():
            self.attach(inline_image_part(content_id, data))

    def message(self) -> Any:
        images = [part for part in self.attachments if isinstance(part, MIMEBase)]
        if not images:
            return super().message()
        # Build the text and HTML alternatives alone, then put the images beside the HTML.
        saved, self.attachments = self.attachments, []
        try:
            built = super().message()
        finally:
            self.attachments = saved
        parts = built.get_payload() if built.is_multipart() else []
        for index, part in enumerate(parts):
            if part.get_content_type() == "text/html":
                related = SafeMIMEMultipart(
                    _subtype="related", encoding=self.encoding or settings.DEFAULT_CHARSET
                )
                related.set_param("type", "text/html")
                related.attach(part)
                for image in images:
                    related.attach(image)
                parts[index] = related
                return built
        return super().message()  # no HTML to show them: plain attachments


def message_id(log_id: int | None) -> str:
    """The email's Message-ID: the same for every attempt at one logged message, so a
    second copy (a worker that died after the server took the first) is recognisably the
    same message, and mail systems that drop repeated Message-IDs drop it. The keyed part
    keeps two installations with the same domain from ever using one id for different
    messages."""
    domain = settings.COMMUNICATIONS_MESSAGE_ID_DOMAIN
    if log_id is None:
        return make_msgid(domain=domain)
    tag = salted_hmac("communications.message-id", str(log_id), algorithm="sha256")
    return f"<log-{log_id}.{tag.hexdigest()[:16]}@{domain}>"


class DjangoEmailBackend:
    def send(self, message: OutgoingMessage) -> SentReceipt:
        msgid = message_id(message.log_id)
        # Images need an HTML body to show them; a text-only email goes without.
        images = message.inline_images if message.html else {}
        email = RelatedEmail(
            subject=message.subject,
            body=message.text,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[message.to],
            headers={"Message-ID": msgid},
            connection=get_connection(
                backend=settings.COMMUNICATIONS_EMAIL_BACKEND, fail_silently=False
            ),
            inline_images=images,
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

"""Django's ``EMAIL_BACKEND``: anything that sends mail the Django way (a library, an
error report) goes through ``communications.send`` too, so it obeys the email switch and
the limits and appears in the log. The real transport is ``COMMUNICATIONS_EMAIL_BACKEND``."""

from __future__ import annotations

from collections.abc import Sequence

from django.core.mail import EmailMessage
from django.core.mail.backends.base import BaseEmailBackend
from markupsafe import Markup

from communications.events import SYSTEM_EMAIL
from communications.models import Channel, MessageStatus


class GatewayEmailBackend(BaseEmailBackend):
    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        from communications.services import Recipient, send

        queued = 0
        for message in email_messages:
            # The HTML alternative is a finished document built by the sender (Django's
            # templates escape what they insert): the system email shows it as it is.
            # Message templates cannot mark text safe; only this trusted input is.
            html = Markup("")
            for content, mimetype in getattr(message, "alternatives", []) or []:
                if mimetype == "text/html":
                    html = Markup(str(content))  # noqa: S704 - the sender's finished HTML
            for address in message.recipients():
                logs = send(
                    SYSTEM_EMAIL,
                    Recipient(email=address),
                    {"subject": message.subject, "body": message.body, "html": html},
                    channels=[Channel.EMAIL],
                )
                queued += sum(1 for log in logs if log.status == MessageStatus.QUEUED)
        return queued

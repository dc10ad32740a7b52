"""allauth adapter: account emails go through the communications service (switches,
limits, templates admins edit, the log), and post-login routing stays on our side."""

from __future__ import annotations

from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest
from django.urls import reverse

# allauth's email templates, and the event and variables each becomes.
_EVENTS = {
    "account/email/email_confirmation_signup": "account_email_verification",
    "account/email/email_confirmation": "account_email_verification",
    "account/email/password_reset_key": "password_reset",
    "account/email/account_already_exists": "account_already_exists",
    "account/email/password_changed": "password_changed",
    "account/email/password_reset": "password_changed",
}


class AccountAdapter(DefaultAccountAdapter):
    def get_login_redirect_url(self, request: HttpRequest) -> str:
        return reverse("core:after-login")

    def send_mail(self, template_prefix: str, email: str, context: dict[str, Any]) -> None:
        from communications.models import Channel, Event, MessageStatus
        from communications.services import Recipient, send

        event = _EVENTS.get(template_prefix)
        if event is None:
            # Anything else allauth sends: its own rendering, through the mail gateway.
            super().send_mail(template_prefix, email, context)
            return
        user = context.get("user")
        variables = {
            "user_email": email,
            "activate_url": context.get("activate_url", ""),
            "password_reset_url": context.get("password_reset_url", ""),
            "login_url": settings.SITE_URL.rstrip("/") + reverse("account_login"),
            "signup_url": context.get("signup_url", ""),
        }
        logs = send(
            Event(event),
            Recipient(email=email, user=user if getattr(user, "pk", None) else None),
            variables,
            channels=[Channel.EMAIL],
        )
        request = getattr(self, "request", None)
        if request is not None and all(log.status != MessageStatus.QUEUED for log in logs):
            messages.warning(
                request,
                "We could not send you an email just now: email is paused on this platform. "
                "Please try again later or contact support.",
            )

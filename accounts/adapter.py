"""allauth adapter: account emails go through the communications service (switches,
limits, templates admins edit, the log), and post-login routing stays on our side.

When an account email cannot go out (email switched off, the limit per address reached),
the person is told so on the next page instead of waiting for a message that will never
come; when the platform's hourly email volume holds it back, they are told it may take a
while. A password reset says only what holds for every address alike, so the page never
reveals whether an account exists (see ``accounts.forms.PasswordResetForm``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from allauth.account.adapter import DefaultAccountAdapter
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.urls import reverse

from core.net import client_ip
from core.site import site_url

if TYPE_CHECKING:
    from communications.models import CommunicationLog

# allauth's email templates, and the event and variables each becomes.
_EVENTS = {
    "account/email/email_confirmation_signup": "account_email_verification",
    "account/email/email_confirmation": "account_email_verification",
    "account/email/password_reset_key": "password_reset",
    "account/email/account_already_exists": "account_already_exists",
    "account/email/password_changed": "password_changed",
    "account/email/password_reset": "password_changed",
}

EMAIL_SWITCHED_OFF = "email is switched off"
TOO_MANY_EMAILS = "too many emails were sent to this address in the last hour"
PROBLEM_ON_OUR_SIDE = "of a problem on our side"
_WARNED = "_email_not_sent_warned"
_TOLD_DELAYED = "_email_delay_told"
# Sign-up and password reset answer every address alike, known or not: only what holds
# for every address (email switched off, the platform's email volume) may be said after.
_ANSWERED_ALIKE = frozenset(
    {"password_reset", "account_already_exists", "account_email_verification"}
)
_SENT_MESSAGE = "account/messages/email_confirmation_sent.txt"


def email_unavailable_reason() -> str:
    """Why no account email can go to anyone right now, or ``""``. The same answer for
    every address, so showing it reveals nothing about accounts."""
    from communications.models import Channel
    from communications.selectors import communication_settings

    if not communication_settings().is_enabled(Channel.EMAIL):
        return EMAIL_SWITCHED_OFF
    return ""


def email_delayed_until() -> datetime | None:
    """When an account email sent now would go out, if the platform's hourly email volume
    (its own emails, or the ceiling for everyone) holds it back; else None. The same for
    every address, as account emails belong to no merchant."""
    from communications.limits import volume_deferral
    from communications.models import Channel
    from communications.selectors import communication_settings

    deferral = volume_deferral(communication_settings(), channel=Channel.EMAIL, merchant=None)
    return deferral.until if deferral else None


def tell_email_delayed(request: HttpRequest, until: datetime) -> None:
    # Once per page, and not beside a warning that nothing was sent.
    if getattr(request, _WARNED, False) or getattr(request, _TOLD_DELAYED, False):
        return
    setattr(request, _TOLD_DELAYED, True)
    messages.info(
        request,
        "Your email is on its way but may take a while: we are sending a lot of email "
        f"right now, and it goes out after {until:%H:%M} UTC.",
        fail_silently=True,
    )


def warn_email_not_sent(request: HttpRequest, reason: str) -> None:
    # One warning per page, however many messages one step tried to send.
    if getattr(request, _WARNED, False):
        return
    setattr(request, _WARNED, True)
    messages.warning(
        request,
        f"We could not send you an email right now: {reason}. "
        "Please try again later or contact support.",
        fail_silently=True,
    )


def _reason_not_sent(logs: Sequence[CommunicationLog]) -> str:
    """The reason, fit to show, when none of ``logs`` was queued for delivery."""
    from communications.models import MessageStatus

    if not logs or any(log.status == MessageStatus.QUEUED for log in logs):
        return ""
    log = logs[0]
    if log.status == MessageStatus.SUPPRESSED and "switched off" in log.reason:
        return EMAIL_SWITCHED_OFF
    if log.status == MessageStatus.RATE_LIMITED:
        return TOO_MANY_EMAILS
    return PROBLEM_ON_OUR_SIDE


def _deferred_until(logs: Sequence[CommunicationLog]) -> datetime | None:
    """When the emails held back by a volume limit go out (None when none is)."""
    waits = [log.deferred_until for log in logs if log.deferred_until is not None]
    return max(waits) if waits else None


class AccountAdapter(DefaultAccountAdapter):  # type: ignore[misc]  # allauth is untyped
    def get_client_ip(self, request: HttpRequest) -> str:
        """allauth's rate limits count by the platform's one notion of the client address."""
        ip = client_ip(request)
        if not ip:
            raise PermissionDenied("Unable to determine the client's address.")
        return ip

    def get_login_redirect_url(self, request: HttpRequest) -> str:
        return reverse("core:after-login")

    def add_message(
        self,
        request: HttpRequest,
        level: int,
        message_template: str | None = None,
        message_context: dict[str, Any] | None = None,
        extra_tags: str = "",
        message: str | None = None,
    ) -> None:
        if message_template == _SENT_MESSAGE and getattr(request, _WARNED, False):
            return  # "Confirmation email sent" would contradict the warning just given
        super().add_message(
            request,
            level,
            message_template=message_template,
            message_context=message_context,
            extra_tags=extra_tags,
            message=message,
        )

    def send_mail(self, template_prefix: str, email: str, context: dict[str, Any]) -> None:
        from communications.models import Channel, Event
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
            "login_url": site_url() + reverse("account_login"),
            "signup_url": context.get("signup_url", ""),
        }
        # Sign-up and reset tell of a delay only as an unknown address would be told (the
        # platform's email volume, read before this email counts against it), so the page
        # is the same for both; other account emails say what happened to them.
        alike = event in _ANSWERED_ALIKE
        platform_delay = email_delayed_until() if alike else None
        logs = send(
            Event(event),
            Recipient(email=email, user=user if getattr(user, "pk", None) else None),
            variables,
            channels=[Channel.EMAIL],
        )
        reason = _reason_not_sent(logs)
        if alike and reason != email_unavailable_reason():
            # A limit or a fault that only an existing account can meet (its address got
            # other mail this hour): saying so would tell a stranger that it has one.
            reason = ""
        delayed = platform_delay if alike else _deferred_until(logs)
        request = getattr(self, "request", None)
        if request is None:
            return
        if reason:
            warn_email_not_sent(request, reason)
        elif delayed is not None:
            tell_email_delayed(request, delayed)

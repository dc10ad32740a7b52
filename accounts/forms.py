"""Account forms that differ from allauth's own."""

from __future__ import annotations

from typing import Any

from allauth.account.forms import ResetPasswordForm
from django.http import HttpRequest

from accounts.adapter import (
    email_delayed_until,
    email_unavailable_reason,
    tell_email_delayed,
    warn_email_not_sent,
)


class PasswordResetForm(ResetPasswordForm):  # type: ignore[misc]  # allauth is untyped
    """allauth's reset form, telling a person at an unknown address exactly what a
    person with an account would be told when email cannot go out or would be held back
    by the platform's hourly email volume (for an account, ``AccountAdapter.send_mail``
    says it), so the page reveals nothing about accounts."""

    def save(self, request: HttpRequest, **kwargs: Any) -> str:
        email: str = super().save(request, **kwargs)
        if not self.users:
            reason = email_unavailable_reason()
            delayed = email_delayed_until()
            if reason:
                warn_email_not_sent(request, reason)
            elif delayed is not None:
                tell_email_delayed(request, delayed)
        return email

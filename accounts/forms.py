"""Account forms that differ from allauth's own."""

from __future__ import annotations

from typing import Any

from allauth.account.adapter import get_adapter
from allauth.account.forms import ResetPasswordForm
from django.http import HttpRequest


class PasswordResetForm(ResetPasswordForm):  # type: ignore[misc]  # allauth is untyped
    """allauth's reset form, telling a person at an unknown address exactly what a
    person with an account would be told when email cannot go out or would be held back
    by the platform's hourly email volume (for an account, the adapter's ``send_mail``
    says it), so the page reveals nothing about accounts."""

    def save(self, request: HttpRequest, **kwargs: Any) -> str:
        email: str = super().save(request, **kwargs)
        if not self.users:
            get_adapter(request).tell_email_outlook(request)
        return email

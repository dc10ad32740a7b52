"""allauth adapter: the client address allauth's rate limits count by, post-login routing,
and the hook through which account emails go out.

Accounts sit below communications, so this adapter sends nothing itself: the platform's
adapter (``ACCOUNT_ADAPTER``) is ``communications.account_emails.AccountEmailAdapter``,
which extends this one to send allauth's emails through the one send path and to tell
people when one cannot go out. ``tell_email_outlook`` is the hook for pages that must
say so without sending anything (``accounts.forms.PasswordResetForm``).
"""

from __future__ import annotations

from allauth.account.adapter import DefaultAccountAdapter
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.urls import reverse

from core.net import client_ip


class AccountAdapter(DefaultAccountAdapter):  # type: ignore[misc]  # allauth is untyped
    def get_client_ip(self, request: HttpRequest) -> str:
        """allauth's rate limits count by the platform's one notion of the client address."""
        ip = client_ip(request)
        if not ip:
            raise PermissionDenied("Unable to determine the client's address.")
        return ip

    def get_login_redirect_url(self, request: HttpRequest) -> str:
        return reverse("after-login")

    def tell_email_outlook(self, request: HttpRequest) -> None:
        """Tell the person, as anyone at any address would be told, when account email
        cannot go out now or will be late. Says nothing here; the adapter of the app that
        sends messages knows."""

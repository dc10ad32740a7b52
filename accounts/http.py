"""The signed-in request, typed.

Django types ``request.user`` as "a user or an anonymous visitor". Behind a login check
it is always one of our ``User`` rows, and these say so once instead of a ``type: ignore``
at every ``actor=request.user``:

- ``AuthenticatedHttpRequest``: the annotation for a function view behind
  ``login_required`` (and the base of ``merchants.tenancy.MerchantRequest``). It is a
  type only; Django still builds a plain ``HttpRequest``.
- ``signed_in_user(request)``: where the type cannot say it (admin actions, which Django
  calls with a plain ``HttpRequest``), the user, checked at run time.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from accounts.models import User


class AuthenticatedHttpRequest(HttpRequest):
    user: User


def signed_in_user(request: HttpRequest) -> User:
    """The request's user, refused (403) if nobody is signed in."""
    user = request.user
    if not isinstance(user, User) or not user.is_authenticated:
        raise PermissionDenied("Sign in first.")
    return user

"""The signed-in person's own pages."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render

from accounts.http import AuthenticatedHttpRequest
from merchants.selectors import memberships_for_user


@login_required
def account_home(request: AuthenticatedHttpRequest) -> HttpResponse:
    memberships = memberships_for_user(user=request.user)
    return render(request, "accounts/home.html", {"memberships": memberships})

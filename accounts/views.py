"""The signed-in person's own pages."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render

from accounts.http import AuthenticatedHttpRequest
from accounts.sections import account_sections


@login_required
def account_home(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The profile, then what the apps above registered (cards and orders, workplaces)."""
    sections = account_sections.render(user=request.user)
    return render(request, "accounts/home.html", {"sections": sections})

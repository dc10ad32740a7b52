"""The merchant dashboard's frame: the start page after signing in, choosing a merchant,
its overview and its team."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views import View
from django.views.generic import TemplateView

from accounts.models import User
from core.errors import ApplicationError
from core.http import private
from merchants import services
from merchants.dashboard import dashboard_panels
from merchants.exceptions import InvalidInvitation
from merchants.forms import InvitationPasswordForm
from merchants.models import Invitation, Membership, Role
from merchants.selectors import (
    api_key_list,
    invitations_for_user,
    membership_list,
    memberships_for_user,
)
from merchants.tenancy import MerchantViewMixin


@login_required
def after_login(request: HttpRequest) -> HttpResponseRedirect:
    """``/start/``: send each role to its own start page (staff to the admin, people who
    work at merchants to their dashboard, everyone else to their account page)."""
    user = _user(request)
    if user.is_staff:
        return HttpResponseRedirect(reverse("admin:index"))
    memberships = list(memberships_for_user(user=user))
    if invitations_for_user(user=user):
        return HttpResponseRedirect(reverse("merchants:choose"))
    if len(memberships) == 1:
        return HttpResponseRedirect(
            reverse("merchants:dashboard", args=[memberships[0].merchant.slug])
        )
    if memberships:
        return HttpResponseRedirect(reverse("merchants:choose"))
    return HttpResponseRedirect(reverse("accounts:home"))


class ChooseMerchantView(LoginRequiredMixin, View):
    """``/m/``: people who work at several merchants pick one here."""

    def get(self, request: HttpRequest) -> HttpResponse:
        user = _user(request)
        memberships = list(memberships_for_user(user=user))
        invitations = invitations_for_user(user=user)
        if len(memberships) == 1 and not invitations:
            return HttpResponseRedirect(
                reverse("merchants:dashboard", args=[memberships[0].merchant.slug])
            )
        return render(
            request,
            "merchants/choose.html",
            {"memberships": memberships, "invitations": invitations},
        )


class AcceptInvitationView(LoginRequiredMixin, View):
    """``/m/invitations/<id>/accept/``: a signed-in person takes up an invitation sent to
    one of their confirmed addresses (listed on ``/m/``), without the email's link."""

    def post(self, request: HttpRequest, public_id: str) -> HttpResponse:
        user = _user(request)
        invitation = next(
            (i for i in invitations_for_user(user=user) if i.public_id == public_id),
            None,
        )
        if invitation is None:
            raise Http404("No such invitation")
        try:
            membership = services.invitation_accept(invitation=invitation, user=user)
        except ApplicationError as exc:
            messages.error(request, exc.detail)
            return HttpResponseRedirect(reverse("merchants:choose"))
        return _welcome(request, membership)


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


def _welcome(request: HttpRequest, membership: Membership) -> HttpResponse:
    messages.success(
        request,
        f"Welcome to {membership.merchant.name}: you joined the team as "
        f"{membership.get_role_display().lower()}.",
    )
    return HttpResponseRedirect(reverse("merchants:dashboard", args=[membership.merchant.slug]))


class InvitationView(View):
    """``/invitations/<token>/``: the link in an invitation email.

    Whoever opens it sees what they are invited to. A signed-in account whose confirmed
    address is the invited one accepts with one click; where nobody has proven the address
    yet, the visitor accepts by choosing the account's password (holding the link proves
    the address); an existing confirmed account is asked to sign in first.
    """

    template_name = "merchants/invitation.html"

    def _page(
        self,
        request: HttpRequest,
        token: str,
        invitation: Invitation,
        *,
        form: InvitationPasswordForm | None = None,
        status: int = 200,
    ) -> HttpResponse:
        user = request.user if request.user.is_authenticated else None
        context = {
            "invitation": invitation,
            "token": token,
            "signed_in_as": user,
            "can_accept": bool(
                isinstance(user, User)
                and services.invitation_can_accept(invitation=invitation, user=user)
            ),
            "needs_password": user is None and services.invitation_needs_password(invitation),
            "form": form or InvitationPasswordForm(),
            "next_url": request.path,
        }
        return private(render(request, self.template_name, context, status=status))

    def _closed(self, request: HttpRequest, reason: str, *, status: int) -> HttpResponse:
        return private(
            render(request, "merchants/invitation_closed.html", {"reason": reason}, status=status)
        )

    def _open_invitation(self, request: HttpRequest, token: str) -> Invitation | HttpResponse:
        try:
            invitation = services.invitation_from_token(token)
        except InvalidInvitation as exc:
            return self._closed(request, exc.detail, status=404)
        if not invitation.is_open():
            return self._closed(request, services.closed_reason(invitation), status=410)
        return invitation

    def get(self, request: HttpRequest, token: str) -> HttpResponse:
        found = self._open_invitation(request, token)
        if isinstance(found, HttpResponse):
            return found
        return self._page(request, token, found)

    def post(self, request: HttpRequest, token: str) -> HttpResponse:
        found = self._open_invitation(request, token)
        if isinstance(found, HttpResponse):
            return found
        invitation = found
        if request.user.is_authenticated:
            try:
                membership = services.invitation_accept(invitation=invitation, user=_user(request))
            except ApplicationError as exc:
                messages.error(request, exc.detail)
                return self._page(request, token, invitation, status=exc.status)
            return _welcome(request, membership)
        form = InvitationPasswordForm(request.POST)
        if not form.is_valid():
            return self._page(request, token, invitation, form=form, status=400)
        try:
            membership = services.invitation_accept_with_password(
                invitation=invitation, password=form.cleaned_data["password1"]
            )
        except ApplicationError as exc:
            form.add_error("password1" if exc.code == "invalid_invitation" else None, exc.detail)
            return self._page(request, token, invitation, form=form, status=exc.status)
        login(request, membership.user, backend="django.contrib.auth.backends.ModelBackend")
        return _welcome(request, membership)


class DashboardView(MerchantViewMixin, TemplateView):
    template_name = "merchants/dashboard.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["team_size"] = membership_list(merchant=self.merchant).count()
        context["active_keys"] = (
            api_key_list(merchant=self.merchant).filter(revoked_at__isnull=True).count()
        )
        context["panels"] = dashboard_panels.render(
            merchant=self.merchant, membership=self.membership
        )
        return context


class TeamView(MerchantViewMixin, TemplateView):
    template_name = "merchants/team.html"
    required_role = Role.MANAGER

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["members"] = membership_list(merchant=self.merchant)
        return context

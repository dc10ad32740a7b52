"""The merchant dashboard's frame: choosing a merchant, its overview and its team."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views import View
from django.views.generic import TemplateView

from core.money import format_money
from giftcards.selectors import programme_summary
from merchants.models import Role
from merchants.selectors import api_key_list, membership_list, memberships_for_user
from merchants.tenancy import MerchantViewMixin


class ChooseMerchantView(LoginRequiredMixin, View):
    """``/m/``: people who work at several merchants pick one here."""

    def get(self, request: HttpRequest) -> HttpResponse:
        memberships = list(memberships_for_user(user=request.user))  # type: ignore[arg-type]
        if len(memberships) == 1:
            return HttpResponseRedirect(
                reverse("merchants:dashboard", args=[memberships[0].merchant.slug])
            )
        return render(request, "merchants/choose.html", {"memberships": memberships})


class DashboardView(MerchantViewMixin, TemplateView):
    template_name = "merchants/dashboard.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["team_size"] = membership_list(merchant=self.merchant).count()
        context["active_keys"] = (
            api_key_list(merchant=self.merchant).filter(revoked_at__isnull=True).count()
        )
        context["summaries"] = [
            {
                "currency": row.currency,
                "outstanding": format_money(row.outstanding, row.currency),
                "live_cards": row.live_cards,
                "redeemed_today": format_money(row.redeemed_today, row.currency),
                "redemptions_today": row.redemptions_today,
                "issued_30d": format_money(row.issued_30d, row.currency),
                "cards_issued_30d": row.cards_issued_30d,
            }
            for row in programme_summary(merchant=self.merchant)
        ]
        return context


class TeamView(MerchantViewMixin, TemplateView):
    template_name = "merchants/team.html"
    required_role = Role.MANAGER

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["members"] = membership_list(merchant=self.merchant)
        return context

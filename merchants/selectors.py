"""Reads with rules about merchants and memberships."""

from __future__ import annotations

from django.db.models import QuerySet

from accounts.models import User
from merchants.models import ApiKey, Membership, Merchant, MerchantStatus


def memberships_for_user(*, user: User) -> QuerySet[Membership]:
    """The active merchants a person works at, with their role at each."""
    return (
        Membership.objects.filter(user=user, merchant__status=MerchantStatus.ACTIVE)
        .select_related("merchant")
        .order_by("merchant__name")
    )


def membership_list(*, merchant: Merchant) -> QuerySet[Membership]:
    return Membership.objects.filter(merchant=merchant).select_related("user").order_by("role")


def api_key_list(*, merchant: Merchant) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(merchant=merchant).order_by("-created_at")

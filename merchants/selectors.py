"""Reads with rules about merchants and memberships."""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import User
from accounts.selectors import verified_emails
from merchants.models import ApiKey, Invitation, Membership, Merchant, MerchantStatus


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


def invitations_for_user(*, user: User) -> list[Invitation]:
    """Open invitations to active merchants addressed to one of the person's verified
    addresses: theirs to accept after signing in, without the email's link."""
    emails = verified_emails(user)
    if not emails:
        return []
    return list(
        Invitation.objects.select_related("merchant")
        .filter(
            email__in=emails,
            accepted_at__isnull=True,
            revoked_at__isnull=True,
            expires_at__gt=timezone.now(),
            merchant__status=MerchantStatus.ACTIVE,
        )
        .order_by("merchant__name", "pk")
    )


def open_invitations(*, merchant: Merchant, role: str | None = None) -> QuerySet[Invitation]:
    """The merchant's invitations not yet accepted or withdrawn (expired ones included:
    they can be sent again), newest first."""
    found = Invitation.objects.filter(
        merchant=merchant, accepted_at__isnull=True, revoked_at__isnull=True
    )
    if role is not None:
        found = found.filter(role=role)
    return found.order_by("-created_at", "-pk")

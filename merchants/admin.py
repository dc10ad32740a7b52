"""Merchants, their teams, invitations and API keys in the platform admin.

A membership hands over a merchant's money, so the admin never grants one to an account
whose address nobody has proven: a new merchant's owner, and anyone whose address is not
confirmed yet, is invited instead (``merchants.services.invitation_send``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from accounts.http import signed_in_user
from accounts.selectors import verified_emails
from core.errors import ApplicationError
from merchants.models import ApiKey, Invitation, Membership, Merchant, Role
from merchants.services import invitation_resend, invitation_revoke, invitation_send


class MembershipForm(forms.ModelForm[Membership]):
    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        user = data.get("user")
        if user is not None and user.email.lower() not in verified_emails(user):
            raise forms.ValidationError(
                f"{user.email} has not confirmed their email address, so nobody has proven "
                "they hold it. Send an invitation instead (Invitations, Add)."
            )
        return data


class MembershipInline(admin.TabularInline[Membership, Merchant]):
    model = Membership
    form = MembershipForm
    extra = 0
    autocomplete_fields = ("user",)


class MerchantAddForm(forms.ModelForm[Merchant]):
    owner_email = forms.EmailField(
        help_text="The owner is invited by email and becomes the owner once they accept "
        "(proving they hold the address). The link is also shown to you after saving."
    )

    class Meta:
        model = Merchant
        fields = ("name", "slug", "currency", "status", "logo", "brand_colour")


@admin.register(Merchant)
class MerchantAdmin(admin.ModelAdmin[Merchant]):
    list_display = ("name", "slug", "currency", "status", "created_at")
    list_filter = ("status", "currency")
    search_fields = ("name", "slug", "public_id")
    readonly_fields = ("public_id", "created_at", "updated_at")
    inlines = (MembershipInline,)

    def get_form(
        self, request: HttpRequest, obj: Merchant | None = None, change: bool = False, **kwargs: Any
    ) -> type[forms.ModelForm[Merchant]]:
        if obj is None:
            kwargs["form"] = MerchantAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fieldsets(self, request: HttpRequest, obj: Merchant | None = None) -> Any:
        if obj is None:
            return [(None, {"fields": [*MerchantAddForm.Meta.fields, "owner_email"]})]
        return super().get_fieldsets(request, obj)

    def get_inlines(self, request: HttpRequest, obj: Merchant | None) -> Any:
        return self.inlines if obj is not None else ()

    def save_model(
        self, request: HttpRequest, obj: Merchant, form: forms.ModelForm[Merchant], change: bool
    ) -> None:
        super().save_model(request, obj, form, change)
        if change:
            return
        issued = invitation_send(
            merchant=obj,
            email=form.cleaned_data["owner_email"],
            role=Role.OWNER,
            actor=signed_in_user(request),
        )
        messages.info(
            request,
            f"{issued.invitation.email} was invited to own {obj.name}. The link, if you need "
            f"to pass it on yourself (it works once): {issued.url}",
        )


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin[Membership]):
    form = MembershipForm
    list_display = ("user", "merchant", "role", "created_at")
    list_filter = ("role", "merchant")
    search_fields = ("user__email", "merchant__name")
    autocomplete_fields = ("user", "merchant")


class InvitationAddForm(forms.ModelForm[Invitation]):
    class Meta:
        model = Invitation
        fields = ("merchant", "email", "role")


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin[Invitation]):
    """Invitations are sent, resent and withdrawn through the service (which emails the
    link); the link itself is never stored, only its nonce."""

    list_display = ("email", "merchant", "role", "state", "sent_at", "expires_at", "accepted_at")
    list_filter = ("role", "merchant")
    search_fields = ("email", "merchant__name", "public_id")
    autocomplete_fields = ("merchant",)
    actions = ("resend", "withdraw")
    readonly_fields = (
        "merchant",
        "email",
        "role",
        "public_id",
        "invited_by",
        "created_at",
        "sent_at",
        "expires_at",
        "accepted_at",
        "accepted_by",
        "revoked_at",
    )

    def get_form(
        self,
        request: HttpRequest,
        obj: Invitation | None = None,
        change: bool = False,
        **kwargs: Any,
    ) -> type[forms.ModelForm[Invitation]]:
        if obj is None:
            kwargs["form"] = InvitationAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_readonly_fields(self, request: HttpRequest, obj: Invitation | None = None) -> Any:
        return self.readonly_fields if obj is not None else ()

    def get_fields(self, request: HttpRequest, obj: Invitation | None = None) -> Any:
        return self.readonly_fields if obj is not None else InvitationAddForm.Meta.fields

    def has_change_permission(self, request: HttpRequest, obj: Invitation | None = None) -> bool:
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Invitation | None = None) -> bool:
        return False

    def save_model(
        self,
        request: HttpRequest,
        obj: Invitation,
        form: forms.ModelForm[Invitation],
        change: bool,
    ) -> None:
        issued = invitation_send(
            merchant=form.cleaned_data["merchant"],
            email=form.cleaned_data["email"],
            role=form.cleaned_data["role"],
            actor=signed_in_user(request),
        )
        # The admin logs and links to the object it saved: make it the service's row.
        obj.pk = issued.invitation.pk
        obj.public_id = issued.invitation.public_id
        messages.info(request, f"Invitation sent. The link (it works once): {issued.url}")

    def _each(
        self,
        request: HttpRequest,
        queryset: QuerySet[Invitation],
        act: Callable[..., object],
        done: str,
    ) -> None:
        """Run ``act`` on each invitation through its service; refusals are named."""
        count = 0
        for invitation in queryset.select_related("merchant"):
            try:
                act(invitation=invitation, actor=request.user)
            except ApplicationError as exc:
                messages.warning(request, f"{invitation.email}: {exc.detail}")
            else:
                count += 1
        if count:
            messages.success(request, done.format(count=count))

    @admin.action(description="Send again (with a new link)")
    def resend(self, request: HttpRequest, queryset: QuerySet[Invitation]) -> None:
        self._each(request, queryset, invitation_resend, "Sent {count} invitation(s) again.")

    @admin.action(description="Withdraw")
    def withdraw(self, request: HttpRequest, queryset: QuerySet[Invitation]) -> None:
        self._each(request, queryset, invitation_revoke, "Withdrew {count} invitation(s).")


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin[ApiKey]):
    """Keys are created by merchants or ``create_api_key``; the admin can only look and
    revoke. The stored digest is never shown."""

    list_display = (
        "name",
        "merchant",
        "display_prefix",
        "created_at",
        "last_used_at",
        "revoked_at",
    )
    list_filter = ("merchant",)
    search_fields = ("name", "prefix", "merchant__name")
    fields = (
        "merchant",
        "name",
        "display_prefix",
        "scopes",
        "created_at",
        "last_used_at",
        "expires_at",
        "revoked_at",
    )
    readonly_fields = ("merchant", "display_prefix", "scopes", "created_at", "last_used_at")

    def has_add_permission(self, request: object) -> bool:
        return False

"""Admin for communications: the one settings page, templates and the message log.

The log is read-only: it is the record of what was and was not sent.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

from communications import admin_push  # noqa: F401  (registers PushSubscription)
from communications.admin_reports import MessageReportsMixin
from communications.admin_templates import CommunicationTemplateAdmin  # noqa: F401  (registers it)
from communications.models import (
    CommunicationLog,
    CommunicationSettings,
)
from communications.selectors import communication_settings, settings_history
from communications.services import settings_update
from core.admin import ReadOnlyAdmin


@admin.register(CommunicationSettings)
class CommunicationSettingsAdmin(admin.ModelAdmin):
    """A single settings page: no list, no add, no delete."""

    fieldsets = (
        ("Channels", {"fields": ("email_enabled", "sms_enabled", "otp_enabled", "push_enabled")}),
        (
            "Fallbacks when a channel is off",
            {
                "fields": ("email_fallback", "sms_fallback", "push_fallback"),
                "description": "A message for a switched-off channel goes by its fallback; "
                "when that one is off too, by the fallback's own fallback, in order (e.g. "
                "push, then SMS, then email). Empty: the message is suppressed and the "
                "log says why.",
            },
        ),
        (
            "Hourly sending limits",
            {
                "fields": (
                    ("email_hourly_ceiling", "email_merchant_hourly_limit"),
                    "email_platform_hourly_limit",
                    ("sms_hourly_ceiling", "sms_merchant_hourly_limit"),
                    "sms_platform_hourly_limit",
                    ("push_hourly_ceiling", "push_merchant_hourly_limit"),
                    "push_platform_hourly_limit",
                    "per_recipient_hourly_limit",
                ),
                "description": "Counted per clock hour (UTC). Each merchant has its own "
                "limit per channel, the platform's own messages (account emails, admin "
                "test messages) share one, and all of them together stay under the ceiling "
                "for the whole platform, which is sized to the provider's quota (a limit "
                "above the ceiling leaves the ceiling as the only limit). A message "
                "over one of these is never lost: it waits in the message log as queued, "
                "with the reason, and goes out in the next hour with room. The limit per "
                "recipient is against abuse: a message over it is refused (rate limited).",
            },
        ),
        (
            "One-time codes",
            {
                "fields": (
                    "otp_rate_limit",
                    "otp_api_key_hourly_limit",
                    "otp_expiry_minutes",
                    "otp_length",
                    "otp_max_attempts",
                    "otp_resend_cooldown_seconds",
                )
            },
        ),
        ("Changed", {"fields": ("updated_by", "updated_at", "created_at")}),
    )
    readonly_fields = ("updated_by", "updated_at", "created_at")

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> Any:
        conf = communication_settings()
        return HttpResponseRedirect(
            reverse("admin:communications_communicationsettings_change", args=[conf.pk])
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        context = {"settings_history": settings_history(), **(extra_context or {})}
        return super().change_view(request, object_id, form_url, context)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        # The service saves, records old -> new and drops every process's cached copy.
        changed = {name: form.cleaned_data[name] for name in form.changed_data}
        settings_update(actor=request.user, **changed)  # type: ignore[arg-type]


@admin.register(CommunicationLog)
class CommunicationLogAdmin(MessageReportsMixin, ReadOnlyAdmin):
    list_display = (
        "created_at",
        "channel",
        "event",
        "recipient_masked",
        "status",
        "reason",
        "deferred_until",
        "provider",
        "cost",
    )
    list_filter = ("channel", "status", "event", ("created_at", admin.DateFieldListFilter))
    search_fields = ("provider_message_id", "recipient_masked")
    date_hierarchy = "created_at"
    exclude = ("payload",)
    list_select_related = ("template",)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [f.name for f in CommunicationLog._meta.fields if f.name != "payload"]

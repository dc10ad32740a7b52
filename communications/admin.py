"""Admin for communications: the one settings page, templates and the message log.

The log is read-only: it is the record of what was and was not sent.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db import transaction
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import reverse

from communications import admin_push  # noqa: F401  (registers PushSubscription)
from communications.admin_reports import MessageReportsMixin
from communications.admin_templates import CommunicationTemplateAdmin  # noqa: F401  (registers it)
from communications.models import (
    CommunicationLog,
    CommunicationSettings,
)
from communications.selectors import communication_settings, forget_settings
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
            "Hourly limits",
            {
                "fields": (
                    "email_rate_limit",
                    "sms_rate_limit",
                    "push_rate_limit",
                    "otp_rate_limit",
                    "per_recipient_hourly_limit",
                )
            },
        ),
        (
            "One-time codes",
            {
                "fields": (
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

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        obj.updated_by = request.user
        super().save_model(request, obj, form, change)
        forget_settings()
        # Again once the admin's transaction commits: a message sent in between must not
        # have cached the old switches for the next five minutes.
        transaction.on_commit(forget_settings)


@admin.register(CommunicationLog)
class CommunicationLogAdmin(MessageReportsMixin, ReadOnlyAdmin):
    list_display = (
        "created_at",
        "channel",
        "event",
        "recipient_masked",
        "status",
        "reason",
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

"""Admin for communications: the one settings page, templates and the message log.

The log is read-only: it is the record of what was and was not sent.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from accounts.http import signed_in_user
from communications import admin_push  # noqa: F401  (registers PushSubscription)
from communications.admin_reports import MessageReportsMixin
from communications.admin_templates import CommunicationTemplateAdmin  # noqa: F401  (registers it)
from communications.models import (
    CHANNEL_NOUNS,
    Channel,
    CommunicationLog,
    CommunicationSettings,
    messages_count,
)
from communications.selectors import (
    QueuedNow,
    communication_settings,
    is_stuck,
    queued_messages,
    settings_history,
    stuck_after,
    stuck_condition,
)
from communications.services import settings_update
from core.admin import ReadOnlyAdmin

# The switches on the settings page: field, what it switches, the queued messages it stops.
SWITCHES = (
    ("email_enabled", "Email", Channel.EMAIL),
    ("sms_enabled", "SMS", Channel.SMS),
    ("push_enabled", "Push", Channel.PUSH),
    ("otp_enabled", "One-time codes", "otp"),
)


def _queued_text(kind: str, queued: QueuedNow) -> str:
    """What a switch that is off does to the messages queued now, in a sentence."""
    if kind == "otp":
        total = queued.ready + queued.held
        if not total:
            return "no one-time code is queued"
        codes = "1 one-time code" if total == 1 else f"{total:,} one-time codes"
        return f"{codes} queued; with codes off, none of them is sent"
    one = CHANNEL_NOUNS[kind][0]
    name = "SMS" if kind == Channel.SMS else kind
    if not queued.ready and not queued.held:
        return f"no {one} is queued"
    parts = []
    if queued.ready:
        parts.append(
            f"{messages_count(queued.ready, kind)} queued; with {name} off, none of them "
            "is sent (each is suppressed when its turn comes)"
        )
    if queued.held:
        parts.append(
            f"{messages_count(queued.held, kind)} held by an hourly limit; with {name} off, "
            "they wait until it is on again"
        )
    return "; ".join(parts)


@admin.register(CommunicationSettings)
class CommunicationSettingsAdmin(admin.ModelAdmin[CommunicationSettings]):
    """A single settings page: no list, no add, no delete."""

    fieldsets = (
        (
            "Channels",
            {
                "fields": (
                    "email_enabled",
                    "sms_enabled",
                    "otp_enabled",
                    "push_enabled",
                    "queued_now",
                ),
                "description": "A switch applies to the next message in every process, and "
                "to messages already queued: one whose channel is off when its turn comes "
                "is suppressed (not sent later, and not sent by the fallback: it was "
                "written for its own channel).",
            },
        ),
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
    readonly_fields = ("queued_now", "updated_by", "updated_at", "created_at")

    @admin.display(description="Queued now")
    def queued_now(self, obj: CommunicationSettings) -> str:
        queued = queued_messages()
        return format_html(
            "<ul>{}</ul>",
            format_html_join(
                "",
                "<li>{}: {}</li>",
                ((label, _queued_text(kind, queued[kind])) for _, label, kind in SWITCHES),
            ),
        )

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
        # Through the service, like every other change: what this form changed, on the
        # locked row, checked by the same rules and logged with the admin who did it.
        settings_update(
            actor=signed_in_user(request),
            **{name: form.cleaned_data[name] for name in form.changed_data},
        )
        switched_off = [
            (label, kind)
            for name, label, kind in SWITCHES
            if name in form.changed_data and not form.cleaned_data[name]
        ]
        if switched_off:
            queued = queued_messages()
            for label, kind in switched_off:
                self.message_user(
                    request,
                    f"{label} is off: {_queued_text(kind, queued[kind])}.",
                    level=messages.WARNING,
                )


def _minutes(seconds: float) -> str:
    minutes = max(1, round(seconds / 60))
    return "1 minute" if minutes == 1 else f"{minutes} minutes"


class StuckFilter(admin.SimpleListFilter):
    """Queued messages past the bound a crash is repaired in: the sweep is not running."""

    title = "stuck"
    parameter_name = "stuck"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", f"Queued for more than {_minutes(stuck_after().total_seconds())}")]

    def queryset(
        self, request: HttpRequest, queryset: QuerySet[CommunicationLog]
    ) -> QuerySet[CommunicationLog]:
        if self.value() == "yes":
            return queryset.filter(stuck_condition(now=timezone.now()))
        return queryset


@admin.register(CommunicationLog)
class CommunicationLogAdmin(MessageReportsMixin, ReadOnlyAdmin):
    list_display = (
        "created_at",
        "channel",
        "event",
        "recipient_masked",
        "status",
        "stuck",
        "reason",
        "deferred_until",
        "provider",
        "cost",
    )
    list_filter = (
        "channel",
        "status",
        StuckFilter,
        "event",
        ("created_at", admin.DateFieldListFilter),
    )
    search_fields = ("provider_message_id", "recipient_masked")
    date_hierarchy = "created_at"
    exclude = ("payload",)
    list_select_related = ("template",)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [f.name for f in CommunicationLog._meta.fields if f.name != "payload"]

    @admin.display(description="Stuck", boolean=True)
    def stuck(self, obj: CommunicationLog) -> bool | None:
        # Blank for the messages that are fine, so the few stuck ones stand out.
        return True if is_stuck(obj, now=timezone.now()) else None

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> Any:
        if request.method == "GET" and StuckFilter.parameter_name not in request.GET:
            count = CommunicationLog.objects.filter(stuck_condition(now=timezone.now())).count()
            if count:
                self.message_user(
                    request,
                    f"{count:,} queued {'message has' if count == 1 else 'messages have'} "
                    f"waited more than {_minutes(stuck_after().total_seconds())} for a worker: "
                    "the Celery workers or the sweep that re-queues messages after a crash "
                    "(celery beat) are not running. Filter by Stuck to see them.",
                    level=messages.ERROR,
                )
        return super().changelist_view(request, extra_context)

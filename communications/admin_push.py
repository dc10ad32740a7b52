"""Admin view of Web Push subscriptions: which people have which devices subscribed.

Read-only, and without the endpoint or keys: an endpoint is a capability (whoever holds
it can address the device), so the admin shows only the push service it belongs to.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.contrib import admin

from communications.models import PushSubscription
from core.admin import ReadOnlyAdmin


@admin.register(PushSubscription)
class PushSubscriptionAdmin(ReadOnlyAdmin):
    list_display = ("user", "push_service", "user_agent", "created_at", "last_used_at")
    list_filter = ("created_at", "last_used_at")
    list_select_related = ("user",)
    search_fields = ("user__email",)
    fields = ("user", "push_service", "user_agent", "created_at", "last_used_at")
    readonly_fields = fields
    date_hierarchy = "created_at"

    @admin.display(description="push service")
    def push_service(self, obj: PushSubscription) -> str:
        return urlsplit(obj.endpoint).hostname or ""

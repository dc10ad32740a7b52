"""Admin for one-time codes: a read-only record. Neither the code nor its hash, nor the
recipient's digest, is shown; an address typed in the search box is matched by digest."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from core.admin import ReadOnlyAdmin
from otp import recipients
from otp.models import OneTimeCode


@admin.register(OneTimeCode)
class OneTimeCodeAdmin(ReadOnlyAdmin):
    list_display = (
        "created_at",
        "public_id",
        "merchant",
        "purpose",
        "channel",
        "recipient_masked",
        "status",
        "attempts",
        "max_attempts",
        "expires_at",
        "verified_at",
    )
    list_filter = ("status", "purpose", "channel", ("created_at", admin.DateFieldListFilter))
    list_select_related = ("merchant",)
    search_fields = ("=public_id",)
    search_help_text = "An id (otp_...), or a full email address or phone number."
    date_hierarchy = "created_at"
    show_full_result_count = False
    fields = (
        "public_id",
        "purpose",
        "channel",
        "recipient_masked",
        "merchant",
        "user",
        "status",
        "attempts",
        "max_attempts",
        "created_at",
        "expires_at",
        "verified_at",
        "ip_address",
        "log",
    )
    readonly_fields = fields

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        term = search_term.strip()
        if term and not term.startswith("otp_"):
            try:
                address = recipients.parse(term)
            except recipients.InvalidRecipient:
                return queryset.none(), False
            return queryset.filter(recipient_digest=address.digest), False
        return super().get_search_results(request, queryset, term)

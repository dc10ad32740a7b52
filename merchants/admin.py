from django.contrib import admin

from merchants.models import ApiKey, Membership, Merchant


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ("user",)


@admin.register(Merchant)
class MerchantAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "currency", "status", "created_at")
    list_filter = ("status", "currency")
    search_fields = ("name", "slug", "public_id")
    readonly_fields = ("public_id", "created_at", "updated_at")
    inlines = (MembershipInline,)


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ("user", "merchant", "role", "created_at")
    list_filter = ("role", "merchant")
    search_fields = ("user__email", "merchant__name")
    autocomplete_fields = ("user", "merchant")


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
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

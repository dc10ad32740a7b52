"""Platform admin for orders: read-only. Orders change only through ``orders.services``
(the payment provider's confirmation, fulfilment, refund)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from core.admin import ReadOnlyAdmin
from core.money import format_money
from orders.models import CardDelivery, FulfilledCard, Order, OrderLine, PaymentEvent


class _ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class OrderLineInline(_ReadOnlyInline):
    model = OrderLine
    fields = (
        "product",
        "amount",
        "quantity",
        "is_gift",
        "recipient_name",
        "recipient_email",
        "recipient_phone",
        "deliver_at",
        "buyer_timezone",
    )
    readonly_fields = fields


class FulfilledCardInline(_ReadOnlyInline):
    model = FulfilledCard
    fields = ("line", "unit_index", "card_last4", "created_at")
    readonly_fields = fields

    @admin.display(description="Card")
    def card_last4(self, obj: FulfilledCard) -> str:
        return obj.gift_card.masked_code

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).select_related("gift_card", "line")


@admin.register(Order)
class OrderAdmin(ReadOnlyAdmin):
    list_display = (
        "public_id",
        "merchant",
        "buyer_email",
        "total_display",
        "status",
        "provider",
        "created_at",
        "paid_at",
    )
    list_filter = ("status", "provider", "merchant")
    search_fields = ("=public_id", "buyer_email", "=provider_reference")
    list_select_related = ("merchant",)
    date_hierarchy = "created_at"
    show_full_result_count = False
    inlines = (OrderLineInline, FulfilledCardInline)
    readonly_fields = (
        "public_id",
        "merchant",
        "buyer",
        "buyer_email",
        "buyer_name",
        "currency",
        "total",
        "status",
        "provider",
        "provider_reference",
        "provider_payment_id",
        "created_at",
        "paid_at",
        "fulfilled_at",
        "failed_at",
        "failed_reason",
        "cancelled_at",
        "refunded_at",
    )
    fields = readonly_fields

    @admin.display(description="Total", ordering="total")
    def total_display(self, obj: Order) -> str:
        return format_money(obj.total, obj.currency)


@admin.register(PaymentEvent)
class PaymentEventAdmin(ReadOnlyAdmin):
    list_display = ("event_id", "provider", "type", "outcome", "order", "received_at")
    list_filter = ("provider", "outcome", "type")
    search_fields = ("=event_id", "order__public_id")
    list_select_related = ("order",)
    show_full_result_count = False


@admin.register(CardDelivery)
class CardDeliveryAdmin(ReadOnlyAdmin):
    list_display = ("order", "status", "channels", "deliver_at", "attempted_at")
    list_filter = ("status",)
    search_fields = ("order__public_id",)
    list_select_related = ("order",)
    exclude = ("recipient_email", "recipient_phone")
    show_full_result_count = False

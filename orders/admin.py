"""Platform admin for orders: read-only. Orders change only through ``orders.services``
(the payment provider's confirmation, fulfilment, refund): the one action here, refund,
calls ``order_refund`` with the admin as ``actor`` and needs ``orders.refund_order``.
A card's code is never shown: only its last four symbols, masked."""

from __future__ import annotations

from functools import cache
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template import engines
from django.template.response import TemplateResponse

from accounts.models import User
from core.admin import ReadOnlyAdmin
from core.errors import ApplicationError
from core.money import format_money
from orders.models import (
    CardDelivery,
    FulfilledCard,
    Order,
    OrderLine,
    OrderStatus,
    PaymentEvent,
)
from orders.services import order_refund

# Each refund may call the payment provider within the request; more belong in a job.
MAX_ORDERS_PER_REFUND = 50


class _ReadOnlyInline(admin.TabularInline[Any, Order]):
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
    verbose_name = "card"
    verbose_name_plural = "Cards"
    fields = ("line", "unit_index", "card_last4", "card_balance", "card_status", "created_at")
    readonly_fields = fields

    @admin.display(description="Card")
    def card_last4(self, obj: FulfilledCard) -> str:
        return obj.gift_card.masked_code

    @admin.display(description="Balance")
    def card_balance(self, obj: FulfilledCard) -> str:
        card = obj.gift_card
        return format_money(card.balance, card.currency)

    @admin.display(description="Card status")
    def card_status(self, obj: FulfilledCard) -> str:
        return obj.gift_card.get_status_display()

    def get_queryset(self, request: HttpRequest) -> Any:
        # The code columns are never needed here, so they never leave the database.
        return (
            super()
            .get_queryset(request)
            .select_related("gift_card", "line")
            .defer("gift_card__code_digest", "gift_card__code_encrypted")
        )


def _actor(request: HttpRequest) -> User | None:
    return request.user if isinstance(request.user, User) else None


class RefundOrdersForm(forms.Form):
    reason = forms.CharField(
        max_length=300,
        help_text="Recorded on each voided card's ledger entry.",
    )
    confirm = forms.BooleanField(
        label="I understand that the money goes back to the buyer and the cards are voided.",
        help_text="Orders whose cards were used are refused and left as they are.",
    )


# Rendered from a string, as the card void confirmation is; it follows the shape of
# Django's delete confirmation page.
_REFUND_CONFIRMATION_SOURCE = """{% extends "admin/base_site.html" %}
{% block bodyclass %}{{ block.super }} app-orders model-order refund-confirmation{% endblock %}
{% block breadcrumbs %}<div class="breadcrumbs">
<a href="{% url 'admin:index' %}">Home</a> &rsaquo;
<a href="{% url 'admin:app_list' app_label=opts.app_label %}">
{{ opts.app_config.verbose_name }}</a> &rsaquo;
<a href="{% url 'admin:orders_order_changelist' %}">
{{ opts.verbose_name_plural|capfirst }}</a>
&rsaquo; Refund orders</div>{% endblock %}
{% block content %}
<p>Refund {{ orders|length }} order{{ orders|length|pluralize }}? The money goes back
through the payment provider and every card of each order is voided. This cannot be
undone.</p>
<ul>{% for row in rows %}<li>{{ row.order.public_id }}, {{ row.order.merchant }},
{{ row.order.buyer_email }}: {{ row.total }} ({{ row.order.get_status_display }})</li>
{% endfor %}</ul>
<form method="post">{% csrf_token %}
{{ form.as_p }}
{% for order in orders %}<input type="hidden" name="{{ checkbox_name }}" value="{{ order.pk }}">
{% endfor %}<input type="hidden" name="action" value="refund_selected">
<input type="hidden" name="post" value="yes">
<input type="submit" value="Yes, refund {{ orders|length }} order{{ orders|length|pluralize }}">
<a href="{% url 'admin:orders_order_changelist' %}" class="button cancel-link">
No, take me back</a>
</form>
{% endblock %}"""


@cache
def _refund_confirmation() -> Any:
    return engines["django"].from_string(_REFUND_CONFIRMATION_SOURCE)


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
    actions = ("refund_selected",)

    def has_refund_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("orders.refund_order")

    @admin.display(description="Total", ordering="total")
    def total_display(self, obj: Order) -> str:
        return format_money(obj.total, obj.currency)

    @admin.action(description="Refund selected orders", permissions=["refund"])
    def refund_selected(
        self, request: HttpRequest, queryset: QuerySet[Order]
    ) -> TemplateResponse | None:
        # Ordered by id, the order row locks are taken in everywhere.
        orders = list(
            queryset.select_related("merchant").order_by("pk")[: MAX_ORDERS_PER_REFUND + 1]
        )
        if len(orders) > MAX_ORDERS_PER_REFUND:
            self.message_user(
                request,
                f"Select at most {MAX_ORDERS_PER_REFUND} orders to refund at a time.",
                messages.ERROR,
            )
            return None
        form = RefundOrdersForm(request.POST if request.POST.get("post") == "yes" else None)
        if not form.is_bound or not form.is_valid():
            context = {
                **self.admin_site.each_context(request),
                "title": "Refund orders",
                "opts": self.opts,
                "form": form,
                "orders": orders,
                "rows": [
                    {"order": order, "total": format_money(order.total, order.currency)}
                    for order in orders
                ],
                "checkbox_name": ACTION_CHECKBOX_NAME,
            }
            return TemplateResponse(request, _refund_confirmation(), context)

        reason: str = form.cleaned_data["reason"]
        for order in orders:
            if order.status == OrderStatus.REFUNDED:
                self.message_user(
                    request, f"Order {order.public_id} was already refunded.", messages.INFO
                )
                continue
            try:
                order_refund(order_id=order.pk, reason=reason, actor=_actor(request))
            except ApplicationError as exc:
                self.message_user(
                    request, f"Order {order.public_id} not refunded: {exc.detail}", messages.ERROR
                )
                continue
            self.log_change(request, order, f"Refunded: {reason}")
            total = format_money(order.total, order.currency)
            self.message_user(
                request,
                f"Order {order.public_id} refunded ({total}); its cards are void.",
                messages.SUCCESS,
            )
        return None


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

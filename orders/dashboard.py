"""Dashboard pages: the merchant's orders (SF-3..SF-5). Managers and owners list, filter,
search and export orders, see one order with its cards and their deliveries, send a
card again and refund an order.

Every change goes through ``orders.services``; a refusal comes back as a domain error,
shown as a message, with nothing changed. Cards appear by their last 4 only; no page,
message or export carries a code or a card link.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import QuerySet, Sum
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    HttpResponseRedirect,
    StreamingHttpResponse,
)
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.views import View
from django.views.generic import TemplateView

from core.errors import ApplicationError
from core.money import format_money, to_decimal
from giftcards.exports import csv_safe, stream_csv
from merchants.models import Role
from merchants.tenancy import MerchantViewMixin, scoped
from orders import selectors, services
from orders.dashboard_forms import OrderFilterForm, RefundConfirmForm
from orders.models import CardDelivery, FulfilledCard, Order, OrderLine, OrderStatus

PAGE_SIZE = 50
EXPORT_CHUNK_SIZE = 1000
REFUNDABLE = (OrderStatus.PAID, OrderStatus.FULFILLED)


# --- Presentation -----------------------------------------------------------------------


@dataclass(frozen=True)
class OrderRow:
    order: Order

    @property
    def total(self) -> str:
        return format_money(self.order.total, self.order.currency)

    @property
    def units(self) -> int:
        return int(getattr(self.order, "units", 0) or 0)


@dataclass(frozen=True)
class CardDeliveryRow:
    fulfilled: FulfilledCard
    delivery: CardDelivery | None
    can_resend: bool

    @property
    def card(self) -> Any:
        return self.fulfilled.gift_card

    @property
    def balance(self) -> str:
        return format_money(self.card.balance, self.card.currency)

    @property
    def initial(self) -> str:
        return format_money(self.card.initial_amount, self.card.currency)

    @property
    def message_logs(self) -> list[Any]:
        if self.delivery is None:
            return []
        return [log for log in (self.delivery.email_log, self.delivery.sms_log) if log]


@dataclass(frozen=True)
class LineView:
    line: OrderLine
    cards: list[CardDeliveryRow]

    @property
    def amount(self) -> str:
        return format_money(self.line.amount, self.line.order.currency)

    @property
    def subtotal(self) -> str:
        return format_money(self.line.subtotal, self.line.order.currency)


# --- Base -------------------------------------------------------------------------------


class OrdersViewMixin(MerchantViewMixin):
    required_role = Role.MANAGER

    def get_order(self, public_id: str) -> Order:
        order = selectors.order_for_dashboard(merchant=self.merchant, public_id=public_id)
        if order is None:
            raise Http404("No such order")
        return order

    def detail_url(self, order: Order) -> str:
        return reverse("orders-dashboard:detail", args=[self.merchant.slug, order.public_id])

    def filter_form(self, data: Any) -> OrderFilterForm:
        form = OrderFilterForm(data)
        form.is_valid()
        return form

    def filtered(self, form: OrderFilterForm) -> QuerySet[Order]:
        if form.errors:
            return Order.objects.none()
        return selectors.order_list(merchant=self.merchant, **form.filters())

    def get_form_data(self, request: HttpRequest) -> dict[str, Any]:
        """GET carries the filters and the page only; search terms come by POST, so
        that an email typed into the box never lands in a URL or an access log."""
        if request.method == "POST":
            return request.POST.dict()
        data = {name: request.GET.get(name, "") for name in OrderFilterForm.base_fields}
        data.pop("q")
        return data


# --- List ---------------------------------------------------------------------------------


class OrderListView(OrdersViewMixin, TemplateView):
    template_name = "orders/dashboard/list.html"

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return self.show(self.filter_form(self.get_form_data(request)))

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return self.show(self.filter_form(self.get_form_data(request)))

    def show(self, form: OrderFilterForm) -> HttpResponse:
        if form.errors:
            orders = sales_base = Order.objects.none()
        else:
            filters = form.filters()
            orders = selectors.order_list(merchant=self.merchant, **filters)
            # The sales figures cover the same period, provider and search whatever the
            # status filter: paid and fulfilled orders, the money taken and kept.
            sales_base = selectors.order_list(
                merchant=self.merchant, **(filters | {"status": None})
            )
        listed = orders.annotate(units=Sum("lines__quantity"))
        page = Paginator(listed, PAGE_SIZE).get_page(form.cleaned_data.get("page"))
        context = self.get_context_data(
            form=form,
            page_obj=page,
            rows=[OrderRow(order) for order in page.object_list],
            totals=selectors.order_totals(orders),
            sales=selectors.order_sales(sales_base),
            searching=bool(form.cleaned_data.get("q")),
            filter_query=form.query_string() if not form.errors else "",
        )
        return self.render_to_response(context, status=422 if form.errors else 200)


# --- Export -------------------------------------------------------------------------------

EXPORT_COLUMNS = [
    "order_id",
    "created_at",
    "status",
    "provider",
    "currency",
    "total",
    "total_minor",
    "buyer_email",
    "buyer_name",
    "cards",
    "recipients",
    "paid_at",
    "refunded_at",
]


def _timestamp(value: Any) -> str:
    return value.isoformat() if value is not None else ""


def export_row(order: Order) -> list[Any]:
    lines = list(order.lines.all())
    recipients = sorted(
        {line.recipient_email for line in lines if line.recipient_email}
        | {line.recipient_phone for line in lines if line.recipient_phone}
    )
    return [
        order.public_id,
        _timestamp(order.created_at),
        order.status,
        order.provider,
        order.currency,
        to_decimal(order.total, order.currency),
        order.total,
        csv_safe(order.buyer_email),
        csv_safe(order.buyer_name),
        sum(line.quantity for line in lines),
        csv_safe("; ".join(recipients)),
        _timestamp(order.paid_at),
        _timestamp(order.refunded_at),
    ]


def export_lines(orders: QuerySet[Order]) -> Iterator[str]:
    """The orders as CSV, streamed in chunks. Only order data: no card, code or link."""
    rows = orders.prefetch_related("lines").iterator(chunk_size=EXPORT_CHUNK_SIZE)
    return stream_csv(EXPORT_COLUMNS, (export_row(order) for order in rows))


class OrderExportView(OrdersViewMixin, View):
    http_method_names = ["get", "post"]

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        return self.export(self.filter_form(self.get_form_data(request)))

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        return self.export(self.filter_form(self.get_form_data(request)))

    def export(self, form: OrderFilterForm) -> HttpResponseBase:
        if form.errors:
            return HttpResponse("The filters are not valid.", status=400, content_type="text/plain")
        stamp = timezone.now().strftime("%Y%m%d-%H%M")
        response = StreamingHttpResponse(
            export_lines(self.filtered(form)), content_type="text/csv; charset=utf-8"
        )
        name = f"{self.merchant.slug}-orders-{stamp}.csv"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        add_never_cache_headers(response)
        return response


# --- Detail and actions -------------------------------------------------------------------


def line_views(order: Order) -> list[LineView]:
    views = []
    for line in order.lines.all():
        line.order = order  # already loaded: no query per line for the currency
        rows = []
        for fulfilled in line.cards.all():
            delivery = getattr(fulfilled, "delivery", None)
            rows.append(
                CardDeliveryRow(
                    fulfilled=fulfilled,
                    delivery=delivery,
                    can_resend=selectors.delivery_resendable(
                        delivery, order=order, card=fulfilled.gift_card
                    ),
                )
            )
        views.append(LineView(line=line, cards=rows))
    return views


class OrderDetailView(OrdersViewMixin, TemplateView):
    template_name = "orders/dashboard/detail.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        order = self.get_order(kwargs["public_id"])
        context.update(
            order=order,
            total=format_money(order.total, order.currency),
            lines=line_views(order),
            payment_events=list(order.payment_events.all()),
            can_refund=order.status in REFUNDABLE,
        )
        return context


class OrderRefundView(OrdersViewMixin, TemplateView):
    """GET asks for confirmation; POST refunds (at the provider first), then goes back to
    the order with a message, or shows the refusal having changed nothing."""

    template_name = "orders/dashboard/refund.html"

    def render_form(
        self, order: Order, form: RefundConfirmForm, *, status: int = 200
    ) -> HttpResponse:
        context = self.get_context_data(
            order=order,
            form=form,
            total=format_money(order.total, order.currency),
            lines=line_views(order),
            can_refund=order.status in REFUNDABLE,
        )
        return self.render_to_response(context, status=status)

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        order = self.get_order(kwargs["public_id"])
        return self.render_form(order, RefundConfirmForm())

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        order = self.get_order(kwargs["public_id"])
        form = RefundConfirmForm(request.POST)
        if not form.is_valid():
            return self.render_form(order, form, status=422)
        if order.status == OrderStatus.REFUNDED:
            messages.info(request, "This order was already refunded.")
            return HttpResponseRedirect(self.detail_url(order))
        try:
            services.order_refund(
                order_id=order.pk,
                reason=form.cleaned_data.get("reason") or "",
                actor=self.user,
            )
        except ApplicationError as exc:
            messages.error(request, exc.detail)
            return HttpResponseRedirect(self.detail_url(order))
        messages.success(
            request,
            f"Order {order.public_id} is refunded: "
            f"{format_money(order.total, order.currency)} goes back to the buyer and its "
            "cards are void.",
        )
        return HttpResponseRedirect(self.detail_url(order))


class DeliveryResendView(OrdersViewMixin, View):
    http_method_names = ["post"]

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        order = scoped(Order, self.merchant).filter(public_id=kwargs["public_id"]).first()
        if order is None:
            raise Http404("No such order")
        delivery = (
            scoped(CardDelivery, self.merchant)
            .select_related("card__gift_card")
            .filter(order=order, pk=kwargs["delivery_id"])
            .first()
        )
        if delivery is None:
            raise Http404("No such delivery")
        try:
            sent = services.delivery_resend(
                delivery_id=delivery.pk,
                actor=self.user,
            )
        except ApplicationError as exc:
            messages.error(request, exc.detail)
            return HttpResponseRedirect(self.detail_url(order))
        last4 = delivery.card.gift_card.last4
        if sent.status == "sent":
            messages.success(request, f"The card ending {last4} was sent again.")
        else:
            messages.warning(
                request,
                f"The card ending {last4} could not be sent again: "
                f"{sent.failure_reason or 'the message was not sent'}.",
            )
        return HttpResponseRedirect(self.detail_url(order))

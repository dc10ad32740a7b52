"""The buyer's pages: the order status page, the test provider's payment page, and a
recipient's card page (printable, and as a PDF); plus Stripe's webhook endpoint.

The status page opens with the signed ``?t=`` of the buyer's link (or for the signed-in
buyer); the test payment page with its own signed ``?t=``; a card page and its PDF with
the signed token in their path. Anything else is a 404, so order ids reveal nothing.
"""

from __future__ import annotations

import base64
import io
import json

import qrcode
import qrcode.image.svg
import stripe
import structlog
from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import dateformat, timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from core.errors import ApplicationError
from core.http import private
from core.money import format_money
from giftcards import codes
from giftcards.models import CardStatus, GiftCard
from merchants.branding import palette_for
from orders import selectors
from orders.card_images import PrintableCard, card_pdf_bytes
from orders.card_links import card_link_card
from orders.exceptions import CardLinkRefused
from orders.models import FulfilledCard, Order, OrderStatus, PaymentProvider
from orders.payments import testmode, testmode_enabled
from orders.payments.stripe_events import handle_event
from orders.services import (
    order_access_token,
    order_access_token_valid,
    order_mark_failed,
    order_mark_paid,
)

logger = structlog.get_logger(__name__)


def status_url(order: Order) -> str:
    path = reverse("orders:status", kwargs={"public_id": order.public_id})
    return f"{path}?t={order_access_token(order)}"


def _is_buyer(request: HttpRequest, order: Order) -> bool:
    return bool(
        request.user.is_authenticated and order.buyer_id and order.buyer_id == request.user.pk
    )


def _private(response: HttpResponse) -> HttpResponse:
    return private(response)


@require_http_methods(["GET", "HEAD"])
def order_status(request: HttpRequest, public_id: str) -> HttpResponse:
    order = selectors.order_for_status_page(public_id=public_id)
    if order is None or not (
        _is_buyer(request, order) or order_access_token_valid(order, request.GET.get("t", ""))
    ):
        raise Http404("No such order.")
    context = {
        "order": order,
        "merchant": order.merchant,
        "total": format_money(order.total, order.currency),
        "lines": selectors.status_page_lines(order),
        "checkout": request.GET.get("checkout", ""),
        "is_pending": order.status == OrderStatus.PENDING,
        "is_fulfilled": order.status == OrderStatus.FULFILLED,
    }
    return _private(render(request, "orders/status.html", context))


@require_http_methods(["GET", "HEAD", "POST"])
def pay_test(request: HttpRequest, public_id: str) -> HttpResponse:
    """The test provider's page: Confirm or Decline a pretend payment."""
    order = Order.objects.select_related("merchant").filter(public_id=public_id).first()
    token = request.POST.get("t", "") if request.method == "POST" else request.GET.get("t", "")
    if (
        order is None
        or order.provider != PaymentProvider.TEST
        or not testmode_enabled()
        or not testmode.payment_token_valid(order, token)
    ):
        raise Http404("No such payment.")
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "confirm":
                order = order_mark_paid(
                    order_id=order.pk,
                    provider_reference="",
                    amount=order.total,
                    currency=order.currency,
                )
                messages.success(request, "Test payment confirmed.")
            elif action == "decline":
                order_mark_failed(order_id=order.pk, reason="Declined on the test payment page.")
                messages.warning(request, "Test payment declined: nothing was charged.")
            else:
                return HttpResponse("Choose Confirm or Decline.", status=400)
        except ApplicationError as exc:
            messages.error(request, exc.detail)
        return HttpResponseRedirect(status_url(order))
    context = {
        "order": order,
        "merchant": order.merchant,
        "total": format_money(order.total, order.currency),
        "token": token,
        "payable": order.status == OrderStatus.PENDING,
    }
    return _private(render(request, "orders/pay_test.html", context))


def _qr_data_uri(text: str) -> str:
    image = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    buffer = io.BytesIO()
    image.save(buffer)
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode()


_USABLE = (CardStatus.ACTIVE, CardStatus.REDEEMED)


def _link_refused(request: HttpRequest, refused: CardLinkRefused) -> HttpResponse:
    """A link that does not open the card (forged, expired, or replaced by a newer one):
    a page saying so and what to do, with the status of a missing page, never the code."""
    logger.info("card_link_refused", code=refused.code)
    context = {"title": refused.title, "detail": refused.detail}
    response = render(request, "orders/card_link_refused.html", context, status=refused.status)
    return _private(response)


def _gift_message(gift: GiftCard) -> str:
    """The buyer's message to the recipient, when the card was bought as a gift."""
    fulfilled = FulfilledCard.objects.select_related("line").filter(gift_card=gift).first()
    if fulfilled is None or not fulfilled.line.is_gift:
        return ""
    return fulfilled.line.message


def _logo_url(gift: GiftCard) -> str:
    try:
        return gift.merchant.logo.url if gift.merchant.logo else ""
    except ValueError:  # a file field without a file
        return ""


def _expires_on(gift: GiftCard) -> str:
    if gift.expires_at is None:
        return ""
    return dateformat.format(timezone.localtime(gift.expires_at), "j M Y")


@require_http_methods(["GET", "HEAD"])
def card(request: HttpRequest, token: str) -> HttpResponse:
    """A delivered card: the link in the recipient's message is the card itself. It
    prints as a one-page card (a print stylesheet) and downloads as a PDF."""
    try:
        gift = card_link_card(token=token)
    except CardLinkRefused as refused:
        return _link_refused(request, refused)
    code = codes.format_code(codes.decrypt(gift.code_encrypted))
    context = {
        "card": gift,
        "merchant": gift.merchant,
        "code": code,
        "qr": _qr_data_uri(code),
        "amount": format_money(gift.initial_amount, gift.currency),
        "balance": format_money(gift.balance, gift.currency),
        "usable": gift.status in _USABLE,
        "message": _gift_message(gift),
        "token": token,
        "pdf_url": reverse("orders:card-pdf", kwargs={"token": token}),
        "brand_version": palette_for(gift.merchant.brand_colour).version,
        "logo_url": _logo_url(gift),
    }
    return _private(render(request, "orders/card.html", context))


@require_http_methods(["GET", "HEAD"])
def card_pdf(request: HttpRequest, token: str) -> HttpResponse:
    """The card page's card as a one-page PDF, for a card that can still be used."""
    try:
        gift = card_link_card(token=token)
    except CardLinkRefused as refused:
        return _link_refused(request, refused)
    if gift.status not in _USABLE:
        raise Http404("No such card.")
    printable = PrintableCard(
        merchant_name=gift.merchant.name,
        brand_colour=gift.merchant.brand_colour,
        amount=format_money(gift.initial_amount, gift.currency),
        amount_ascii=format_money(gift.initial_amount, gift.currency, symbol=False),
        code=codes.format_code(codes.decrypt(gift.code_encrypted)),
        expires_on=_expires_on(gift),
        message=_gift_message(gift),
        site_name=settings.PLATFORM_NAME,
    )
    response = HttpResponse(card_pdf_bytes(printable), content_type="application/pdf")
    slug = gift.merchant.slug or "card"
    response["Content-Disposition"] = f'attachment; filename="{slug}-gift-card.pdf"'
    return _private(response)


@csrf_exempt
@require_POST
def stripe_webhook(request: HttpRequest) -> HttpResponse:
    """Stripe's events, verified against ``STRIPE_WEBHOOK_SECRET`` before anything else."""
    secret = settings.STRIPE_WEBHOOK_SECRET
    if not secret:
        logger.warning("stripe_webhook_refused", reason="not configured")
        return HttpResponse("Not configured.", status=400, content_type="text/plain")
    try:
        stripe.Webhook.construct_event(
            request.body, request.headers.get("Stripe-Signature", ""), secret
        )
        event = json.loads(request.body)
    except (ValueError, stripe.SignatureVerificationError):
        logger.warning("stripe_webhook_refused", reason="signature")
        return HttpResponse("Invalid signature.", status=400, content_type="text/plain")
    if not isinstance(event, dict) or not event.get("id") or not event.get("type"):
        return HttpResponse("Not an event.", status=400, content_type="text/plain")
    handle_event(event)
    return HttpResponse(status=200)

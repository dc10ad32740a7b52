"""What a buyer can do from their order status page besides looking: send a card of the
order again (SF-5). The request carries the same signed access token as the page's link
(or comes from the signed-in buyer); anything else is a 404, as for the page itself."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.views.decorators.http import require_POST

from core.errors import ApplicationError
from orders.models import CardDelivery, Order
from orders.services import delivery_resend, order_access_token_valid
from orders.views import status_url


@require_POST
def resend_delivery(request: HttpRequest, public_id: str, delivery_id: int) -> HttpResponse:
    order = Order.objects.filter(public_id=public_id).first()
    is_buyer = bool(
        order is not None
        and request.user.is_authenticated
        and order.buyer_id
        and order.buyer_id == request.user.pk
    )
    if order is None or not (
        is_buyer or order_access_token_valid(order, request.POST.get("t", ""))
    ):
        raise Http404("No such order.")
    delivery = (
        CardDelivery.objects.select_related("card__gift_card")
        .filter(merchant_id=order.merchant_id, order=order, pk=delivery_id)
        .first()
    )
    if delivery is None:
        raise Http404("No such delivery.")
    last4 = delivery.card.gift_card.last4
    try:
        sent = delivery_resend(
            delivery_id=delivery.pk,
            actor=request.user if request.user.is_authenticated else None,
        )
    except ApplicationError as exc:
        messages.error(request, exc.detail)
    else:
        if sent.status == "sent":
            messages.success(request, f"The card ending {last4} was sent again to its recipient.")
        else:
            messages.warning(
                request, f"The card ending {last4} could not be sent again. Please try later."
            )
    response = HttpResponseRedirect(status_url(order))
    response["Referrer-Policy"] = "same-origin"
    return response

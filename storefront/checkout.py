"""From a valid purchase form to the payment page, through the orders service.

The storefront creates nothing itself: ``orders.services.order_create`` owns the order
and its rules, ``orders.payments.start_checkout`` the hand-over to the payment provider.
Their refusals (``ApplicationError`` with ``detail`` and ``field``) become form errors.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from core.errors import ApplicationError
from orders.payments import start_checkout
from orders.services import LineRequest, order_create
from storefront.forms import PurchaseForm

# The orders service names fields after its own arguments; the form names some differently.
_FORM_FIELD_FOR = {
    "is_gift": "purpose",
    "buyer_timezone": "deliver_at",
    "lines": "amount",
    "product": None,
}


def form_field_for(error: ApplicationError, form: PurchaseForm) -> str | None:
    """The form field a service refusal is about, or None for the whole form."""
    name = getattr(error, "field", None)
    if not name:
        return None
    name = _FORM_FIELD_FOR.get(name, name)
    if name is None or name not in form.fields or form[name].is_hidden:
        return None
    return name


def place_order(*, request: HttpRequest, form: PurchaseForm) -> str:
    """Create the order for a valid form and return the URL of its payment page.

    Raises the service's ``ApplicationError`` when the order or the checkout is refused.
    """
    data: dict[str, Any] = form.cleaned_data
    product = form.product
    line = LineRequest(
        product,
        data["amount"],
        quantity=data["quantity"],
        is_gift=form.is_gift,
        recipient_name=data["recipient_name"].strip(),
        recipient_email=data["recipient_email"],
        recipient_phone=data["recipient_phone"],
        message=data["message"].strip(),
        deliver_at=data["deliver_at"],
        buyer_timezone=data["timezone"],
    )
    user = request.user
    order = order_create(
        merchant=product.merchant,
        buyer=user if user.is_authenticated else None,
        buyer_email=data["buyer_email"],
        buyer_name=data["buyer_name"].strip(),
        lines=[line],
    )
    return start_checkout(order, request=request)

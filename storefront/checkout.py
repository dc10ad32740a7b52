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
from storefront.forms import Purchase, RecipientForm

# The orders service names fields after its own arguments; the form names some differently.
_FORM_FIELD_FOR = {
    "is_gift": "purpose",
    "buyer_timezone": "deliver_at",
    "lines": "amount",
    "product": None,
}


def show_refusal(error: ApplicationError, purchase: Purchase) -> None:
    """Put a service refusal on the field it is about (in the right recipient block for a
    gift's line), or above the form when it is about no field shown."""
    name = getattr(error, "field", None)
    name = _FORM_FIELD_FOR.get(name, name) if name else None
    line = getattr(error, "line", None)
    if name and purchase.is_gift and name in RecipientForm.base_fields:
        recipients = purchase.filled_recipients()
        if line is None and len(recipients) == 1:
            line = 0
        if isinstance(line, int) and 0 <= line < len(recipients):
            recipients[line].add_error(name, error.detail)
            return
    form = purchase.form
    if name is None or name not in form.fields or form[name].is_hidden:
        form.add_error(None, error.detail)
    else:
        form.add_error(name, error.detail)


def place_order(*, request: HttpRequest, purchase: Purchase) -> str:
    """Create the order for a valid purchase and return the URL of its payment page:
    one line for oneself (with its quantity), or one line for each recipient of a gift.

    Raises the service's ``ApplicationError`` when the order or the checkout is refused.
    """
    data: dict[str, Any] = purchase.form.cleaned_data
    product = purchase.product
    if purchase.is_gift:
        lines = [
            LineRequest(
                product,
                data["amount"],
                quantity=1,
                is_gift=True,
                recipient_name=r["recipient_name"].strip(),
                recipient_email=r["recipient_email"],
                recipient_phone=r["recipient_phone"],
                message=r["message"].strip(),
                deliver_at=r["deliver_at"],
                buyer_timezone=data["timezone"],
            )
            for r in (f.cleaned_data for f in purchase.filled_recipients())
        ]
    else:
        lines = [
            LineRequest(
                product, data["amount"], quantity=data["quantity"], buyer_timezone=data["timezone"]
            )
        ]
    user = request.user
    order = order_create(
        merchant=product.merchant,
        buyer=user if user.is_authenticated else None,
        buyer_email=data["buyer_email"],
        buyer_name=data["buyer_name"].strip(),
        lines=lines,
    )
    return start_checkout(order, request=request)

"""Refusals of order operations. Each names the field at fault (``field``: a
``LineRequest`` or order field, or None) and, for a line, its position (``line``)."""

from __future__ import annotations

from typing import Any

from core.errors import ApplicationError, ConflictError, NotFoundError, UnprocessableError


class OrderError(ApplicationError):
    code = "order_invalid"
    title = "Order refused"

    def __init__(
        self,
        detail: str | None = None,
        *,
        field: str | None = None,
        line: int | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.field = field
        self.line = line
        extra = dict(extra or {})
        if field is not None:
            extra.setdefault("field", field)
        if line is not None:
            extra.setdefault("line", line)
        super().__init__(detail, extra=extra)


class InvalidOrder(OrderError):
    """Bad input: an address, a quantity, a date, a message."""

    code = "order_invalid"
    title = "Order details are not valid"


class MerchantUnavailable(OrderError, UnprocessableError):
    code = "merchant_unavailable"
    status = 422
    title = "Shop unavailable"


class ProductUnavailable(OrderError, UnprocessableError):
    code = "product_unavailable"
    status = 422
    title = "Product unavailable"


class AmountNotAllowed(OrderError):
    code = "invalid_amount"
    title = "Invalid amount"


class AmountNotChargeable(AmountNotAllowed, UnprocessableError):
    """The payment provider cannot charge this amount in this currency exactly (its
    units are coarser than the platform's, e.g. KWD in steps of 0.010)."""

    code = "amount_not_chargeable"
    status = 422
    title = "Amount cannot be charged"


class CurrencyMismatch(OrderError, UnprocessableError):
    code = "currency_mismatch"
    status = 422
    title = "Currency mismatch"


class RecipientRequired(OrderError):
    code = "recipient_required"
    title = "Recipient required"


class InvalidDeliveryDate(OrderError):
    code = "invalid_delivery_date"
    title = "Invalid delivery date"


class OrderNotFound(OrderError, NotFoundError):
    code = "order_not_found"
    status = 404
    title = "Order not found"


class IllegalOrderTransition(OrderError, ConflictError):
    """The order is not in a state that allows this move; nothing was changed."""

    code = "illegal_order_transition"
    status = 409
    title = "Not possible for this order"


class PaymentMismatch(OrderError, UnprocessableError):
    """The provider reported a payment that does not match the order."""

    code = "payment_mismatch"
    status = 422
    title = "Payment does not match the order"


class RefundRefused(OrderError, UnprocessableError):
    code = "refund_refused"
    status = 422
    title = "Refund not possible"


class PaymentProviderError(OrderError):
    """The payment provider could not be reached or refused the checkout."""

    code = "payment_provider_error"
    status = 502
    title = "Payment provider unavailable"


class ResendRefused(OrderError, UnprocessableError):
    """The card cannot be sent again (void, refunded, expired, or not sent yet)."""

    code = "resend_refused"
    status = 422
    title = "Card cannot be sent again"


class ResendRateLimited(OrderError):
    """Too many resends of one card within the hour."""

    code = "resend_rate_limited"
    status = 429
    title = "Too many resends"


class CardLinkRefused(NotFoundError):
    """A card link that does not open the card: forged, altered, or naming no card. It
    answers as a missing page does (404), so a link reveals nothing about other cards."""

    code = "card_link_invalid"
    status = 404
    title = "This card link does not work"


class CardLinkExpired(CardLinkRefused):
    """A genuine link older than ``CARD_LINK_MAX_AGE_DAYS``."""

    code = "card_link_expired"
    title = "This card link has expired"


class CardLinkRevoked(CardLinkRefused):
    """A genuine link made before the card was sent again or claimed into a wallet."""

    code = "card_link_revoked"
    title = "This card link has been replaced"

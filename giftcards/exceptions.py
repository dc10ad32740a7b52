"""Refusals of gift card operations, each with the stable code of API.md."""

from core.errors import ApplicationError, NotFoundError, UnprocessableError


class InvalidAmount(ApplicationError):
    code = "invalid_amount"
    title = "Invalid amount"


class InvalidExpiry(ApplicationError):
    code = "invalid_expiry"
    title = "Invalid expiry date"


class InsufficientFunds(UnprocessableError):
    code = "insufficient_funds"
    title = "Insufficient funds"


class CardNotActive(UnprocessableError):
    code = "card_not_active"
    title = "Card not active"


class CurrencyMismatch(UnprocessableError):
    code = "currency_mismatch"
    title = "Currency mismatch"


class RefundExceedsRedemption(UnprocessableError):
    code = "refund_exceeds_redemption"
    title = "Refund exceeds redemption"


class NotRefundable(UnprocessableError):
    code = "not_refundable"
    title = "Transaction cannot be refunded"


class CardNotReloadable(UnprocessableError):
    code = "card_not_reloadable"
    title = "Card not reloadable"


class ProductUnavailable(UnprocessableError):
    code = "product_unavailable"
    title = "Product unavailable"


class ReasonRequired(ApplicationError):
    code = "reason_required"
    title = "Reason required"


class CardNotFound(NotFoundError):
    code = "card_not_found"
    title = "Card not found"


class TransactionNotFound(NotFoundError):
    code = "transaction_not_found"
    title = "Transaction not found"


class TooManyLookups(ApplicationError):
    code = "rate_limited"
    status = 429
    title = "Too many attempts"

    def __init__(self, retry_after: int) -> None:
        self.retry_after = retry_after
        super().__init__(
            f"Too many unknown codes were tried. Try again in {retry_after} seconds.",
            extra={"retry_after": retry_after},
        )

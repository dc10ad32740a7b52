"""Refusals of gift card operations, each with the stable code of API.md."""

from typing import Any

from core.errors import ApplicationError, ConflictError, NotFoundError, UnprocessableError


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


class IdempotencyKeyReused(ConflictError):
    """The idempotency key already names another money movement (another kind, card or
    amount); nothing was done. See ``giftcards.idempotency``."""

    code = "idempotency_key_reused"
    title = "Idempotency key reused"


class CardsAlreadyUsed(UnprocessableError):
    """Some of the cards to take back were spent from, voided or expired; nothing was
    voided. ``used`` holds those cards, ``total`` how many were asked for."""

    code = "cards_already_used"
    title = "Cards already used"

    def __init__(self, detail: str, *, used: list[Any], total: int) -> None:
        super().__init__(detail, extra={"used_cards": [card.public_id for card in used]})
        self.used = used
        self.total = total


class CardNotFound(NotFoundError):
    code = "card_not_found"
    title = "Card not found"


class TransactionNotFound(NotFoundError):
    code = "transaction_not_found"
    title = "Transaction not found"


class TooManyLookups(ApplicationError):
    """Too many unknown codes from one party: says who is braked and for how long.

    ``scope`` is the budget that is spent: ``key`` (an API key), ``user`` (a person at
    the till or in the dashboard), ``visitor`` (a storefront or wallet visitor),
    ``address`` (everyone on one internet address, on public pages) or ``merchant``
    (all anonymous lookups at one merchant)."""

    code = "rate_limited"
    status = 429
    title = "Too many attempts"

    def __init__(self, retry_after: int, *, scope: str = "", merchant_name: str = "") -> None:
        self.retry_after = retry_after
        self.scope = scope
        minutes = max(1, -(-retry_after // 60))
        self.wait = f"about {minutes} minute{'s' if minutes != 1 else ''}"
        super().__init__(
            _THROTTLE_MESSAGES.get(scope, _THROTTLE_MESSAGES[""]).format(
                wait=self.wait, merchant=merchant_name or "this shop"
            ),
            extra={"retry_after": retry_after, "limited_by": scope},
        )


_THROTTLE_MESSAGES = {
    "key": "This API key has tried too many unknown codes. Lookups by code with this key are "
    "paused for {wait}; other keys are not affected.",
    "user": "You have tried too many unknown codes. For security, your lookups by code are "
    "paused for {wait}; your colleagues can go on.",
    "visitor": "You have tried too many unknown codes. For security, please wait {wait} "
    "before trying another one.",
    "address": "Too many unknown codes were tried from your internet connection. Please wait "
    "{wait} before trying another one.",
    "merchant": "Too many unknown codes have been tried on {merchant}'s gift cards recently, "
    "so checking a code here is paused for {wait}. Your card is safe: try again later, or "
    "ask {merchant} to check it for you.",
    "busy": "Too many lookups by code are running at once for you. Please try again in a moment.",
    "": "Too many unknown codes were tried. Please wait {wait} before trying another one.",
}

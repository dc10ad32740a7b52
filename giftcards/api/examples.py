"""Example requests, responses and refusals of the gift card API, as the OpenAPI document
shows them to integrators. A test checks every example against the schema it illustrates."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiExample

from core.api_schema import Refusal
from giftcards.exceptions import (
    CardNotActive,
    CardNotFound,
    CardNotReloadable,
    CurrencyMismatch,
    InsufficientFunds,
    InvalidAmount,
    InvalidExpiry,
    NotRefundable,
    ProductUnavailable,
    RefundExceedsRedemption,
    TooManyLookups,
    TransactionNotFound,
)

CARD: dict[str, Any] = {
    "id": "gc_01j9z3k7q8r2m4n6p8s0t2v4w6",
    "object": "gift_card",
    "last4": "ZB6Y",
    "currency": "EUR",
    "initial_amount": 2500,
    "balance": 1250,
    "status": "active",
    "reloadable": True,
    "expires_at": "2027-06-30T23:59:59Z",
    "created_at": "2026-06-30T09:12:44Z",
    "updated_at": "2026-07-02T17:03:10Z",
    "product": None,
    "recipient_email": "ana@example.com",
    "recipient_phone": "",
    "metadata": {"order": "1001"},
}
ISSUED_CARD = {
    **CARD,
    "balance": 2500,
    "updated_at": CARD["created_at"],
    "code": "7KQ2-M9XD-4HTR-ZB6Y",
}
REDEMPTION: dict[str, Any] = {
    "id": "txn_01j9z5c1d3f5h7k9m1p3r5t7v9",
    "object": "transaction",
    "gift_card": CARD["id"],
    "kind": "redeem",
    "amount": -1250,
    "balance_after": 1250,
    "currency": "EUR",
    "reference": "POS-0042",
    "reason": "",
    "refund_of": None,
    "created_at": "2026-07-02T17:03:10Z",
}


def movement(kind: str, amount: int, balance: int, **changes: Any) -> dict[str, Any]:
    """``{"transaction": ..., "gift_card": ...}`` after a ledger entry of ``kind``."""
    transaction = {**REDEMPTION, "kind": kind, "amount": amount, "balance_after": balance}
    return {
        "transaction": {**transaction, **changes},
        "gift_card": {**CARD, "balance": balance},
    }


def response(name: str, value: Any, status: int = 200) -> OpenApiExample:
    return OpenApiExample(name, value=value, response_only=True, status_codes=[str(status)])


def request(name: str, value: Any) -> OpenApiExample:
    return OpenApiExample(name, value=value, request_only=True)


CARD_NOT_FOUND = Refusal.of(
    CardNotFound,
    when="no card with this id belongs to this merchant",
    detail="No gift card with that id.",
)
CODE_NOT_FOUND = Refusal.of(
    CardNotFound,
    when="no card of this merchant has this code; each unknown code counts against the "
    "key's lookup budget (a code that fails its check character does not)",
    detail="No gift card matches that code.",
)
TRANSACTION_NOT_FOUND = Refusal.of(
    TransactionNotFound,
    when="no transaction with this id belongs to this merchant",
    detail="No transaction with that id.",
)
LOOKUPS_PAUSED = Refusal.of(
    TooManyLookups,
    when="this key tried too many unknown codes, so lookups by code are paused for it "
    "(`limited_by`: `key`), or too many of its lookups are running at once (`busy`); "
    "`retry_after` says how long, in seconds",
    detail="This API key has tried too many unknown codes. Lookups by code with this key are "
    "paused for about 10 minutes; other keys are not affected.",
    retry_after=600,
    limited_by="key",
)
INVALID_AMOUNT = Refusal.of(
    InvalidAmount,
    when="the amount is not a whole number of minor units above 0, or is over the "
    "platform's maximum",
    detail="amount: The amount must be above 0.",
    errors=[{"field": "amount", "message": "The amount must be above 0."}],
)
INVALID_ISSUE_AMOUNT = Refusal.of(
    InvalidAmount,
    when="the amount is not above 0, is over the platform's maximum, or is not one the "
    "product allows",
    detail="This product comes in these amounts only: 2500, 5000.",
)
INVALID_RELOAD_AMOUNT = Refusal.of(
    InvalidAmount,
    when="the amount is not above 0, or the balance would go over the platform's maximum",
    detail="The card's balance would exceed what the platform allows.",
)
INVALID_EXPIRY = Refusal.of(
    InvalidExpiry,
    when="`expires_at` is in the past or sooner than the platform allows",
    detail="The expiry date must be in the future.",
)
INSUFFICIENT_FUNDS = Refusal.of(
    InsufficientFunds,
    when="the amount is more than the balance (`balance` says what is left); nothing is spent",
    detail="The card holds 700; 1250 was asked.",
    balance=700,
    currency="EUR",
)
CARD_NOT_ACTIVE = Refusal.of(
    CardNotActive,
    when="the card is void, expired or not yet active",
    detail="This card has expired.",
)
CARD_ALREADY_INACTIVE = Refusal.of(
    CardNotActive,
    when="the card is already void or expired",
    detail="This card is already void.",
)
CURRENCY_MISMATCH = Refusal.of(
    CurrencyMismatch,
    when="`currency` is not the card's (or the product's) currency",
    detail="This card is in EUR; the request was in USD.",
)
CARD_NOT_RELOADABLE = Refusal.of(
    CardNotReloadable,
    when="the card's product does not allow reloads",
    detail="This card cannot be reloaded.",
)
PRODUCT_UNAVAILABLE = Refusal.of(
    ProductUnavailable,
    when="`product` is not one of this merchant's products, or is not on sale",
    detail="No product with that id.",
)
NOT_REFUNDABLE = Refusal.of(
    NotRefundable,
    when="the transaction is not a redemption",
    detail="Only redemptions can be refunded.",
)
REFUND_EXCEEDS_REDEMPTION = Refusal.of(
    RefundExceedsRedemption,
    when="the amount is more than what is left to refund of this redemption (`refundable`)",
    detail="At most 500 of this redemption can still be refunded.",
    refundable=500,
)
REFUND_CARD_NOT_ACTIVE = Refusal.of(
    CardNotActive,
    when="the card has been voided or has expired since",
    detail="This card is void.",
)

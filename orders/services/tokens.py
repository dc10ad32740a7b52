"""The signed ``?t=`` token of an order's status page link (valid for 30 days), made and
checked through ``core.signing``. Card links live in ``orders.card_links``."""

from __future__ import annotations

from datetime import timedelta

from core.signing import TokenSigner
from orders.models import Order

ACCESS_TOKEN_MAX_AGE = timedelta(days=30)
_ACCESS_TOKENS = TokenSigner(salt="orders.status-access", max_age=ACCESS_TOKEN_MAX_AGE)


def order_access_token(order: Order) -> str:
    """The ``?t=`` of the buyer's status page link: signed, valid for 30 days."""
    return _ACCESS_TOKENS.sign_detached(order.public_id)


def order_access_token_valid(order: Order, token: str) -> bool:
    return _ACCESS_TOKENS.check_detached(order.public_id, token)

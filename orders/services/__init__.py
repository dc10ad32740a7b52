"""Every change of an order, one module per concern (SF-2..SF-5):

- ``state``: the state machine and how a move is checked and written;
- ``ordering``: placing an order (``order_create``) and giving up an unpaid one;
- ``payment``: the checkout it is paid through, paid (then fulfilment) or failed;
- ``fulfilment``: issuing the cards of a paid order, and the buyer's receipt;
- ``refunds``: paid or fulfilled -> refunded, voiding the cards;
- ``delivery``: sending the cards to whoever they are for, and resending them;
- ``sweeps``: periodic sweeps (abandoned checkouts);
- ``tokens``: the signed link to the buyer's order page.

Callers import the services from here (``from orders.services import order_create``).
"""

from orders.card_links import card_link_token
from orders.services.delivery import (
    RESEND_LIMIT,
    RESEND_WINDOW,
    delivery_resend,
    delivery_send,
    due_delivery_ids,
)
from orders.services.fulfilment import order_fulfil
from orders.services.ordering import (
    MAX_LINES,
    MAX_SCHEDULE_AHEAD,
    PAST_GRACE,
    LineRequest,
    order_cancel,
    order_create,
)
from orders.services.payment import order_checkout_started, order_mark_failed, order_mark_paid
from orders.services.refunds import order_refund
from orders.services.sweeps import ABANDONED_REASON, orders_expire_abandoned
from orders.services.tokens import (
    ACCESS_TOKEN_MAX_AGE,
    order_access_token,
    order_access_token_valid,
)

__all__ = [
    "ABANDONED_REASON",
    "ACCESS_TOKEN_MAX_AGE",
    "MAX_LINES",
    "MAX_SCHEDULE_AHEAD",
    "PAST_GRACE",
    "RESEND_LIMIT",
    "RESEND_WINDOW",
    "LineRequest",
    "card_link_token",
    "delivery_resend",
    "delivery_send",
    "due_delivery_ids",
    "order_access_token",
    "order_access_token_valid",
    "order_cancel",
    "order_checkout_started",
    "order_create",
    "order_fulfil",
    "order_mark_failed",
    "order_mark_paid",
    "order_refund",
    "orders_expire_abandoned",
]

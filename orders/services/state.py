"""The order's state machine: which moves are legal, and how a move is written.

::

    pending -> paid -> fulfilled -> refunded
    pending -> failed | cancelled          paid -> refunded

Every service that changes an order's status locks the order row (``orders.locks``),
checks the move is legal before writing anything (an illegal move raises
``IllegalOrderTransition`` from ``refuse_transition`` and changes nothing) and writes it
through ``move_order``, which logs it. Asking for the state the order is already in (a
provider repeating itself) is a no-op that returns the order unchanged.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import structlog

from orders.exceptions import IllegalOrderTransition
from orders.models import Order

logger = structlog.get_logger(__name__)


def refuse_transition(order: Order, *, action: str) -> IllegalOrderTransition:
    """The error to raise when ``order`` cannot be ``action`` from its status (logged)."""
    logger.warning(
        "order_transition_refused", order=order.public_id, status=order.status, action=action
    )
    label = order.get_status_display().lower()
    return IllegalOrderTransition(
        f"This order cannot be {action}: it is {label}.",
        extra={"status": order.status},
    )


def move_order(order: Order, *, status: str, now: datetime, **fields: Any) -> None:
    """Write the locked ``order``'s move to ``status`` with ``fields``, and log it. The caller
    has checked the move is legal."""
    previous = order.status
    order.status = status
    order.updated_at = now
    for name, value in fields.items():
        setattr(order, name, value)
    order.save(update_fields=["status", "updated_at", *fields])
    logger.info(
        "order_status_changed",
        order=order.public_id,
        merchant_id=order.merchant_id,
        previous=previous,
        status=status,
    )

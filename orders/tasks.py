"""Celery tasks of the orders app: take ids, call a service, idempotent."""

from __future__ import annotations

from datetime import timedelta

import structlog
from celery import shared_task
from django.conf import settings

from orders.models import CardDelivery
from orders.services import delivery_send, due_delivery_ids, orders_expire_abandoned

logger = structlog.get_logger(__name__)


@shared_task(name="orders.send_delivery", acks_late=True)
def send_delivery(delivery_id: int) -> None:
    """Send one delivery if it is due and still scheduled (a repeat does nothing)."""
    _send_one(delivery_id)


@shared_task(name="orders.send_due_deliveries", acks_late=True)
def send_due_deliveries() -> int:
    """Send every scheduled delivery whose time has come, each exactly once, even with
    several workers running this at the same minute."""
    sent = 0
    while True:
        ids = due_delivery_ids()
        done = sum(1 for pk in ids if _send_one(pk) is not None)
        sent += done
        # Stop when the batch was not full, or every row was taken by another worker.
        if len(ids) < 500 or done == 0:
            break
    if sent:
        logger.info("due_deliveries_sent", count=sent)
    return sent


@shared_task(name="orders.expire_abandoned_orders", acks_late=True)
def expire_abandoned() -> int:
    """Cancel the pending orders nobody paid within ``ORDER_PENDING_TTL_HOURS`` (a repeat,
    or two workers at once, cancel each order once)."""
    return orders_expire_abandoned(older_than=timedelta(hours=settings.ORDER_PENDING_TTL_HOURS))


def _send_one(delivery_id: int) -> CardDelivery | None:
    # One broken delivery must not hold up the others: it stays scheduled, is logged,
    # and is tried again next minute.
    try:
        return delivery_send(delivery_id=delivery_id)
    except Exception:
        logger.exception("card_delivery_error", delivery_id=delivery_id)
        return None


# --- Old names, kept for one release (see core.tasks) --------------------------------


@shared_task(name="orders.expire_abandoned", acks_late=True)
def expire_abandoned_old_name() -> int:
    """Alias of ``orders.expire_abandoned_orders`` for messages queued before the rename."""
    return expire_abandoned()

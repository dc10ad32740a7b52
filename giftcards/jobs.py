"""Periodic gift card jobs (OP-1); ``giftcards.tasks`` holds the Celery tasks beat runs
them through.

The job functions do the work and are called directly by tests and commands; the tasks
only wrap them. Every job is chunked and idempotent: running it twice, or two workers
running it at once, changes nothing the second time, because each card is re-checked
under its row lock by the service that changes it.
"""

from __future__ import annotations

from datetime import datetime

import structlog
from django.utils import timezone

from core.errors import ApplicationError
from giftcards import services
from giftcards.models import CardStatus, GiftCard
from merchants.models import Merchant

logger = structlog.get_logger(__name__)

# Cards in these states can still run past their date; void and expired ones are final.
EXPIRABLE_STATUSES = (CardStatus.ACTIVE, CardStatus.REDEEMED, CardStatus.PENDING)


def expire_due_cards(*, now: datetime | None = None, batch_size: int = 500) -> int:
    """Expire every card whose ``expires_at`` is at or before ``now``; return how many.

    Cards are read in chunks of ``batch_size`` ids (keyset, ordered by id, the order
    locks are taken in everywhere) and each is expired by ``services.giftcard_expire``
    in its own transaction, which books the remaining balance as breakage. ``now`` only
    bounds the selection: the service re-checks the date against the clock under the
    lock, so a card is never expired early.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    now = now or timezone.now()
    due = GiftCard.objects.filter(status__in=EXPIRABLE_STATUSES, expires_at__lte=now)
    expired = 0
    last_id = 0
    while True:
        batch = list(
            due.filter(pk__gt=last_id).order_by("pk").values_list("pk", "merchant_id")[:batch_size]
        )
        if not batch:
            break
        last_id = batch[-1][0]
        merchants = Merchant.objects.in_bulk({merchant_id for _, merchant_id in batch})
        for card_id, merchant_id in batch:
            try:
                entry = services.giftcard_expire(merchant=merchants[merchant_id], card_id=card_id)
            except ApplicationError as exc:
                # One refused card must not hold back the rest; the next run retries it.
                logger.warning("gift_card_expiry_refused", card_id=card_id, error=exc.code)
                continue
            if entry is not None:
                expired += 1
    logger.info("gift_cards_expired", count=expired)
    return expired

"""Celery tasks of the merchants app, which owns the API's stored idempotent responses
(``merchants.idempotency``)."""

from __future__ import annotations

import structlog
from celery import shared_task

from merchants import idempotency

logger = structlog.get_logger(__name__)


@shared_task(name="merchants.purge_idempotency_records")
def purge_idempotency_records() -> int:
    """Beat: daily at 03:00 UTC ("purge-idempotency-records"). Deletes stored API
    responses older than the idempotency retention (48 hours); a repeat finds nothing."""
    deleted = idempotency.purge_expired()
    logger.info("idempotency_records_purged", count=deleted)
    return deleted


# --- Old names, kept for one release -------------------------------------------------
# Messages queued under an old name before the deploy still run; remove next release.


@shared_task(name="giftcards.jobs.purge_idempotency_records")
def purge_idempotency_records_old_name() -> int:
    """Alias of ``merchants.purge_idempotency_records`` for messages queued before it
    moved here from the gift card app."""
    return purge_idempotency_records()

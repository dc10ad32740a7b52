"""Celery tasks of the gift card app. Each takes ids, reloads what it needs, calls a
service and is idempotent: running it twice has the effect of running it once."""

from __future__ import annotations

import structlog
from celery import shared_task

from giftcards import bulk, jobs

logger = structlog.get_logger(__name__)


@shared_task(name="giftcards.issue_bulk_cards", acks_late=True)
def bulk_issue(job_id: int) -> None:
    """Issue the cards of a ``BulkIssueJob``; rows already issued are skipped."""
    job = bulk.bulk_job_run(job_id=job_id)
    if job is not None:
        logger.info(
            "bulk_issue_ran",
            job=job.public_id,
            status=job.status,
            total=job.total,
            succeeded=job.succeeded,
            failed=job.failed,
        )


@shared_task(name="giftcards.expire_gift_cards")
def expire_gift_cards() -> int:
    """Beat: daily at 02:00 UTC ("expire-gift-cards")."""
    return jobs.expire_due_cards()


# --- Old names, kept for one release (see core.tasks) --------------------------------


@shared_task(name="giftcards.tasks.bulk_issue", acks_late=True)
def bulk_issue_old_name(job_id: int) -> None:
    """Alias of ``giftcards.issue_bulk_cards`` for messages queued before the rename."""
    bulk_issue(job_id)


@shared_task(name="giftcards.jobs.expire_gift_cards")
def expire_gift_cards_old_name() -> int:
    """Alias of ``giftcards.expire_gift_cards`` for messages queued before the rename."""
    return expire_gift_cards()

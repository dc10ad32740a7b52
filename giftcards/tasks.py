"""Celery tasks of the gift card app. Each takes ids, reloads what it needs, calls a
service and is idempotent: running it twice has the effect of running it once."""

from __future__ import annotations

import structlog
from celery import shared_task

from giftcards import bulk

logger = structlog.get_logger(__name__)


@shared_task(name="giftcards.tasks.bulk_issue", acks_late=True)
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

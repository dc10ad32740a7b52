"""Bulk issuing jobs: created here with everything the task needs stored on them, queued
on commit, and run by ``bulk_job_run`` (``giftcards.tasks.bulk_issue``), which issues
the cards a chunk of rows at a time, each chunk in one transaction of
``services.giftcards_issue_many``, and records progress after every chunk.

Runs are idempotent. Row ``n`` is issued under its own idempotency key
(``giftcards.idempotency.bulk_row_key``), so a re-run (a redelivered task, a retry after
a crash, two workers at once) gets the row's first card back from the service and
issues every row at most once. A chunk is issued whole or not at all, so a crash leaves
the rows of the chunks before it issued and none of its own. Each card also carries
``metadata = {"bulk_job": <job id>, "row": n}``, which the report reads.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import User
from core.errors import ApplicationError
from core.money import MAX_AMOUNT
from giftcards import services
from giftcards.bulk.parsing import MAX_ROWS, parse_csv
from giftcards.exceptions import InvalidAmount, ProductUnavailable
from giftcards.idempotency import bulk_row_key
from giftcards.models import BulkIssueJob, BulkIssueKind, BulkIssueStatus, GiftCard, Product
from merchants.models import Merchant

CHUNK_SIZE = 100


def _check_product(product: Product | None, *, merchant: Merchant) -> None:
    if product is not None and (product.merchant_id != merchant.pk or not product.is_active):
        raise ProductUnavailable("This product is not available.")


def _enqueue(job: BulkIssueJob) -> None:
    from giftcards.tasks import bulk_issue

    job_id = job.pk
    transaction.on_commit(lambda: bulk_issue.delay(job_id))


@transaction.atomic
def bulk_job_create_count(
    *,
    merchant: Merchant,
    actor: User,
    count: int,
    amount: int,
    product: Product | None = None,
    expires_at: datetime | None = None,
) -> BulkIssueJob:
    """Queue ``count`` identical cards of ``amount`` minor units."""
    if isinstance(count, bool) or not 1 <= count <= MAX_ROWS:
        raise InvalidAmount(f"Issue between 1 and {MAX_ROWS:,} cards at a time.")
    if isinstance(amount, bool) or amount <= 0 or amount > MAX_AMOUNT:
        raise InvalidAmount("The amount must be above 0 and within the platform's limit.")
    _check_product(product, merchant=merchant)
    job = BulkIssueJob.objects.create(
        merchant=merchant,
        created_by=actor,
        kind=BulkIssueKind.COUNT,
        currency=product.currency if product else merchant.currency,
        amount=amount,
        product=product,
        expires_at=expires_at,
        total=count,
    )
    _enqueue(job)
    return job


@transaction.atomic
def bulk_job_create_csv(
    *,
    merchant: Merchant,
    actor: User,
    data: bytes,
    filename: str = "",
    product: Product | None = None,
    expires_at: datetime | None = None,
) -> BulkIssueJob:
    """Parse an upload and queue one card per row. Rows that fail validation are kept
    and reported by the run, with their row numbers; they never stop the others."""
    _check_product(product, merchant=merchant)
    currency = product.currency if product else merchant.currency
    parsed = parse_csv(data, currency=currency)
    job = BulkIssueJob.objects.create(
        merchant=merchant,
        created_by=actor,
        kind=BulkIssueKind.CSV,
        currency=currency,
        product=product,
        expires_at=expires_at,
        filename=filename[:255],
        rows=parsed.rows,
        total=len(parsed.rows),
    )
    _enqueue(job)
    return job


@transaction.atomic
def bulk_job_requeue(*, merchant: Merchant, job_id: int) -> BulkIssueJob:
    """Run a failed job again; the rows it already issued are skipped."""
    job = BulkIssueJob.objects.select_for_update().filter(merchant=merchant, pk=job_id).first()
    if job is None or job.status != BulkIssueStatus.FAILED:
        raise ApplicationError("Only a job that stopped with an error can be run again.")
    job.status = BulkIssueStatus.QUEUED
    job.failure_reason = ""
    job.finished_at = None
    job.save(update_fields=["status", "failure_reason", "finished_at"])
    _enqueue(job)
    return job


@dataclass(frozen=True)
class RowSpec:
    row: int
    amount: int | None
    recipient_email: str = ""
    recipient_phone: str = ""
    reference: str = ""
    error: str = ""


def row_specs(job: BulkIssueJob) -> Iterator[RowSpec]:
    if job.kind == BulkIssueKind.COUNT:
        for number in range(1, job.total + 1):
            yield RowSpec(row=number, amount=job.amount)
        return
    for row in job.rows:
        yield RowSpec(
            row=int(row["row"]),
            amount=row.get("amount"),
            recipient_email=row.get("recipient_email", ""),
            recipient_phone=row.get("recipient_phone", ""),
            reference=row.get("reference", ""),
            error=row.get("error", ""),
        )


def job_cards(job: BulkIssueJob) -> QuerySet[GiftCard]:
    # The created_at bound keeps the JSON filter to the merchant's recent cards, on the
    # (merchant, -created_at) index, however many cards the merchant has.
    return GiftCard.objects.filter(
        merchant_id=job.merchant_id,
        created_at__gte=job.created_at,
        metadata__bulk_job=job.public_id,
    )


def _chunks(items: Iterable[RowSpec], size: int) -> Iterator[list[RowSpec]]:
    chunk: list[RowSpec] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _card_to_issue(job: BulkIssueJob, spec: RowSpec) -> services.CardToIssue:
    assert spec.amount is not None
    return services.CardToIssue(
        amount=spec.amount,
        idempotency_key=bulk_row_key(job=job.public_id, row=spec.row),
        recipient_email=spec.recipient_email,
        recipient_phone=spec.recipient_phone,
        metadata={"bulk_job": job.public_id, "row": spec.row},
        reference=spec.reference or f"bulk {job.public_id}",
    )


def _issue_rows(
    job: BulkIssueJob, specs: list[RowSpec]
) -> list[services.IssuedCard | ApplicationError]:
    """Issue the cards of a chunk's rows in one transaction; for each row its card (new,
    or ``replayed`` when an earlier run issued it) or its refusal. The row's key alone
    keeps it to one card, also when two runs of the job race
    (``giftcards.idempotency.bulk_row_key``)."""
    return services.giftcards_issue_many(
        merchant=job.merchant,
        cards=[_card_to_issue(job, spec) for spec in specs],
        currency=job.currency,
        product=job.product,
        expires_at=job.expires_at,
        actor=job.created_by,
    )


def _save_progress(job: BulkIssueJob, **fields: Any) -> None:
    for name, value in fields.items():
        setattr(job, name, value)
    BulkIssueJob.objects.filter(pk=job.pk).update(**fields)


def bulk_job_run(*, job_id: int) -> BulkIssueJob | None:
    """Issue the job's cards, skipping rows issued by an earlier run. Safe to call again
    at any time; a finished job is left as it is."""
    job = (
        BulkIssueJob.objects.select_related("merchant", "product", "created_by")
        .filter(pk=job_id)
        .first()
    )
    if job is None or job.status == BulkIssueStatus.DONE:
        return job
    _save_progress(
        job,
        status=BulkIssueStatus.RUNNING,
        started_at=job.started_at or timezone.now(),
        failure_reason="",
    )
    processed = succeeded = failed = 0
    errors: list[dict[str, Any]] = []
    try:
        for chunk in _chunks(row_specs(job), CHUNK_SIZE):
            issuable = [spec for spec in chunk if not spec.error and spec.amount is not None]
            answers = iter(_issue_rows(job, issuable) if issuable else [])
            for spec in chunk:
                processed += 1
                if spec.error or spec.amount is None:
                    failed += 1
                    errors.append({"row": spec.row, "message": spec.error or "No amount."})
                    continue
                answer = next(answers)
                if isinstance(answer, ApplicationError):
                    failed += 1
                    errors.append({"row": spec.row, "message": str(answer.detail)})
                    if job.kind == BulkIssueKind.COUNT:
                        # Every card of a count job is the same: the first refusal is
                        # every card's refusal, so the job stops with it.
                        _save_progress(
                            job,
                            status=BulkIssueStatus.FAILED,
                            processed=processed,
                            succeeded=succeeded,
                            failed=failed,
                            errors=errors,
                            failure_reason=str(answer.detail)[:500],
                            finished_at=timezone.now(),
                        )
                        return job
                else:
                    succeeded += 1
            _save_progress(
                job, processed=processed, succeeded=succeeded, failed=failed, errors=errors
            )
    except Exception:
        _save_progress(
            job,
            status=BulkIssueStatus.FAILED,
            failure_reason=(
                f"Stopped by an unexpected error after {max(processed - 1, 0):,} of "
                f"{job.total:,} rows. Run it again: cards already issued are not issued twice."
            ),
            finished_at=timezone.now(),
        )
        raise
    _save_progress(job, status=BulkIssueStatus.DONE, finished_at=timezone.now())
    return job

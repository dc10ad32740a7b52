"""Bulk issuance (GC-9): count and amount, or one card per row of an uploaded CSV file.

A job is created here (``bulk_job_create_count`` / ``bulk_job_create_csv``) with
everything the task needs stored on it, and ``giftcards.tasks.bulk_issue`` runs it on
commit. ``bulk_job_run`` issues the cards through ``services.giftcard_issue``, each card
in its own transaction, and records progress after every chunk.

Runs are idempotent. Row ``n`` is issued under its own idempotency key
(``giftcards.idempotency.bulk_row_key``), so a re-run (a redelivered task, a retry after
a crash, two workers at once) gets the row's first card back from the service and
issues every row at most once. Each card also carries
``metadata = {"bulk_job": <job id>, "row": n}``, which the report reads.

Amounts, phone numbers and email addresses in a file are read by the same rules as
anywhere else (``core.money.parse_amount``, ``core.contact``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import User
from core.contact import InvalidEmail, InvalidPhone, normalise_email, normalise_phone
from core.errors import ApplicationError
from core.money import AmountInvalid, format_money, format_plain, parse_amount
from giftcards import codes, services
from giftcards.exceptions import InvalidAmount, ProductUnavailable
from giftcards.idempotency import bulk_row_key
from giftcards.models import (
    BulkIssueJob,
    BulkIssueKind,
    BulkIssueStatus,
    GiftCard,
    Product,
)
from merchants.models import Merchant

MAX_ROWS = 10_000
MAX_UPLOAD_BYTES = 2 * 1024 * 1024
CHUNK_SIZE = 100
COLUMNS = ("amount", "recipient_email", "recipient_phone", "reference")
REPORT_COLUMNS = (
    "row",
    "status",
    "card_id",
    "last4",
    "code",
    "amount",
    "currency",
    "recipient_email",
    "recipient_phone",
    "reference",
    "message",
)

# Spreadsheet programs run cells starting with these as formulas.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class BulkUploadInvalid(ApplicationError):
    """The file as a whole cannot be used (not CSV, wrong header, too many rows)."""

    code = "bulk_upload_invalid"
    title = "Upload refused"


# --- CSV parsing -----------------------------------------------------------------------


@dataclass(frozen=True)
class ParsedCsv:
    rows: list[dict[str, Any]]

    @property
    def invalid(self) -> int:
        return sum(1 for row in self.rows if row["error"])


def _delimiter(header_line: str) -> str:
    # Column names contain none of these, so the header line alone decides: spreadsheets
    # in many European locales save with ";" because "," is their decimal mark.
    counts = {d: header_line.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _header(cells: list[str]) -> list[str]:
    names = [cell.strip().lower().replace(" ", "_").replace("-", "_") for cell in cells]
    if not any(names):
        raise BulkUploadInvalid("The first line must be a header row naming the columns.")
    unknown = [name for name in names if name and name not in COLUMNS]
    if unknown:
        raise BulkUploadInvalid(
            f"Unknown column(s): {', '.join(unknown[:5])}. "
            f"The columns are: {', '.join(COLUMNS)} (only amount is required)."
        )
    if "amount" not in names:
        raise BulkUploadInvalid(
            "The header row has no amount column. "
            f"The columns are: {', '.join(COLUMNS)} (only amount is required)."
        )
    duplicates = sorted({name for name in names if name and names.count(name) > 1})
    if duplicates:
        raise BulkUploadInvalid(f"These columns appear twice: {', '.join(duplicates)}.")
    return names


def _parse_row(number: int, values: dict[str, str], *, currency: str) -> dict[str, Any]:
    row: dict[str, Any] = {
        "row": number,
        "amount": None,
        "recipient_email": values.get("recipient_email", "").strip(),
        "recipient_phone": values.get("recipient_phone", "").strip(),
        "reference": values.get("reference", "").strip(),
        "error": "",
    }
    problems: list[str] = []
    try:
        row["amount"] = parse_amount(values.get("amount", ""), currency)
    except AmountInvalid as exc:
        problems.append(f"amount: {exc}")
    if row["recipient_email"]:
        try:
            row["recipient_email"] = normalise_email(row["recipient_email"])
        except InvalidEmail:
            problems.append("recipient_email: not a valid email address.")
    if row["recipient_phone"]:
        try:
            row["recipient_phone"] = normalise_phone(row["recipient_phone"])
        except InvalidPhone as exc:
            problems.append(f"recipient_phone: {exc}")
    if len(row["reference"]) > 200:
        problems.append("reference: at most 200 characters.")
    if problems:
        row["error"] = " ".join(problems)
    return row


def parse_csv(data: bytes, *, currency: str) -> ParsedCsv:
    """The rows of an upload, each validated on its own; file-level problems raise
    ``BulkUploadInvalid``. Row numbers count the header as row 1, as a spreadsheet shows
    them, so an error report points at the line the person sees."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise BulkUploadInvalid("The file is larger than 2 MB. Split it into smaller files.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BulkUploadInvalid(
            "The file is not UTF-8 text. Save it as “CSV UTF-8” and upload it again."
        ) from None
    if "\x00" in text:
        raise BulkUploadInvalid("This is not a CSV text file.")
    first_line = text.split("\n", 1)[0]
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(first_line))
    rows: list[dict[str, Any]] = []
    try:
        header: list[str] | None = None
        for number, cells in enumerate(reader, start=1):
            if header is None:
                header = _header(cells)
                continue
            if not any(cell.strip() for cell in cells):
                continue  # blank lines, often at the end of a file
            if len(rows) >= MAX_ROWS:
                raise BulkUploadInvalid(
                    f"The file has more than {MAX_ROWS:,} rows. "
                    f"Split it into files of at most {MAX_ROWS:,} rows."
                )
            if len(cells) > len(header):
                rows.append(
                    {
                        "row": number,
                        "amount": None,
                        "recipient_email": "",
                        "recipient_phone": "",
                        "reference": "",
                        "error": "This row has more values than the header has columns.",
                    }
                )
                continue
            values = {name: value for name, value in zip(header, cells, strict=False) if name}
            rows.append(_parse_row(number, values, currency=currency))
    except csv.Error as exc:
        raise BulkUploadInvalid(f"The file is not valid CSV (line {reader.line_num}).") from exc
    if header is None:
        raise BulkUploadInvalid("The file is empty.")
    if not rows:
        raise BulkUploadInvalid("The file has a header row but no cards to issue.")
    return ParsedCsv(rows=rows)


# --- Creating jobs ---------------------------------------------------------------------


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
    if isinstance(amount, bool) or amount <= 0 or amount > services.MAX_AMOUNT:
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


# --- Running jobs ----------------------------------------------------------------------


@dataclass(frozen=True)
class _RowSpec:
    row: int
    amount: int | None
    recipient_email: str = ""
    recipient_phone: str = ""
    reference: str = ""
    error: str = ""


def _row_specs(job: BulkIssueJob) -> Iterator[_RowSpec]:
    if job.kind == BulkIssueKind.COUNT:
        for number in range(1, job.total + 1):
            yield _RowSpec(row=number, amount=job.amount)
        return
    for row in job.rows:
        yield _RowSpec(
            row=int(row["row"]),
            amount=row.get("amount"),
            recipient_email=row.get("recipient_email", ""),
            recipient_phone=row.get("recipient_phone", ""),
            reference=row.get("reference", ""),
            error=row.get("error", ""),
        )


def _job_cards(job: BulkIssueJob) -> QuerySet[GiftCard]:
    # The created_at bound keeps the JSON filter to the merchant's recent cards, on the
    # (merchant, -created_at) index, however many cards the merchant has.
    return GiftCard.objects.filter(
        merchant_id=job.merchant_id,
        created_at__gte=job.created_at,
        metadata__bulk_job=job.public_id,
    )


def _chunks(items: Iterable[_RowSpec], size: int) -> Iterator[list[_RowSpec]]:
    chunk: list[_RowSpec] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _issue_row(job: BulkIssueJob, spec: _RowSpec) -> bool:
    """Issue the card of one row; False when an earlier run issued it. The row's key
    alone keeps it to one card, also when two runs of the job race
    (``giftcards.idempotency.bulk_row_key``)."""
    assert spec.amount is not None
    issued = services.giftcard_issue(
        merchant=job.merchant,
        amount=spec.amount,
        currency=job.currency,
        product=job.product,
        expires_at=job.expires_at,
        recipient_email=spec.recipient_email,
        recipient_phone=spec.recipient_phone,
        metadata={"bulk_job": job.public_id, "row": spec.row},
        actor=job.created_by,
        reference=spec.reference or f"bulk {job.public_id}",
        idempotency_key=bulk_row_key(job=job.public_id, row=spec.row),
    )
    return not issued.replayed


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
        for chunk in _chunks(_row_specs(job), CHUNK_SIZE):
            for spec in chunk:
                processed += 1
                if spec.error or spec.amount is None:
                    failed += 1
                    errors.append({"row": spec.row, "message": spec.error or "No amount."})
                    continue
                try:
                    _issue_row(job, spec)
                except ApplicationError as exc:
                    failed += 1
                    errors.append({"row": spec.row, "message": str(exc.detail)})
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
                            failure_reason=str(exc.detail)[:500],
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


# --- The report ------------------------------------------------------------------------


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def bulk_job_report(*, job: BulkIssueJob) -> Iterator[list[str]]:
    """The rows of the job's report, header first. Issued rows carry the FULL CODE:
    whoever serves this serves secrets (managers only, never cached)."""
    yield list(REPORT_COLUMNS)
    cards = {int(card.metadata["row"]): card for card in _job_cards(job).order_by("pk")}
    errors = {int(error["row"]): str(error["message"]) for error in job.errors}
    for spec in _row_specs(job):
        card = cards.get(spec.row)
        amount = spec.amount
        if card is not None:
            status, message = "issued", ""
            amount = card.initial_amount
        elif spec.row in errors:
            status, message = "failed", errors[spec.row]
        else:
            status, message = "pending", ""
        yield [
            _cell(value)
            for value in (
                spec.row,
                status,
                card.public_id if card else "",
                card.last4 if card else "",
                codes.format_code(codes.decrypt(card.code_encrypted)) if card else "",
                format_plain(amount, job.currency) if amount else "",
                job.currency,
                spec.recipient_email,
                spec.recipient_phone,
                spec.reference,
                message,
            )
        ]


def job_amount_display(job: BulkIssueJob) -> str:
    return format_money(job.amount, job.currency) if job.amount else "From the file"

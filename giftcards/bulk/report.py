"""The report of a bulk issuing job: one line per row (issued, failed or pending),
issued rows with the FULL CODE, cells made safe to open in a spreadsheet."""

from __future__ import annotations

from collections.abc import Iterator

from core.money import format_money, format_plain
from giftcards import codes
from giftcards.bulk.jobs import job_cards, row_specs
from giftcards.models import BulkIssueJob

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


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def bulk_job_report(*, job: BulkIssueJob) -> Iterator[list[str]]:
    """The rows of the job's report, header first. Issued rows carry the FULL CODE:
    whoever serves this serves secrets (managers only, never cached)."""
    yield list(REPORT_COLUMNS)
    cards = {int(card.metadata["row"]): card for card in job_cards(job).order_by("pk")}
    errors = {int(error["row"]): str(error["message"]) for error in job.errors}
    for spec in row_specs(job):
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

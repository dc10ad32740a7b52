"""Reading a bulk issuing upload: one CSV file into rows to issue, each checked by the
same rules as anywhere else (``core.money.parse_amount``, ``core.contact``). A row that
fails is kept with its message, for the job's report; a file that cannot be used at all
is refused with ``BulkUploadInvalid``."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any

from core.contact import InvalidEmail, InvalidPhone, normalise_email, normalise_phone
from core.errors import ApplicationError
from core.money import AmountInvalid, parse_amount

MAX_ROWS = 10_000
MAX_UPLOAD_BYTES = 2 * 1024 * 1024
COLUMNS = ("amount", "recipient_email", "recipient_phone", "reference")


class BulkUploadInvalid(ApplicationError):
    """The file as a whole cannot be used (not CSV, wrong header, too many rows)."""

    code = "bulk_upload_invalid"
    title = "Upload refused"


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

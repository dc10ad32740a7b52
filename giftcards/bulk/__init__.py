"""Bulk issuance (GC-9): count and amount, or one card per row of an uploaded CSV file.

- ``parsing``: an upload read into rows (``parse_csv``), each checked by the platform's
  one rule per concept;
- ``jobs``: jobs created, queued and run, each row's card issued once by its key;
- ``report``: the job's report, row by row.

Callers import the names below from ``giftcards.bulk``.
"""

from giftcards.bulk.jobs import (
    CHUNK_SIZE,
    bulk_job_create_count,
    bulk_job_create_csv,
    bulk_job_requeue,
    bulk_job_run,
)
from giftcards.bulk.parsing import (
    COLUMNS,
    MAX_ROWS,
    MAX_UPLOAD_BYTES,
    BulkUploadInvalid,
    ParsedCsv,
    parse_csv,
)
from giftcards.bulk.report import REPORT_COLUMNS, bulk_job_report, job_amount_display

__all__ = [
    "CHUNK_SIZE",
    "COLUMNS",
    "MAX_ROWS",
    "MAX_UPLOAD_BYTES",
    "REPORT_COLUMNS",
    "BulkUploadInvalid",
    "ParsedCsv",
    "bulk_job_create_count",
    "bulk_job_create_csv",
    "bulk_job_report",
    "bulk_job_requeue",
    "bulk_job_run",
    "job_amount_display",
    "parse_csv",
]

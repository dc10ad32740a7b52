"""The jobs at scale: bulk issuing and the nightly expiry job, timed on PostgreSQL.

Benchmarks, not tests: the figures go to ``DIR/jobs.json`` for a report; the checks that
the money still adds up are recorded next to them (and a failed check fails the step).

- bulk: a count job of ``--bulk-cards`` cards (the most one job may hold) run by
  ``bulk_job_run`` directly, not through a worker; then run again as a redelivered task
  would (the job marked running again), which must issue nothing;
- expiry: ``--expiry-cards`` due cards, each with its ``issue`` ledger row, written by
  set-based SQL for a merchant of their own; then ``expire_due_cards()`` timed chunk by
  chunk (a chunk is one transaction: its time bounds how long any card stays locked),
  run again (must expire nothing), and the ledger checked.

Runs inside Django under the benchmark's environment (production settings, a database
whose name contains "bench"), like ``tools.bench.django_tasks``:

    python -m tools.bench.jobs --out DIR [--bulk-cards 10000] [--expiry-cards 1000000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

from tools.bench.django_tasks import _BALANCE_SQL, _setup, _write_json

BULK_AMOUNT = 2_500
USER_EMAIL = "bench-jobs@example.com"


def run_jobs(
    out: Path,
    *,
    bulk_cards: int = 10_000,
    expiry_cards: int = 1_000_000,
    expiry_workers: int | None = None,
) -> dict[str, Any]:
    """Both benchmarks (either skipped with 0 cards); writes ``out/jobs.json`` and returns
    what it wrote. ``expiry_workers``: the job's connections (its default when None)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('server_version')")
        server_version = cursor.fetchone()[0]
    result: dict[str, Any] = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "load_before": os.getloadavg(),
            "cpu_pressure_before": _cpu_pressure(),
            "postgresql": server_version,
        },
        "bulk": bulk_issue(bulk_cards) if bulk_cards else None,
        "expiry": expiry(expiry_cards, expiry_workers) if expiry_cards else None,
    }
    result["machine"]["cpu_pressure_after"] = _cpu_pressure()
    problems = [
        f"{part}: {problem}"
        for part in ("bulk", "expiry")
        if result[part] is not None
        for problem in result[part]["problems"]
    ]
    result["checks_passed"] = not problems
    result["problems"] = problems
    out.mkdir(parents=True, exist_ok=True)
    _write_json(out, "jobs", result)
    return result


def _cpu_pressure() -> dict[str, float] | None:
    """How much of the last 10 and 60 seconds some task waited for a CPU (Linux PSI): on a
    shared machine, what else was running while the jobs were timed."""
    try:
        line = Path("/proc/pressure/cpu").read_text().splitlines()[0]
    except (OSError, IndexError):
        return None
    fields = dict(part.split("=", 1) for part in line.split()[1:])
    return {"avg10": float(fields["avg10"]), "avg60": float(fields["avg60"])}


# --- bulk issuing --------------------------------------------------------------------------


def bulk_issue(cards: int) -> dict[str, Any]:
    from django.db.models import Sum

    from accounts.models import User
    from giftcards import tasks
    from giftcards.bulk import bulk_job_create_count, bulk_job_run
    from giftcards.bulk.jobs import CHUNK_SIZE, job_cards
    from giftcards.models import BulkIssueJob, BulkIssueStatus, Transaction
    from merchants.models import Merchant

    merchant = Merchant.objects.filter(slug="bench").first()
    if merchant is None:
        tag = uuid.uuid4().hex[:8]
        merchant = Merchant.objects.create(
            name=f"Bench Jobs {tag}", slug=f"bench-jobs-{tag}", currency="EUR"
        )
    user = User.objects.filter(email=USER_EMAIL).first() or User.objects.create_user(
        email=USER_EMAIL
    )
    # The job is run below, in this process; no worker is asked to run it.
    with mock.patch.object(tasks.bulk_issue, "delay") as queued:
        job = bulk_job_create_count(merchant=merchant, actor=user, count=cards, amount=BULK_AMOUNT)
    assert queued.call_count == 1

    started = time.perf_counter()
    bulk_job_run(job_id=job.pk)
    first = time.perf_counter() - started
    job.refresh_from_db()
    issued = job_cards(job).count()
    ledger_rows = Transaction.objects.filter(merchant=merchant).count()

    # A redelivered task finds the job marked running and goes through every row again.
    BulkIssueJob.objects.filter(pk=job.pk).update(status=BulkIssueStatus.RUNNING)
    started = time.perf_counter()
    bulk_job_run(job_id=job.pk)
    second = time.perf_counter() - started
    job.refresh_from_db()

    total = job_cards(job).aggregate(total=Sum("balance"))["total"] or 0
    problems: list[str] = []
    if (job.status, job.succeeded, job.failed) != ("done", cards, 0):
        problems.append(f"job ended {job.status} with {job.succeeded} issued, {job.failed} failed")
    if issued != cards:
        problems.append(f"{issued} cards issued for {cards} rows")
    if job_cards(job).count() != issued:
        problems.append("the second run issued cards")
    if Transaction.objects.filter(merchant=merchant).count() != ledger_rows:
        problems.append("the second run wrote ledger rows")
    if total != cards * BULK_AMOUNT:
        problems.append(f"the cards hold {total}, not {cards * BULK_AMOUNT}")
    return {
        "cards": cards,
        "chunk_size": CHUNK_SIZE,
        "seconds": round(first, 3),
        "cards_per_second": round(cards / first),
        "ms_per_card": round(first / cards * 1000, 4),
        "second_run_seconds": round(second, 3),
        "second_run_issued": job_cards(job).count() - issued,
        "problems": problems,
    }


# --- expiry --------------------------------------------------------------------------------

# Due cards and their ``issue`` rows, written by the database itself: ``generate_series``
# numbers the cards, and each number makes a unique public id and code digest. Amounts
# vary; every card expired between one and twelve days ago.
_SEED_CARDS_SQL = """
INSERT INTO giftcards_giftcard (
    merchant_id, public_id, product_id, currency, initial_amount, balance, status,
    reloadable, code_digest, code_encrypted, last4, expires_at, recipient_email,
    recipient_phone, metadata, issued_by_id, link_version, created_at, updated_at
)
SELECT %(merchant)s, 'gc_' || %(tag)s || lpad(n::text, 18, '0'), NULL, 'EUR',
       500 + n %% 9500, 500 + n %% 9500, 'active', true,
       encode(sha256(convert_to(%(tag)s || ':' || n, 'UTF8')), 'hex'), 'bench', lpad(
           (n %% 10000)::text, 4, '0'),
       %(expired)s - (n %% 1000000) * interval '1 second', '', '', '{}', NULL, 0,
       %(issued)s, %(issued)s
FROM generate_series(1, %(count)s) AS n
"""

_SEED_LEDGER_SQL = """
INSERT INTO giftcards_transaction (
    merchant_id, gift_card_id, public_id, kind, amount, balance_after, currency, reference,
    reason, related_id, actor_user_id, actor_api_key_id, idempotency_key, created_at
)
SELECT merchant_id, id, 'txn_' || substr(public_id, 4), 'issue', initial_amount,
       initial_amount, currency, 'bench expiry', '', NULL, NULL, NULL, '', created_at
FROM giftcards_giftcard WHERE merchant_id = %(merchant)s
"""

_EXPIRY_CHECK_SQL = """
SELECT count(*) AS cards,
       count(*) FILTER (WHERE c.status <> 'expired') AS not_expired,
       coalesce(sum(c.balance), 0) AS balances,
       coalesce(sum(c.initial_amount), 0) AS issued,
       count(*) FILTER (WHERE e.rows IS DISTINCT FROM 1) AS without_one_expire_row,
       count(*) FILTER (WHERE e.amount IS DISTINCT FROM -c.initial_amount) AS wrong_amount,
       coalesce(-sum(e.amount), 0) AS breakage
FROM giftcards_giftcard AS c
LEFT JOIN (
    SELECT gift_card_id, count(*) AS rows, sum(amount) AS amount FROM giftcards_transaction
    WHERE merchant_id = %(merchant)s AND kind = 'expire' GROUP BY gift_card_id
) AS e ON e.gift_card_id = c.id
WHERE c.merchant_id = %(merchant)s
"""


def _seed_due_cards(count: int) -> tuple[Any, float]:
    from django.db import connection, transaction
    from django.utils import timezone

    from merchants.models import Merchant

    tag = uuid.uuid4().hex[:8]
    merchant = Merchant.objects.create(
        name=f"Bench Expiry {tag}", slug=f"bench-expiry-{tag}", currency="EUR"
    )
    now = timezone.now()
    started = time.perf_counter()
    params: dict[str, Any] = {
        "merchant": merchant.pk,
        "tag": tag,
        "count": count,
        "expired": now - timedelta(days=1),
        "issued": now - timedelta(days=400),
    }
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_SEED_CARDS_SQL, params)
        cursor.execute(_SEED_LEDGER_SQL, params)
    # As a table that has aged in production: vacuumed (hint bits set, so the job's
    # first read does not write every page), analysed, and flushed to disk.
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE giftcards_giftcard")
        cursor.execute("VACUUM ANALYZE giftcards_transaction")
        cursor.execute("CHECKPOINT")
    return merchant, time.perf_counter() - started


def _due_query_plan() -> list[str]:
    """How PostgreSQL reads a chunk's cards (EXPLAIN, not run): the job's query, as the
    ORM writes it (whether the primary key is walked or the expiry index sorted)."""
    from django.db import transaction
    from django.utils import timezone

    from giftcards.jobs import EXPIRY_CHUNK_SIZE
    from giftcards.models import EXPIRABLE_STATUSES, GiftCard

    due = GiftCard.objects.filter(
        pk__gt=0, status__in=EXPIRABLE_STATUSES, expires_at__lte=timezone.now()
    )
    with transaction.atomic():
        plan = due.order_by("pk").select_for_update()[:EXPIRY_CHUNK_SIZE].explain()
    return plan.splitlines()


def _wal_lsn() -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_lsn()::text")
        return str(cursor.fetchone()[0])


def _wal_bytes_since(lsn: str) -> int:
    """The write-ahead log written since ``lsn``: the disk's share of the job's cost."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), %s::pg_lsn)", [lsn])
        return int(cursor.fetchone()[0])


def expiry(count: int, workers: int | None = None) -> dict[str, Any]:
    from django.db import connection

    from giftcards.jobs import EXPIRY_WORKERS, expire_due_cards
    from giftcards.services import ExpiredChunk

    merchant, seed_seconds = _seed_due_cards(count)
    plan = _due_query_plan()
    chunks: list[tuple[int, float]] = []

    def on_chunk(chunk: ExpiredChunk, seconds: float) -> None:
        chunks.append((chunk.expired, seconds))

    wal_before = _wal_lsn()
    started = time.perf_counter()
    workers = workers or EXPIRY_WORKERS
    expired = expire_due_cards(workers=workers, on_chunk=on_chunk)
    first = time.perf_counter() - started
    wal_bytes = _wal_bytes_since(wal_before)

    started = time.perf_counter()
    expired_again = expire_due_cards(workers=workers)
    second = time.perf_counter() - started

    with connection.cursor() as cursor:
        cursor.execute(_EXPIRY_CHECK_SQL, {"merchant": merchant.pk})
        columns = [column.name for column in cursor.description]
        ledger = dict(zip(columns, (int(value) for value in cursor.fetchone()), strict=True))
        cursor.execute(_BALANCE_SQL, [merchant.pk, merchant.pk])
        ledger["balance_not_ledger_sum"] = int(cursor.fetchone()[0])

    problems: list[str] = []
    if expired < count:
        problems.append(f"the job expired {expired} cards of {count} due")
    if expired_again:
        problems.append(f"the second run expired {expired_again} cards")
    if ledger["cards"] != count:
        problems.append(f"{ledger['cards']} cards were written for {count}")
    if ledger["not_expired"]:
        problems.append(f"{ledger['not_expired']} cards are not expired")
    if ledger["balances"]:
        problems.append(f"the expired cards still hold {ledger['balances']}")
    if ledger["without_one_expire_row"]:
        problems.append(f"{ledger['without_one_expire_row']} cards without exactly one expire row")
    if ledger["wrong_amount"]:
        problems.append(f"{ledger['wrong_amount']} expire rows not minus the issued amount")
    if ledger["breakage"] != ledger["issued"]:
        problems.append(f"breakage {ledger['breakage']} != issued {ledger['issued']}")
    if ledger["balance_not_ledger_sum"]:
        problems.append(f"{ledger['balance_not_ledger_sum']} balances differ from their ledger")

    durations = sorted(seconds for _, seconds in chunks)
    return {
        "cards": count,
        "seed_seconds": round(seed_seconds, 1),
        "due_query_plan": plan,
        "expired": expired,
        "seconds": round(first, 3),
        "cards_per_second": round(expired / first) if first else None,
        "chunk_size": max((size for size, _ in chunks), default=0),
        "chunks": len(chunks),
        "workers": workers,
        "longest_chunk_ms": round(durations[-1] * 1000, 1) if durations else None,
        "p50_chunk_ms": round(statistics.median(durations) * 1000, 1) if durations else None,
        "p99_chunk_ms": (
            round(durations[min(len(durations) - 1, int(0.99 * len(durations)))] * 1000, 1)
            if durations
            else None
        ),
        "chunk_ms_total": round(sum(durations) * 1000),
        "wal_mb": round(wal_bytes / 1e6),
        "second_run_seconds": round(second, 3),
        "second_run_expired": expired_again,
        "ledger": ledger,
        "problems": problems,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.bench.jobs")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--bulk-cards", type=int, default=10_000)
    parser.add_argument("--expiry-cards", type=int, default=1_000_000)
    parser.add_argument("--expiry-workers", type=int, help="the job's default when not given")
    args = parser.parse_args(argv)
    _setup()
    result = run_jobs(
        args.out,
        bulk_cards=args.bulk_cards,
        expiry_cards=args.expiry_cards,
        expiry_workers=args.expiry_workers,
    )
    bulk, expiry_result = result["bulk"], result["expiry"]
    if bulk:
        sys.stdout.write(
            f"bulk: {bulk['cards']:,} cards in {bulk['seconds']} s "
            f"({bulk['cards_per_second']:,}/s); again: {bulk['second_run_seconds']} s\n"
        )
    if expiry_result:
        sys.stdout.write(
            f"expiry: {expiry_result['expired']:,} cards in {expiry_result['seconds']} s "
            f"({expiry_result['cards_per_second']:,}/s), {expiry_result['chunks']} chunks of "
            f"{expiry_result['chunk_size']:,} on {expiry_result['workers']} connections, "
            f"longest {expiry_result['longest_chunk_ms']} ms, "
            f"p50 {expiry_result['p50_chunk_ms']} ms; again: "
            f"{expiry_result['second_run_seconds']} s\n"
        )
    for problem in result["problems"]:
        sys.stdout.write(f"PROBLEM {problem}\n")
    return 0 if result["checks_passed"] else 1


if __name__ == "__main__":
    sys.exit(main())

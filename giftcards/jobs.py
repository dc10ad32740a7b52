"""Periodic gift card jobs (OP-1); ``giftcards.tasks`` holds the Celery tasks beat runs
them through.

The job functions do the work and are called directly by tests and commands; the tasks
only wrap them. Every job is chunked and idempotent: running it twice, or two workers
running it at once, changes nothing the second time, because the service that changes
a card checks it again under its row lock.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime

import structlog
from django.db import connection, connections
from django.utils import timezone

from giftcards import services
from giftcards.models import EXPIRABLE_STATUSES, GiftCard

logger = structlog.get_logger(__name__)

__all__ = ["EXPIRABLE_STATUSES", "EXPIRY_CHUNK_SIZE", "EXPIRY_WORKERS", "expire_due_cards"]

# Cards expired per transaction, and transactions at once. Chosen by measurement
# (tools/bench/jobs.py, 1,000,000 due cards on a 2-core machine): a chunk of 2,000 holds
# its locks for 0.15-0.4 s, and chunks of 5,000 made the run no faster. The database's
# work per card (index entries, foreign key checks) is most of the cost, so a second
# connection expiring other cards at the same time makes the run about 40% shorter
# (about 72 s on one connection, 37-44 s on two).
EXPIRY_CHUNK_SIZE = 2_000
EXPIRY_WORKERS = 2

ChunkCallback = Callable[[services.ExpiredChunk, float], None]


def expire_due_cards(
    *,
    now: datetime | None = None,
    batch_size: int = EXPIRY_CHUNK_SIZE,
    workers: int = EXPIRY_WORKERS,
    on_chunk: ChunkCallback | None = None,
) -> int:
    """Expire every card whose ``expires_at`` is at or before ``now``; return how many.

    The due cards are walked by id in chunks of ``batch_size``; each chunk is one
    transaction of ``services.giftcards_expire_due``, which books the remaining balances
    as breakage, so no lock is held longer than one chunk. ``now`` only bounds the
    selection: the service never expires a card before the clock reaches its date.

    On PostgreSQL, outside a transaction, ``workers`` connections expire chunks at the
    same time, each chunk a range of ids handed out once, so no two touch the same card.
    Otherwise, and with ``workers=1``, the chunks run one after another on the caller's
    connection (other connections would not see a caller's transaction, and SQLite has
    one writer anyway). ``on_chunk`` is told of each chunk that expired cards, with the
    seconds it took, one call at a time.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    if workers < 1:
        raise ValueError("workers must be at least 1")
    now = now or timezone.now()
    run = _Run(on_chunk)
    if workers == 1 or connection.vendor != "postgresql" or connection.in_atomic_block:
        run.expire_range(now=now, after_id=0, up_to_id=None, limit=batch_size)
    else:
        _expire_in_parallel(now, batch_size, workers, run)
    logger.info(
        "gift_cards_expired",
        count=run.expired,
        chunks=run.chunks,
        longest_chunk_ms=round(run.longest * 1000),
        workers=workers,
    )
    return run.expired


class _Run:
    """One run of the job: expires ranges of cards and adds up what every chunk did."""

    def __init__(self, on_chunk: ChunkCallback | None) -> None:
        self.on_chunk = on_chunk
        self.expired = self.chunks = 0
        self.longest = 0.0
        self.lock = threading.Lock()

    def expire_range(
        self, *, now: datetime, after_id: int, up_to_id: int | None, limit: int
    ) -> None:
        """Expire the due cards with an id above ``after_id`` (and at most ``up_to_id``),
        ``limit`` at a time."""
        while True:
            started = time.perf_counter()
            chunk = services.giftcards_expire_due(
                now=now, after_id=after_id, up_to_id=up_to_id, limit=limit
            )
            seconds = time.perf_counter() - started
            if chunk.last_id is None:
                return
            with self.lock:
                self.expired += chunk.expired
                self.chunks += 1
                self.longest = max(self.longest, seconds)
                if self.on_chunk is not None:
                    self.on_chunk(chunk, seconds)
            # Fewer than asked: none is left (locked rows that no longer qualify are
            # skipped, and more are read in their place).
            if chunk.expired < limit or chunk.last_id == up_to_id:
                return
            after_id = chunk.last_id


class _Ranges:
    """Hands out the due ids as consecutive ranges of ``size`` due cards, each once: the
    next range's end is read (no lock) while the workers write the ranges before it."""

    def __init__(self, now: datetime, size: int) -> None:
        self.due = GiftCard.objects.filter(status__in=EXPIRABLE_STATUSES, expires_at__lte=now)
        self.size = size
        self.after_id: int | None = 0
        self.mutex = threading.Lock()

    def next(self) -> tuple[int, int | None] | None:
        """(above this id, up to this id or None for no end), or None when all are out."""
        with self.mutex:
            start = self.after_id
            if start is None:
                return None
            end = (
                self.due.filter(pk__gt=start)
                .order_by("pk")
                .values_list("pk", flat=True)[self.size - 1 : self.size]
                .first()
            )
            self.after_id = end
            return start, end


def _expire_in_parallel(now: datetime, batch_size: int, workers: int, run: _Run) -> None:
    ranges = _Ranges(now, batch_size)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            while not errors and (taken := ranges.next()) is not None:
                after_id, up_to_id = taken
                run.expire_range(now=now, after_id=after_id, up_to_id=up_to_id, limit=batch_size)
        except BaseException as exc:  # raised again in the caller's thread, below
            errors.append(exc)
        finally:
            connections.close_all()  # this thread's own connection

    threads = [threading.Thread(target=work, name=f"expire-cards-{n}") for n in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]

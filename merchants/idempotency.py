"""Idempotency for every API POST (API.md "Idempotency").

The first response to an ``Idempotency-Key`` is stored in the same database transaction
as the effect it reports, so both commit or neither does. A concurrent retry with the
same key blocks on the unique index until the first commits, then fails to insert, rolls
back whatever it did, and replays the stored response: one wins, the other replays.

Refusals (4xx) are stored and replayed too; the transaction that raised them has rolled
back, so storing happens in a fresh one (and if a concurrent request stored first, that
response is the one returned).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework.request import Request
from rest_framework.response import Response

from core.api import PROBLEM_CONTENT_TYPE, problem
from core.db import flat_transaction
from core.errors import ApplicationError, ConflictError
from core.sql import RowMapper
from merchants.models import IdempotencyRecord, Merchant

HEADER = "Idempotency-Key"
_records = RowMapper(IdempotencyRecord)
REPLAY_HEADER = "Idempotent-Replayed"
RETENTION = timedelta(hours=48)
_VALID_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")


class IdempotencyKeyReused(ConflictError):
    code = "idempotency_key_reused"
    title = "Idempotency key reused"


class InvalidIdempotencyKey(ApplicationError):
    code = "invalid_idempotency_key"
    title = "Invalid idempotency key"


class _KeyTaken(Exception):
    """Internal: another request committed this key first (or a constraint failed)."""


def fingerprint(request: Request) -> str:
    body = json.dumps(request.data, sort_keys=True, separators=(",", ":"), default=str)
    material = f"{request.method}\n{request.path}\n{body}"
    return hashlib.sha256(material.encode()).hexdigest()


def refusal_response(
    request: Request, exc: ApplicationError, *, replayable: bool = True
) -> Response:
    """``exc`` answered as problem+json rather than raised (so the transaction around it
    commits). A ``replayable`` answer is stored for replay and carries no request id: the
    replay must equal the original, whoever asks."""
    body = problem(
        status_code=exc.status,
        code=exc.code,
        title=exc.title,
        detail=exc.detail,
        request=request,
        **exc.extra,
    )
    if replayable:
        body.pop("request_id", None)
    response = Response(body, status=exc.status, content_type=PROBLEM_CONTENT_TYPE)
    if exc.status in (429, 503) and "retry_after" in exc.extra:
        response["Retry-After"] = str(exc.extra["retry_after"])
    return response


BodyTransform = Callable[[Any], Any]


def _replay(
    request: Request, merchant: Merchant, key: str, print_: str, unseal: BodyTransform | None
) -> Response:
    record = IdempotencyRecord.objects.filter(merchant=merchant, key=key).first()
    if record is None:  # pragma: no cover - the winner rolled back after we saw it
        raise IdempotencyKeyReused("That idempotency key is being used right now; retry.")
    if record.fingerprint != print_:
        raise IdempotencyKeyReused(
            "This Idempotency-Key was used with a different request. Use a new key."
        )
    content_type = PROBLEM_CONTENT_TYPE if record.response_status >= 400 else None
    body = record.response_body
    if unseal is not None and record.response_status < 400:
        body = unseal(body)
    response = Response(body, status=record.response_status, content_type=content_type)
    response[REPLAY_HEADER] = "true"
    return response


def _store(
    request: Request,
    merchant: Merchant,
    key: str,
    print_: str,
    response: Response,
    seal: BodyTransform | None = None,
) -> None:
    body = response.data
    if seal is not None and response.status_code < 400:
        body = seal(body)
    _records.insert(
        IdempotencyRecord(
            merchant=merchant,
            key=key,
            fingerprint=print_,
            method=request.method or "POST",
            path=request.path[:300],
            response_status=response.status_code,
            response_body=body,
        )
    )


@dataclass
class _Pending:
    """The record ``run_idempotent`` will store for this request, unless the operation's
    write statement stores it first (``stored_with_write``)."""

    merchant: Merchant
    key: str
    fingerprint: str
    method: str
    path: str
    render: Callable[[Any], Any] | None = None
    status: int = 0
    stored: bool = False


_pending: ContextVar[_Pending | None] = ContextVar("idempotency_pending", default=None)


@contextmanager
def stored_with_write(*, render: Callable[[Any], Any], status: int) -> Iterator[None]:
    """Within ``run_idempotent``: let the operation's one write statement store the
    answer, ``render(row written)`` with ``status``, instead of an INSERT of its own
    after it (``record_statement``). On a hot card that is a round trip less while its
    row lock is held. Only for operations whose write is their answer: a single
    ``record_statement`` call, with the row the response is made from."""
    pending = _pending.get()
    if pending is not None:
        pending.render, pending.status = render, status
    try:
        yield
    finally:
        if pending is not None:
            pending.render = None


def record_statement(row: Any) -> tuple[str, list[Any]] | None:
    """The INSERT of this request's idempotency record answering with ``row`` (see
    ``stored_with_write``), to run as part of the statement that writes ``row``; None
    when there is nothing to store that way."""
    pending = _pending.get()
    if pending is None or pending.render is None or pending.stored:
        return None
    statement = _records.insert_statement(
        IdempotencyRecord(
            merchant=pending.merchant,
            key=pending.key,
            fingerprint=pending.fingerprint,
            method=pending.method,
            path=pending.path,
            response_status=pending.status,
            response_body=pending.render(row),
        )
    )
    pending.stored = True
    return statement


def idempotency_key(request: Request) -> str:
    return request.headers.get(HEADER, "")


def run_idempotent(
    request: Request,
    *,
    merchant: Merchant,
    operation: Callable[[], Response],
    seal: BodyTransform | None = None,
    unseal: BodyTransform | None = None,
    replay_first: bool = False,
) -> Response:
    """Run ``operation`` (which calls services and returns a Response) at most once per key.

    ``seal`` rewrites a success body before it is stored and ``unseal`` restores it on
    replay, so secrets in a response (a new card's code) are never stored in clear.

    A retry normally runs the operation again and replays when its insert meets the first
    request's record (or a ledger row carrying the key): no extra query on the hot path.
    ``replay_first`` looks for a stored answer before running, for operations with effects
    outside the transaction (cache counters, cooldowns) that a retry must not repeat.
    """
    key = idempotency_key(request)
    if not key:
        try:
            with flat_transaction():
                return operation()
        except ApplicationError as exc:
            exc.run_after_rollback()
            raise
    if not _VALID_KEY.match(key):
        raise InvalidIdempotencyKey(
            "The Idempotency-Key header must be 1 to 255 visible ASCII characters."
        )
    print_ = fingerprint(request)
    if replay_first and IdempotencyRecord.objects.filter(merchant=merchant, key=key).exists():
        return _replay(request, merchant, key, print_, unseal)
    pending = _Pending(merchant, key, print_, request.method or "POST", request.path[:300])
    token = _pending.set(pending)
    try:
        with flat_transaction():
            try:
                response = operation()
                if not pending.stored:
                    _store(request, merchant, key, print_, response, seal)
            except IntegrityError:
                # The key's record, or a ledger row carrying the key, was committed by a
                # concurrent request first. Leave the atomic block at once: it rolls back
                # everything this request did, then we answer with what the first did.
                raise _KeyTaken from None
        return response
    except _KeyTaken:
        if not IdempotencyRecord.objects.filter(merchant=merchant, key=key).exists():
            raise
        return _replay(request, merchant, key, print_, unseal)
    except ApplicationError as exc:
        exc.run_after_rollback()
        refusal = refusal_response(request, exc)
        try:
            with transaction.atomic():
                _store(request, merchant, key, print_, refusal)
        except IntegrityError:
            return _replay(request, merchant, key, print_, unseal)
        return refusal
    finally:
        _pending.reset(token)


def purge_expired(*, now: Any = None, batch_size: int = 5000) -> int:
    """Delete records past retention in batches, so no statement holds locks for long."""
    cutoff = (now or timezone.now()) - RETENTION
    total = 0
    while True:
        ids = list(
            IdempotencyRecord.objects.filter(created_at__lt=cutoff).values_list("pk", flat=True)[
                :batch_size
            ]
        )
        if not ids:
            return total
        deleted, _ = IdempotencyRecord.objects.filter(pk__in=ids).delete()
        total += deleted

"""Transactions for services.

Services are atomic and, when nested in a caller's transaction, normally run in a
savepoint so the caller can catch a refusal and carry on. The API's request transaction
(``flat_transaction``) never carries on after an error: it leaves at once and rolls back
as a whole. Inside it, services skip their savepoints, which saves two round trips per
operation on the hottest path (a redemption).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import wraps
from typing import ParamSpec, TypeVar

from django.db import transaction

P = ParamSpec("P")
R = TypeVar("R")

_flat: ContextVar[bool] = ContextVar("flat_transaction", default=False)


@contextmanager
def flat_transaction() -> Iterator[None]:
    """An outer transaction whose nested services add no savepoints. Any error raised
    inside must leave the block (it then rolls back everything)."""
    token = _flat.set(True)
    try:
        with transaction.atomic():
            yield
    finally:
        _flat.reset(token)


def in_flat_transaction() -> bool:
    """Whether the code runs inside ``flat_transaction`` (an error there cannot be
    recovered from: the block must be left)."""
    return _flat.get()


def atomic_service(func: Callable[P, R]) -> Callable[P, R]:
    """Like ``transaction.atomic``, but without a savepoint inside ``flat_transaction``."""

    @wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with transaction.atomic(savepoint=not _flat.get()):
            return func(*args, **kwargs)

    return wrapper

"""Which failures mean a backing service is unreachable, so the answer is 503, not 500.

The database going away (a restart, a failover, a dropped connection, SQLite's lock held
past its timeout), the cache or the broker not answering: none of these is a bug in the
request or in our code, and a client that retries a little later (with its
``Idempotency-Key``) gets the right answer. The API says so with 503 problem+json and
``Retry-After`` (``core.api``), people get a friendly page (``core.views``).

Everything else that escapes a view stays a 500: it is a defect to fix.
"""

from __future__ import annotations

import structlog
from django import db
from django_redis.exceptions import ConnectionInterrupted
from kombu.exceptions import OperationalError as BrokerUnavailable
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = structlog.get_logger(__name__)

# Long enough for a database restart or failover, short enough for a till to wait.
RETRY_AFTER_SECONDS = 5

_OUTAGES: tuple[type[BaseException], ...] = (
    # Django wraps every driver's connection and "try again" failures in these two.
    db.OperationalError,
    db.InterfaceError,
    # The cache: django-redis wraps redis-py's errors; Django's own Redis backend does not.
    ConnectionInterrupted,
    RedisConnectionError,
    RedisTimeoutError,
    # The Celery broker, when a task is queued.
    BrokerUnavailable,
)


def is_outage(exc: BaseException | None) -> bool:
    """True when ``exc`` says a backing service could not be reached or used just now."""
    return isinstance(exc, _OUTAGES)


def log_outage(exc: BaseException) -> None:
    """One line per refused request, naming the failure, next to the request's own line;
    no traceback (nothing to debug in our code, and a restart would fill the logs)."""
    logger.warning(
        "service_unavailable",
        error=f"{type(exc).__module__}.{type(exc).__qualname__}",
        message=str(exc)[:300],
    )

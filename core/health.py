"""Readiness checks: each dependency answers within a short timeout or is reported down."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection

CheckResult = dict[str, Any]


def _timed(check: Callable[[], str]) -> CheckResult:
    started = time.perf_counter()
    try:
        detail = check()
        ok = True
    except Exception as exc:  # every failure is reported, none is raised
        detail = f"{type(exc).__name__}: {exc}"[:300]
        ok = False
    return {
        "ok": ok,
        "detail": detail,
        "latency_ms": round((time.perf_counter() - started) * 1000, 1),
    }


def check_database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return connection.vendor


def check_cache() -> str:
    key = f"readyz:{uuid.uuid4().hex}"
    cache.set(key, "1", timeout=5)
    if cache.get(key) != "1":
        raise RuntimeError("cache did not return the value just written")
    cache.delete(key)
    return str(settings.CACHES["default"]["BACKEND"]).rsplit(".", 1)[-1]


def check_broker() -> str:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return "eager (tasks run in-process)"
    # The project's Celery app (config.celery), the current one once settings load.
    from celery import current_app

    with current_app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)
        return f"{conn.transport_cls}"


CHECKS: dict[str, Callable[[], str]] = {
    "database": check_database,
    "cache": check_cache,
    "broker": check_broker,
}


def readiness() -> tuple[bool, dict[str, CheckResult]]:
    results = {name: _timed(check) for name, check in CHECKS.items()}
    return all(r["ok"] for r in results.values()), results

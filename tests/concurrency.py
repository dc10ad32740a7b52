"""Running one piece of work from many threads at once, for the PostgreSQL locking tests."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.db import connections
from rest_framework.test import APIClient


def in_threads(count: int, work: Callable[[int], Any]) -> list[Any]:
    """``work(0)`` .. ``work(count - 1)``, each in its own thread with its own database
    connection, released together by a barrier; the results in order."""
    barrier = threading.Barrier(count)

    def run(index: int) -> Any:
        try:
            barrier.wait(timeout=30)
            return work(index)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(run, range(count)))


def api_client(api_key: str) -> APIClient:
    """A fresh API client (one per thread) that sends ``api_key``."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key}")
    return client

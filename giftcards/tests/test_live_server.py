"""Redemptions against the app under gunicorn, as production runs it: parallel requests on
the zero-setup SQLite database, and a worker killed and the database gone midway on
PostgreSQL. Money moves once per key, answers are 2xx, 4xx or 503, never 500."""

from __future__ import annotations

import io
import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
from django.core.management import call_command
from django.db import connection

from giftcards.models import Transaction, TransactionKind
from giftcards.tests.helpers import issue, ledger_sum
from merchants.models import Merchant
from tests.server import Server, app_env, manage, running_gunicorn


def test_parallel_redemptions_on_sqlite_wait_for_the_lock(tmp_path: Path) -> None:
    """20 redemptions of 100 at once on a card of 1000: ten succeed, ten are refused for
    insufficient funds, none fails on "database is locked"."""
    env = app_env(DATABASE_URL=f"sqlite:///{tmp_path / 'giftwell.sqlite3'}")
    # One process for the three commands: each start of Django costs a second.
    setup = (
        "from django.core.management import call_command as run; "
        "run('migrate', verbosity=0); "
        "run('create_merchant', 'corner', name='Corner Shop', owner_email='o@x.test'); "
        "run('create_api_key', 'corner')"
    )
    key = manage(env, "shell", "-c", setup).strip().splitlines()[-1]
    auth = {"Authorization": f"Bearer {key}"}

    with running_gunicorn(env, log=tmp_path / "gunicorn.log", workers=2, threads=10) as server:
        issued = server.request(
            "POST", "/api/v1/gift-cards/", {"amount": 1000, "currency": "EUR"}, headers=auth
        )
        assert issued.status == 201, issued.body
        card = issued.json()["id"]
        barrier = threading.Barrier(20)

        def redeem(index: int) -> tuple[int, str]:
            barrier.wait(timeout=30)
            answer = server.request(
                "POST", f"/api/v1/gift-cards/{card}/redeem/", {"amount": 100}, headers=auth
            )
            return answer.status, answer.json().get("code", "")

        with ThreadPoolExecutor(max_workers=20) as pool:
            outcomes = Counter(pool.map(redeem, range(20)))
        after = server.request("GET", f"/api/v1/gift-cards/{card}/", headers=auth).json()
        ledger = server.request(
            "GET", f"/api/v1/gift-cards/{card}/transactions/?limit=100", headers=auth
        ).json()["results"]

    assert outcomes == {(201, ""): 10, (422, "insufficient_funds"): 10}, server.output()[-3000:]
    assert after["balance"] == 0
    assert [entry["kind"] for entry in ledger] == ["redeem"] * 10 + ["issue"]
    assert sum(entry["amount"] for entry in ledger) == 0
    assert [entry["balance_after"] for entry in ledger] == list(range(0, 1001, 100))


REDEMPTIONS = 200
CARDS = 10
AMOUNT = 100
START_BALANCE = 10_000


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL")
def test_redemptions_survive_a_killed_worker_and_a_database_outage(
    tmp_path: Path, merchant: Merchant, api_key: str
) -> None:
    """200 redemptions with Idempotency-Keys from 8 threads against 2 gunicorn workers.
    Midway one worker is killed, then the database goes away for 3 s (every connection
    to it terminated, new ones refused). Every failed attempt is retried with its key.
    Each redemption is in the ledger exactly once, and while the database was away the
    answers were 503 with Retry-After, never 500."""
    cards = [issue(merchant, START_BALANCE).card for _ in range(CARDS)]
    env = app_env(DATABASE_URL=_database_url(), CONN_MAX_AGE="60")
    auth = {"Authorization": f"Bearer {api_key}"}
    answers: list[tuple[float, int, str]] = []  # (when, status or 0 for no answer, code)
    done = Counter[str]()

    def redeem(index: int, server: Server) -> None:
        path = f"/api/v1/gift-cards/{cards[index % CARDS].public_id}/redeem/"
        headers = {**auth, "Idempotency-Key": f"fault-{index}"}
        deadline = time.monotonic() + 45
        while time.monotonic() < deadline:
            try:
                answer = server.request("POST", path, {"amount": AMOUNT}, headers=headers)
            except OSError:  # the worker serving it was killed
                answers.append((time.monotonic(), 0, ""))
                time.sleep(0.1)
                continue
            code = answer.json().get("code", "") if answer.status >= 400 else ""
            answers.append((time.monotonic(), answer.status, code))
            if answer.status == 503:
                assert answer.headers["retry-after"] == "5"
                assert answer.headers["content-type"] == "application/problem+json"
            if answer.status == 201:
                done["ok"] += 1
                return
            time.sleep(0.1)
        raise AssertionError(f"redemption {index} never succeeded")

    with running_gunicorn(env, log=tmp_path / "gunicorn.log", workers=2, threads=4) as server:
        with ThreadPoolExecutor(max_workers=8) as pool:
            runs = [pool.submit(redeem, i, server) for i in range(REDEMPTIONS)]
            _wait_for(lambda: done["ok"] >= 40)
            os.kill(server.worker_pids()[0], signal.SIGKILL)
            _wait_for(lambda: done["ok"] >= 80)
            outage = _database_away(seconds=3)
            for run in runs:
                run.result()
        log = server.output()

    statuses = Counter(status for _, status, _ in answers)
    assert 500 not in statuses, log[-5000:]
    assert set(statuses) <= {0, 201, 503}, statuses
    during = [status for when, status, _ in answers if outage[0] <= when <= outage[1]]
    assert 503 in during, statuses
    assert done["ok"] == REDEMPTIONS
    redeemed = Transaction.objects.filter(merchant=merchant, kind=TransactionKind.REDEEM)
    assert redeemed.count() == REDEMPTIONS
    assert redeemed.values("idempotency_key").distinct().count() == REDEMPTIONS
    for card in cards:
        card.refresh_from_db()
        assert card.balance == START_BALANCE - AMOUNT * REDEMPTIONS // CARDS
        assert ledger_sum(card) == card.balance
    call_command("verify_ledger", stdout=io.StringIO())


def _database_url() -> str:
    """The test database, as the server subprocess must reach it."""
    settings = connection.settings_dict
    user = quote(settings["USER"] or "", safe="")
    password = f":{quote(settings['PASSWORD'], safe='')}" if settings["PASSWORD"] else ""
    host = settings["HOST"] or "127.0.0.1"
    return f"postgres://{user}{password}@{host}:{settings['PORT'] or 5432}/{settings['NAME']}"


def _database_away(*, seconds: float) -> tuple[float, float]:
    """Take the test database away from everyone but this test for ``seconds``, as a
    restart would: its connections are terminated and new ones refused. Done from the
    maintenance database (a database cannot refuse connections to itself). Returns the
    window, in ``time.monotonic()``."""
    settings = connection.settings_dict
    name = settings["NAME"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (own_pid,) = cursor.fetchone()
    admin = psycopg.connect(
        dbname="postgres",
        host=settings["HOST"] or "127.0.0.1",
        port=settings["PORT"] or 5432,
        user=settings["USER"],
        password=settings["PASSWORD"] or None,
        autocommit=True,
    )
    with admin:
        admin.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false')
        started = time.monotonic()
        try:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> %s",
                [name, own_pid],
            )
            time.sleep(seconds)
        finally:
            admin.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true')
    return started, time.monotonic()


def _wait_for(condition: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.02)

"""Redemptions against the app under gunicorn, as production runs it: parallel requests on
the zero-setup SQLite database. Money moves once, answers are 2xx or 4xx, never 500."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.server import app_env, manage, running_gunicorn


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

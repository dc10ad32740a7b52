"""``make run`` is the product on one machine: a scheduled gift card goes out because
the scheduler and the worker run beside the web server, in processes of their own, on
the zero-setup profile (SQLite, a queue in a folder, cache files)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.management.commands.run_local import ROOT, local_environment, processes

ADDRESS = "127.0.0.1:18599"

SCHEDULE_A_GIFT = """
from datetime import timedelta
from django.utils import timezone
from giftcards.product_services import product_create
from merchants.models import Merchant
from orders.models import CardDelivery, PaymentProvider
from orders.services import LineRequest, order_checkout_started, order_create, order_mark_paid

shop = Merchant.objects.create(name="Bluebird Coffee", slug="bluebird")
product = product_create(merchant=shop, name="Classic", currency="EUR", denominations=[2500])
order = order_create(
    merchant=shop, buyer=None, buyer_email="bea@example.com", buyer_name="Bea",
    lines=[LineRequest(product=product, amount=2500, is_gift=True, recipient_name="Ana",
                       recipient_email="ana@example.com",
                       deliver_at=timezone.now() + timedelta(seconds=3))],
)
order_checkout_started(order_id=order.pk, provider=PaymentProvider.TEST)
order_mark_paid(order_id=order.pk, provider_reference="t", amount=order.total, currency="EUR")
print(CardDelivery.objects.get(order=order).status)
"""


@pytest.fixture
def local_env(tmp_path: Path) -> dict[str, str]:
    base = {key: value for key, value in os.environ.items() if not key.startswith("DJANGO_")}
    for key in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "SITE_URL"):
        base.pop(key, None)
    env = local_environment(ADDRESS, base)
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.local",
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        LOCAL_STATE_DIR=str(tmp_path / "state"),
        CARD_DELIVERY_CHECK_SECONDS="2",
        LOG_LEVEL="WARNING",
    )
    return env


def _manage(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


@pytest.fixture
def jobs(local_env: dict[str, str], tmp_path: Path) -> Iterator[None]:
    _manage(local_env, "migrate", "--noinput", "-v", "0")
    running = [
        subprocess.Popen(
            command,
            cwd=ROOT,
            env=local_env,
            stdout=(tmp_path / f"{name}.log").open("w"),
            stderr=subprocess.STDOUT,
        )
        for name, command in processes(ADDRESS)
        if name != "web"
    ]
    yield
    for process in running:
        process.terminate()
    for process in running:
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def _delivery_status(database: Path) -> str:
    with sqlite3.connect(database) as db:
        row = db.execute("SELECT status FROM orders_carddelivery").fetchone()
    return str(row[0]) if row else ""


def test_the_scheduler_sends_a_scheduled_gift_under_make_run(
    local_env: dict[str, str], jobs: None, tmp_path: Path
) -> None:
    assert _manage(local_env, "shell", stdin=SCHEDULE_A_GIFT).strip().endswith("scheduled")

    deadline = time.monotonic() + 60
    status = ""
    while time.monotonic() < deadline:
        status = _delivery_status(tmp_path / "db.sqlite3")
        if status == "sent":
            break
        time.sleep(1)
    logs = "".join(path.read_text() for path in tmp_path.glob("*.log"))
    assert status == "sent", logs[-3000:]


def test_run_local_shares_the_address_it_serves() -> None:
    env = local_environment("127.0.0.1:8801", {})
    assert env["SITE_URL"] == "http://127.0.0.1:8801"
    assert env["CELERY_BROKER_URL"] == "filesystem://"
    assert env["CELERY_TASK_ALWAYS_EAGER"] == "false"
    # What an operator set stays as it is.
    kept = local_environment("127.0.0.1:8801", {"SITE_URL": "http://shop.test:8801"})
    assert kept["SITE_URL"] == "http://shop.test:8801"
    with_redis = local_environment("127.0.0.1:8801", {"REDIS_URL": "redis://r:6379/0"})
    assert "CELERY_BROKER_URL" not in with_redis

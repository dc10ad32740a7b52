"""The jobs benchmark (tools/bench/jobs.py) runs end to end on a small scale: its seed SQL
still fits the tables, and its checks pass on a correct job (PostgreSQL: it seeds with
generate_series and times the job's own connections)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.db import connection

from giftcards.models import GiftCard, Transaction
from tools.bench.jobs import run_jobs

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="seeds with PostgreSQL SQL"),
]


def test_the_jobs_benchmark_measures_and_checks_both_jobs(tmp_path: Path) -> None:
    result = run_jobs(tmp_path, bulk_cards=30, expiry_cards=250)

    assert result["problems"] == []
    assert result["checks_passed"] is True
    assert json.loads((tmp_path / "jobs.json").read_text())["checks_passed"] is True
    bulk, expiry = result["bulk"], result["expiry"]
    assert (bulk["cards"], bulk["second_run_issued"]) == (30, 0)
    assert (expiry["expired"], expiry["second_run_expired"]) == (250, 0)
    assert expiry["chunks"] >= 1
    assert expiry["longest_chunk_ms"] >= expiry["p50_chunk_ms"] > 0
    assert expiry["ledger"]["breakage"] == expiry["ledger"]["issued"] > 0
    assert GiftCard.objects.count() == 280
    assert Transaction.objects.count() == 30 + 250 * 2

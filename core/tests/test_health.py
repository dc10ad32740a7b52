from __future__ import annotations

import os

import pytest
from django.test import Client

from core import health


def test_healthz_answers_without_touching_dependencies(client: Client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_reports_each_dependency(client: Client) -> None:
    response = client.get("/readyz")
    body = response.json()
    assert response.status_code == 200
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "cache", "broker"}
    assert all(check["ok"] for check in body["checks"].values())


@pytest.mark.django_db
def test_readyz_is_503_and_names_the_failing_dependency(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken() -> str:
        raise ConnectionError("connection refused")

    monkeypatch.setitem(health.CHECKS, "cache", broken)
    response = client.get("/readyz")
    body = response.json()
    assert response.status_code == 503
    assert body["status"] == "unavailable"
    assert body["checks"]["cache"] == {
        "ok": False,
        "detail": "ConnectionError: connection refused",
        "latency_ms": body["checks"]["cache"]["latency_ms"],
    }
    assert body["checks"]["database"]["ok"] is True


def test_broker_check_reaches_a_real_broker_when_not_eager(settings, monkeypatch) -> None:
    settings.CELERY_TASK_ALWAYS_EAGER = False
    from config.celery import app

    monkeypatch.setattr(app.conf, "broker_url", "redis://127.0.0.1:1/0")
    result = health._timed(health.check_broker)
    assert result["ok"] is False
    assert "Error" in result["detail"]


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="REDIS_URL not set (CI sets it)")
def test_broker_check_passes_against_the_configured_redis(settings, monkeypatch) -> None:
    settings.CELERY_TASK_ALWAYS_EAGER = False
    from config.celery import app

    monkeypatch.setattr(app.conf, "broker_url", os.environ["REDIS_URL"])
    result = health._timed(health.check_broker)
    assert result["ok"] is True, result

"""A database, cache or broker that cannot be reached is a 503 with Retry-After: problem+json
`service_unavailable` for the API, a page for people; never a 500, logged as one line."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import OperationalError, connection
from django.test import Client, RequestFactory, override_settings
from rest_framework.test import APIClient

from core import outage, views
from giftcards.models import FailedCodeLookup, Transaction
from giftcards.tests.helpers import issue, ledger_sum
from merchants.models import Merchant
from tests.server import app_env, free_port, running_gunicorn

REFUSED = 'connection to server at "127.0.0.1", port 1 failed: Connection refused'
# A Redis nobody listens on: every cache call fails at once.
DOWN_CACHE = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": "redis://127.0.0.1:1/0",
        "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.5, "SOCKET_TIMEOUT": 0.5},
    }
}

LogLines = Callable[[], list[dict[str, Any]]]


@pytest.fixture
def log_lines() -> Iterator[LogLines]:
    """The JSON log lines written so far in the test, through the project's config."""
    from core.logging import build_logging_config

    config = build_logging_config(fmt="json")
    formatter = config["formatters"]["structured"]
    factory = formatter.pop("()")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(factory(**formatter))
    # Django's loggers do not propagate to the root: listen where they write too.
    loggers = [
        logging.getLogger(),
        logging.getLogger("django"),
        logging.getLogger("django.request"),
    ]
    for logger in loggers:
        logger.addHandler(handler)
    try:
        yield lambda: [json.loads(text) for text in stream.getvalue().splitlines()]
    finally:
        for logger in loggers:
            logger.removeHandler(handler)


@pytest.fixture
def database_down(monkeypatch: pytest.MonkeyPatch) -> None:
    """From here on, every new cursor fails the way a stopped database fails."""

    def refuse() -> None:
        raise OperationalError(REFUSED)

    monkeypatch.setattr(connection, "ensure_connection", refuse)


def assert_unavailable_problem(response: Any) -> None:
    assert response.status_code == 503
    assert response["Content-Type"] == "application/problem+json"
    assert response["Retry-After"] == str(outage.RETRY_AFTER_SECONDS)
    body = json.loads(response.content)
    assert body["code"] == "service_unavailable"
    assert body["status"] == 503
    assert "Traceback" not in json.dumps(body)
    assert "5432" not in json.dumps(body)


@pytest.mark.django_db
def test_api_answers_503_when_the_database_is_away(
    api_client: APIClient, merchant: Merchant, database_down: None, log_lines: LogLines
) -> None:
    response = api_client.post("/api/v1/gift-cards/", {"amount": 500}, format="json")

    assert_unavailable_problem(response)
    lines = log_lines()
    assert [line["event"] for line in lines].count("service_unavailable") == 1
    assert not any("exception" in line for line in lines)


@pytest.mark.django_db
def test_a_page_answers_a_friendly_503_when_the_database_is_away(
    client: Client, merchant: Merchant, database_down: None, log_lines: LogLines
) -> None:
    response = client.get(f"/s/{merchant.slug}/")

    assert response.status_code == 503
    assert response["Retry-After"] == str(outage.RETRY_AFTER_SECONDS)
    assert response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    assert '<html lang="en">' in page
    assert "<h1>Back in a moment</h1>" in page
    assert "OperationalError" not in page
    lines = log_lines()
    assert [line["event"] for line in lines].count("service_unavailable") == 1
    assert not any("exception" in line for line in lines)


@pytest.mark.django_db
def test_a_signed_in_page_whose_session_cannot_load_answers_503(
    owner, merchant: Merchant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The session is read by a middleware (the request log binds the user), before any
    view: that failure reaches Django's 500 handler, which answers 503 too."""
    browser = Client(raise_request_exception=False)
    browser.force_login(owner)

    def refuse() -> None:
        raise OperationalError(REFUSED)

    monkeypatch.setattr(connection, "ensure_connection", refuse)
    response = browser.get(f"/m/{merchant.slug}/")

    assert response.status_code == 503
    assert response["Retry-After"] == str(outage.RETRY_AFTER_SECONDS)
    assert b"Back in a moment" in response.content


def test_a_middleware_failing_on_the_database_gets_the_503_too() -> None:
    # Django calls handler500 while the exception raised by a middleware is handled.
    request = RequestFactory().get("/account/")
    try:
        raise OperationalError(REFUSED)
    except OperationalError:
        response = views.server_error(request)
    assert response.status_code == 503
    assert b"Back in a moment" in response.content

    api_request = RequestFactory().get("/api/v1/gift-cards/")
    try:
        raise OperationalError(REFUSED)
    except OperationalError:
        response = views.server_error(api_request)
    assert_unavailable_problem(response)


def test_other_failures_stay_500() -> None:
    request = RequestFactory().get("/api/v1/gift-cards/")
    try:
        raise RuntimeError("a bug")
    except RuntimeError:
        response = views.server_error(request)
    assert response.status_code == 500


@pytest.mark.django_db
def test_a_lookup_needs_its_counters_so_an_unreachable_cache_is_503(
    api_client: APIClient, merchant: Merchant
) -> None:
    card = issue(merchant, 1000)
    with override_settings(CACHES=DOWN_CACHE):
        response = api_client.post(
            "/api/v1/gift-cards/lookup/", {"code": "0000-0000-0000-0000"}, format="json"
        )
        assert_unavailable_problem(response)
        spent = api_client.post(
            "/api/v1/gift-cards/redeem/", {"code": card.code, "amount": 100}, format="json"
        )
        assert_unavailable_problem(spent)
    card.card.refresh_from_db()
    assert card.card.balance == 1000
    assert Transaction.objects.filter(gift_card=card.card).count() == 1
    assert FailedCodeLookup.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_a_committed_redemption_is_not_reported_failed_when_the_cache_is_away(
    api_client: APIClient, merchant: Merchant
) -> None:
    """The card cache is forgotten after the commit; if Redis is away then, the money has
    moved and the answer must say so (the cache entry expires on its own)."""
    card = issue(merchant, 1000).card
    with override_settings(CACHES=DOWN_CACHE):
        response = api_client.post(
            f"/api/v1/gift-cards/{card.public_id}/redeem/", {"amount": 300}, format="json"
        )
    assert response.status_code == 201, response.content
    card.refresh_from_db()
    assert card.balance == 700
    assert ledger_sum(card) == 700


def test_a_server_whose_database_is_unreachable_answers_503(tmp_path: Path) -> None:
    """The real thing: gunicorn with its database on a port where nothing listens."""
    nowhere = f"postgres://giftwell@127.0.0.1:{free_port()}/giftwell"
    with running_gunicorn(app_env(DATABASE_URL=nowhere), log=tmp_path / "log", workers=1) as app:
        auth = {"Authorization": "Bearer gk_live_abcdefghij_" + "x" * 40}
        api = app.request("POST", "/api/v1/gift-cards/", {"amount": 500}, headers=auth)
        page = app.request("GET", "/s/bluebird/")
        ready = app.request("GET", "/readyz")

    assert api.status == 503, api.body
    assert api.headers["content-type"] == "application/problem+json"
    assert api.headers["retry-after"] == str(outage.RETRY_AFTER_SECONDS)
    assert api.json()["code"] == "service_unavailable"
    assert page.status == 503
    assert b"Back in a moment" in page.body
    assert ready.status == 503
    assert "Traceback" not in app.output()

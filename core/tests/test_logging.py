"""Secrets never reach a log line; every line carries the request id."""

from __future__ import annotations

import io
import json
import logging

import pytest
import structlog
from django.test import Client

from core.logging import REDACTED, build_logging_config, redact_processor, redact_text

CARD_CODE = "7KQ2-M9XD-4HTR-ZB6W"


@pytest.mark.parametrize(
    "text",
    [
        f"looked up {CARD_CODE} at till",
        f"looked up {CARD_CODE.lower()} at till",
        f"looked up {CARD_CODE.replace('-', '')} at till",
        f"looked up {CARD_CODE.replace('-', ' ')} at till",
    ],
)
def test_card_codes_are_masked_in_any_spelling(text: str) -> None:
    masked = redact_text(text)
    assert REDACTED in masked
    assert "M9XD" not in masked.upper()


def test_api_keys_bearer_tokens_and_account_links_are_masked() -> None:
    key = "gk_live_abcdefghij_" + "A1b2C3d4E5" * 4
    text = (
        f"auth {key} header Bearer sekrit-token "
        "/accounts/confirm-email/MTI:1v2:abcdef/ /accounts/password/reset/key/3-abc-def/ "
        "/x?token=abc&page=2 /orders/ord_1/?t=1xWEDJ:HgEGpm7l3OEl2DM3&checkout=success"
    )
    masked = redact_text(text)
    secrets = ("A1b2C3d4E5", "sekrit-token", "MTI:1v2:abcdef", "3-abc-def", "token=abc", "HgEGpm7l")
    for secret in secrets:
        assert secret not in masked
    assert "page=2" in masked
    assert "checkout=success" in masked


def test_uuids_and_ordinary_words_are_left_alone() -> None:
    text = "request 550e8400-e29b-41d4-a716-446655440000 for shop bluebird"
    assert redact_text(text) == text


def test_secret_keys_are_masked_by_name_and_nested_values_by_shape() -> None:
    event = {
        "event": "login",
        "password": "hunter2",
        "api_key": "whatever",
        "code": CARD_CODE,
        "payload": {"note": f"card {CARD_CODE}", "otp_code": "123456"},
        "request_id": "550e8400e29b41d4a716446655440000",
        "status_code": 200,
    }
    out = redact_processor(None, "info", dict(event))
    assert out["password"] == REDACTED
    assert out["api_key"] == REDACTED
    assert out["code"] == REDACTED
    assert out["payload"] == {"note": f"card {REDACTED}", "otp_code": REDACTED}
    assert out["request_id"] == event["request_id"]
    assert out["status_code"] == 200


def capture_root_output() -> tuple[io.StringIO, logging.Handler]:
    """A handler on the root logger writing JSON lines as configured (remove it after)."""
    config = build_logging_config(fmt="json")
    formatter = config["formatters"]["structured"]
    factory = formatter.pop("()")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(factory(**formatter))
    logging.getLogger().addHandler(handler)
    return stream, handler


def test_a_structlog_event_and_a_stdlib_record_are_json_without_secrets() -> None:
    stream, handler = capture_root_output()
    try:
        structlog.get_logger("test").warning("redeem_failed", code=CARD_CODE, amount=500)
        logging.getLogger("payments.gateway").warning("Not Found: /redeem/%s", CARD_CODE)
    finally:
        logging.getLogger().removeHandler(handler)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line["event"] for line in lines] == ["redeem_failed", f"Not Found: /redeem/{REDACTED}"]
    assert CARD_CODE not in stream.getvalue()
    assert lines[0]["amount"] == 500


def test_objects_logged_as_extras_are_redacted_as_the_text_they_become() -> None:
    # Django's CSRF and request loggers attach the request itself: its repr carries the
    # path and query, with any signed link token in it.
    from django.test import RequestFactory

    request = RequestFactory().post("/pay/test/ord_1/?t=1xWERC:LWpy8XYEZnBubtZzlG")
    stream, handler = capture_root_output()
    try:
        logging.getLogger("payments.csrf").warning(
            "Forbidden: %s", request.path, extra={"request": request, "status_code": 403}
        )
    finally:
        logging.getLogger().removeHandler(handler)
    [line] = [json.loads(text) for text in stream.getvalue().splitlines()]
    assert "LWpy8XYEZnBubtZzlG" not in stream.getvalue()
    assert f"?t={REDACTED}" in line["request"]
    assert line["status_code"] == 403


def test_tracebacks_are_redacted_too() -> None:
    stream, handler = capture_root_output()
    try:
        try:
            raise ValueError(f"no card {CARD_CODE}")
        except ValueError:
            logging.getLogger("payments.gateway").exception("lookup failed")
            structlog.get_logger("test").exception("lookup failed again")
    finally:
        logging.getLogger().removeHandler(handler)
    lines = [json.loads(text) for text in stream.getvalue().splitlines()]
    assert len(lines) == 2
    assert all("ValueError: no card " + REDACTED in line["exception"] for line in lines)
    assert "M9XD" not in stream.getvalue()


@pytest.mark.django_db
def test_every_log_line_of_a_request_carries_its_request_id(client: Client) -> None:
    stream, handler = capture_root_output()
    try:
        response = client.get("/accounts/login/", HTTP_X_REQUEST_ID="req-test-12345678")
    finally:
        logging.getLogger().removeHandler(handler)
    assert response["X-Request-ID"] == "req-test-12345678"
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert all(line.get("request_id") == "req-test-12345678" for line in lines)
    [access] = [line for line in lines if line["event"] == "request_finished"]
    assert access["request"] == "GET /accounts/login/"
    assert access["code"] == 200
    assert access["level"] == "info"
    assert isinstance(access["ms"], float)


def test_invitation_links_are_masked_but_not_the_accept_path() -> None:
    text = (
        "GET /invitations/eyJpIjoiaW52XzEifQ:1xZYP3:PCuhhcvOTSinB1aBg/ "
        "then POST /invitations/accept/inv_01abc/"
    )
    masked = redact_text(text)
    assert "PCuhhcvOTSinB1aBg" not in masked
    assert "eyJpIjoiaW52XzEifQ" not in masked
    assert "/invitations/accept/inv_01abc/" in masked


def _capture_request_lines() -> tuple[io.StringIO, logging.Handler, list[logging.Logger]]:
    stream, handler = capture_root_output()
    # Django's own loggers do not propagate to the root; listen where they write.
    loggers = [
        logging.getLogger(name)
        for name in ("django", "django.request", "django.security.DisallowedHost")
    ]
    for logger in loggers:
        logger.addHandler(handler)
    return stream, handler, [logging.getLogger(), *loggers]


@pytest.mark.django_db
def test_expected_refusals_log_one_line_without_a_traceback(
    client: Client, clerk, merchant, other_merchant, api_client, settings
) -> None:
    from rest_framework.test import APIClient

    from merchants.services import api_key_create

    client.force_login(clerk)
    read_only = APIClient()
    key = api_key_create(merchant=merchant, name="read", scopes=["cards:read"]).plaintext
    read_only.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    settings.GIFTCARD_LOOKUP_FAILURES_PER_CLIENT = 0
    cases = [
        # A page refusing a clerk raises PermissionDenied; Django logged its traceback.
        (403, lambda: client.get("/m/bluebird/team/")),
        (404, lambda: client.get("/m/other-shop/")),
        (404, lambda: api_client.get("/api/v1/gift-cards/gc_nope/")),
        (401, lambda: APIClient().get("/api/v1/gift-cards/")),
        (400, lambda: api_client.get("/api/v1/gift-cards/", HTTP_HOST="evil.example")),
        (400, lambda: client.get("/m/bluebird/", HTTP_HOST="evil.example")),
        (403, lambda: read_only.post("/api/v1/gift-cards/", {"amount": 1}, format="json")),
        (
            429,
            lambda: api_client.post(
                "/api/v1/gift-cards/lookup/", {"code": "0000-0000-0000-0000"}, format="json"
            ),
        ),
    ]
    for status, send in cases:
        stream, handler, loggers = _capture_request_lines()
        try:
            response = send()
        finally:
            for logger in loggers:
                logger.removeHandler(handler)
        assert response.status_code == status
        lines = [json.loads(line) for line in stream.getvalue().splitlines()]
        assert [(line["event"], line["level"]) for line in lines] == [
            ("request_finished", "warning")
        ], lines
        assert lines[0]["code"] == status
        assert "Traceback" not in stream.getvalue()

"""Every API failure is RFC 9457 problem+json with a stable code, never HTML."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.db import InterfaceError, OperationalError
from django.http import Http404, UnreadablePostError
from django_redis.exceptions import ConnectionInterrupted
from kombu.exceptions import OperationalError as BrokerUnavailable
from redis.exceptions import ConnectionError as RedisConnectionError
from rest_framework import exceptions, serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.test import APIClient, APIRequestFactory
from rest_framework.views import APIView

from core.errors import UnprocessableError

factory = APIRequestFactory()


class InsufficientFunds(UnprocessableError):
    code = "insufficient_funds"
    title = "Insufficient funds"


class AmountInput(serializers.Serializer[Any]):
    amount = serializers.IntegerField(min_value=1)
    lines = serializers.ListField(child=serializers.DictField(), required=False)


FAILURES: dict[str, Exception] = {
    "db_gone": OperationalError("server closed the connection unexpectedly"),
    "db_interface": InterfaceError("connection already closed"),
    "sqlite_locked": OperationalError("database is locked"),
    "cache_gone": ConnectionInterrupted(connection=None),
    "redis_gone": RedisConnectionError("Error 111 connecting to 127.0.0.1:6379."),
    "broker_gone": BrokerUnavailable("[Errno 111] Connection refused"),
    "too_big": RequestDataTooBig("Request body exceeded settings.DATA_UPLOAD_MAX_MEMORY_SIZE."),
    "suspicious": SuspiciousOperation("odd"),
    "unreadable": UnreadablePostError("client went away"),
}


class Probe(APIView):
    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    def post(self, request: Request) -> Response:
        mode = request.query_params.get("mode")
        if mode == "domain":
            raise InsufficientFunds("The card holds 5.00; 9.00 was asked.", extra={"balance": 500})
        if mode == "crash":
            raise RuntimeError("boom")
        if mode == "missing":
            raise Http404
        if mode == "throttled":
            raise exceptions.Throttled(wait=2.2)
        if mode in FAILURES:
            raise FAILURES[mode]
        AmountInput(data=request.data).is_valid(raise_exception=True)
        return Response({"ok": True})


def call(data: Any = None, mode: str = "", content_type: str = "application/json", raw: Any = None):
    url = f"/probe/?mode={mode}"
    if raw is not None:
        request = factory.generic("POST", url, raw, content_type=content_type)
    else:
        request = factory.post(url, data, format="json")
    response = Probe.as_view()(request)
    response.render()
    return response


def assert_problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status
    assert response["Content-Type"] == "application/problem+json"
    body: dict[str, Any] = response.data
    assert body["status"] == status
    assert body["code"] == code
    assert body["title"]
    assert body["detail"]
    return body


def test_domain_errors_keep_their_code_and_extra_fields() -> None:
    body = assert_problem(call({"amount": 1}, mode="domain"), 422, "insufficient_funds")
    assert body["balance"] == 500
    assert body["detail"] == "The card holds 5.00; 9.00 was asked."


def test_validation_errors_list_each_field() -> None:
    body = assert_problem(call({"amount": 0, "lines": ["x"]}), 400, "validation_error")
    fields = {e["field"] for e in body["errors"]}
    assert fields == {"amount", "lines[0]"}


def test_malformed_json_is_a_problem_not_a_crash() -> None:
    assert_problem(
        call(raw=b"{not json", content_type="application/json"), 400, "malformed_request"
    )


def test_unsupported_media_type() -> None:
    assert_problem(call(raw=b"amount=1", content_type="text/plain"), 415, "unsupported_media_type")


def test_unhandled_errors_are_500_problems_without_a_trace() -> None:
    body = assert_problem(call({"amount": 1}, mode="crash"), 500, "server_error")
    assert "boom" not in str(body)
    assert "Traceback" not in str(body)


def test_not_found_and_throttled() -> None:
    assert_problem(call({"amount": 1}, mode="missing"), 404, "not_found")
    throttled = call({"amount": 1}, mode="throttled")
    assert_problem(throttled, 429, "rate_limited")
    assert throttled["Retry-After"] == "3"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("get", "/api/v1/merchant/", 401, "not_authenticated"),
        ("post", "/api/v1/merchant/", 401, "not_authenticated"),
        ("get", "/api/v1/no-such-endpoint/", 404, "not_found"),
    ],
)
def test_routing_failures_under_api_are_problems(method: str, path: str, status: int, code: str):
    response = getattr(APIClient(), method)(path)
    assert response.status_code == status
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == code


@pytest.mark.django_db
def test_method_not_allowed_for_an_authenticated_client(api_client: APIClient) -> None:
    response = api_client.delete("/api/v1/merchant/")
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"


@pytest.mark.django_db
def test_openapi_schema_is_served(api_client: APIClient) -> None:
    response = APIClient().get("/api/v1/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    assert "/api/v1/merchant/" in response.json()["paths"]


@pytest.mark.parametrize(
    "mode", ["db_gone", "db_interface", "sqlite_locked", "cache_gone", "redis_gone", "broker_gone"]
)
def test_an_unreachable_backing_service_is_503_with_retry_after(mode: str) -> None:
    response = call({"amount": 1}, mode=mode)
    body = assert_problem(response, 503, "service_unavailable")
    assert response["Retry-After"] == "5"
    assert "Idempotency-Key" in body["detail"]
    assert "127.0.0.1" not in str(body)


def test_a_body_django_will_not_read_is_413() -> None:
    body = assert_problem(call({"amount": 1}, mode="too_big"), 413, "payload_too_large")
    assert body["max_bytes"] == 2 * 1024 * 1024


@pytest.mark.parametrize("mode", ["suspicious", "unreadable"])
def test_a_request_django_refuses_to_read_is_400(mode: str) -> None:
    assert_problem(call({"amount": 1}, mode=mode), 400, "bad_request")

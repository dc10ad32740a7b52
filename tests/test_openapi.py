"""The OpenAPI document validates, and real responses match what it says."""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import jsonschema
import pytest
import time_machine
from django.utils import timezone
from drf_spectacular.generators import EndpointEnumerator, SchemaGenerator
from drf_spectacular.validation import validate_schema
from rest_framework.test import APIClient

from communications.services import settings_update
from giftcards import codes, services
from giftcards.tests.helpers import issue
from merchants.models import Merchant
from merchants.tenancy import scopes_required
from otp.tests.helpers import last_sms_code
from tests.factories import ApiKeyFactory

pytestmark = pytest.mark.django_db

_SKIP = {"nullable", "readOnly", "writeOnly", "example", "format", "description", "title"}


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return SchemaGenerator().get_schema(request=None, public=True)


def _to_jsonschema(node: Any, components: dict[str, Any], strict: bool) -> Any:
    if isinstance(node, list):
        return [_to_jsonschema(item, components, strict) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        return _to_jsonschema(components[node["$ref"].rsplit("/", 1)[-1]], components, strict)
    out = {k: _to_jsonschema(v, components, strict) for k, v in node.items() if k not in _SKIP}
    if "properties" in node:
        out["properties"] = {
            k: _to_jsonschema(v, components, strict) for k, v in node["properties"].items()
        }
        if strict and "additionalProperties" not in node:
            out["additionalProperties"] = False  # undocumented fields are a mismatch too
    if node.get("nullable"):
        out = {"anyOf": [out, {"type": "null"}]}
    return out


def _operation(schema: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    if path in schema["paths"]:  # literal routes win, as in the URL conf
        return schema["paths"][path][method]
    for template, operations in schema["paths"].items():
        pattern = "^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$"
        if re.match(pattern, path):
            return operations[method]
    raise AssertionError(f"{method.upper()} {path} is not in the schema")


def assert_matches(schema: dict[str, Any], method: str, path: str, response: Any) -> None:
    operation = _operation(schema, method, path.split("?")[0])
    documented = operation["responses"].get(str(response.status_code))
    assert documented, f"{method.upper()} {path} answered {response.status_code}, undocumented"
    media = response["Content-Type"].split(";")[0]
    assert media in documented["content"], (path, media, list(documented["content"]))
    body_schema = _to_jsonschema(
        documented["content"][media]["schema"],
        schema["components"]["schemas"],
        strict=response.status_code < 400,
    )
    jsonschema.validate(response.json(), body_schema)


PROBLEM = "application/problem+json"


def _operations(schema: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            yield path, method, operation


def _views() -> dict[tuple[str, str], Any]:
    """The view behind each documented operation, by (path, method)."""
    return {
        (path, method.lower()): callback.cls
        for path, _, method, callback in EndpointEnumerator().get_api_endpoints()
    }


def _codes(operation: dict[str, Any], status: str) -> set[str]:
    content = operation["responses"].get(status, {}).get("content", {}).get(PROBLEM, {})
    return {example["value"]["code"] for example in content.get("examples", {}).values()}


def test_the_schema_is_valid_openapi(schema: dict[str, Any]) -> None:
    validate_schema(schema)
    assert schema["components"]["securitySchemes"]["ApiKey"]["scheme"] == "bearer"


def test_the_schema_is_served_and_the_docs_page_uses_local_assets() -> None:
    client = APIClient()
    assert client.get("/api/v1/schema/", HTTP_ACCEPT="application/json").status_code == 200
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    assert b"cdn" not in docs.content.lower()
    assert b"/static/drf_spectacular_sidecar/" in docs.content


def test_every_response_matches_the_schema(
    schema: dict[str, Any], api_client: APIClient, merchant: Merchant
) -> None:
    def check(method: str, path: str, data: Any = None, **headers: str) -> Any:
        call = getattr(api_client, method)
        response = (
            call(path, data, format="json", headers=headers) if method == "post" else (call(path))
        )
        assert_matches(schema, method, path, response)
        return response

    issued = check("post", "/api/v1/gift-cards/", {"amount": 5000, "currency": "EUR"}).json()
    card_id, code = issued["id"], issued["code"]
    check("get", "/api/v1/gift-cards/")
    check("get", "/api/v1/gift-cards/?limit=1&status=active")
    check("get", f"/api/v1/gift-cards/{card_id}/")
    check("post", "/api/v1/gift-cards/lookup/", {"code": code})
    spend = check(
        "post",
        f"/api/v1/gift-cards/{card_id}/redeem/",
        {"amount": 100},
        **{"Idempotency-Key": "k-1"},
    ).json()
    check(
        "post",
        f"/api/v1/gift-cards/{card_id}/redeem/",
        {"amount": 100},
        **{"Idempotency-Key": "k-1"},
    )
    check("post", "/api/v1/gift-cards/redeem/", {"code": code, "amount": 100})
    check("post", f"/api/v1/gift-cards/{card_id}/reload/", {"amount": 100})
    check("post", f"/api/v1/transactions/{spend['transaction']['id']}/refund/", {"amount": 50})
    check("get", f"/api/v1/gift-cards/{card_id}/transactions/")
    check("get", "/api/v1/merchant/")
    # refusals are documented too
    check("post", f"/api/v1/gift-cards/{card_id}/redeem/", {"amount": 10**9})
    check("post", f"/api/v1/gift-cards/{card_id}/redeem/", {"amount": 0})
    check(
        "post", f"/api/v1/gift-cards/{card_id}/redeem/", {"amount": 1}, **{"Idempotency-Key": "k-1"}
    )
    check("post", "/api/v1/gift-cards/lookup/", {"code": codes.generate()})
    check("get", "/api/v1/gift-cards/gc_missing/")
    check("post", f"/api/v1/gift-cards/{card_id}/void/", {"reason": "test"})
    check("post", f"/api/v1/gift-cards/{card_id}/void/", {})
    unauthenticated = APIClient().get("/api/v1/gift-cards/")
    assert_matches(schema, "get", "/api/v1/gift-cards/", unauthenticated)


def test_issue_and_money_movement_examples_round_trip(api_client: APIClient, merchant: Merchant):
    card = issue(merchant, 100).card
    txn = services.giftcard_redeem(merchant=merchant, card_id=card.pk, amount=1)
    assert (
        api_client.get(f"/api/v1/gift-cards/{card.public_id}/transactions/").json()["results"][0][
            "id"
        ]
        == txn.public_id
    )


def test_one_time_code_responses_match_the_schema(
    schema: dict[str, Any], api_client: APIClient, merchant: Merchant
) -> None:
    request, verify = "/api/v1/otp/request/", "/api/v1/otp/verify/"
    phone = {"purpose": "login", "channel": "sms", "recipient": "+447700900123"}
    check_code = {"purpose": "login", "recipient": "+447700900123"}

    def check(path: str, data: Any, client: APIClient = api_client, **headers: str) -> Any:
        response = client.post(path, data, format="json", headers=headers)
        assert_matches(schema, "post", path, response)
        return response

    assert check(request, phone, **{"Idempotency-Key": "o-1"}).status_code == 201
    assert check(request, phone, **{"Idempotency-Key": "o-1"}).status_code == 201  # replay
    assert check(request, phone).status_code == 429  # cooldown
    assert check(request, {**phone, "recipient": "not a number"}).status_code == 400
    assert check(verify, {**check_code, "code": "x"}).status_code == 400
    assert check(verify, {**check_code, "code": last_sms_code()}).status_code == 200
    assert (
        check(verify, {**check_code, "code": "x"}, **{"Idempotency-Key": "o-1"}).status_code == 409
    )
    settings_update(actor=None, otp_max_attempts=1, otp_resend_cooldown_seconds=0)
    check(request, phone)
    assert check(verify, {**check_code, "code": "x"}).status_code == 429
    settings_update(actor=None, otp_expiry_minutes=1)
    check(request, phone)
    with time_machine.travel(timezone.now() + timedelta(minutes=2)):
        assert check(verify, {**check_code, "code": last_sms_code()}).status_code == 422
    settings_update(actor=None, sms_enabled=False, sms_fallback="")
    assert check(request, phone).status_code == 503  # not delivered
    settings_update(actor=None, otp_enabled=False)
    assert check(request, phone).status_code == 503  # switched off
    assert check(request, phone, client=APIClient()).status_code == 401
    no_scope = APIClient()
    key = ApiKeyFactory(merchant=merchant, name="cards", scopes=["cards:read"]).plaintext
    no_scope.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    assert check(verify, {**check_code, "code": "1"}, client=no_scope).status_code == 403


def test_every_operation_is_described_for_integrators(schema: dict[str, Any]) -> None:
    views = _views()
    for path, method, operation in _operations(schema):
        where = f"{method.upper()} {path}"
        assert operation.get("summary"), where
        assert len(operation.get("description", "")) > 80, where
        assert operation.get("tags"), where
        # drf-spectacular falls back to the view's docstring, written for developers.
        for klass in inspect.getmro(views[(path, method)]):
            doc = inspect.getdoc(klass)
            if doc and klass.__module__.split(".")[0] in {"giftcards", "otp", "merchants"}:
                assert doc not in operation["description"], (where, klass)
        assert "**API key scope:**" in operation["description"], where


def test_every_operation_documents_every_answer_it_can_give(schema: dict[str, Any]) -> None:
    views = _views()
    for path, method, operation in _operations(schema):
        where = f"{method.upper()} {path}"
        responses = operation["responses"]
        for status, response in responses.items():
            if status.startswith(("4", "5")):
                assert list(response["content"]) == [PROBLEM], (where, status)
                assert response["content"][PROBLEM]["examples"], (where, status)
                assert response["description"], (where, status)
        assert {"401", "413", "429"} <= set(responses), where
        assert _codes(operation, "401") == {"not_authenticated", "authentication_failed"}
        assert "Retry-After" in responses["429"]["headers"], where
        parameters = {parameter["name"]: parameter for parameter in operation.get("parameters", [])}
        if "requestBody" in operation:
            assert {"validation_error", "malformed_request"} <= _codes(operation, "400"), where
            assert _codes(operation, "415") == {"unsupported_media_type"}, where
        if any(parameter["in"] == "query" for parameter in parameters.values()):
            assert "validation_error" in _codes(operation, "400"), where
        if "Idempotency-Key" in parameters:
            assert "idempotency_key_reused" in _codes(operation, "409"), where
            assert "invalid_idempotency_key" in _codes(operation, "400"), where
        scopes = scopes_required(views[(path, method)](), method)
        assert ("403" in responses) == bool(scopes), where
        if scopes:
            example = responses["403"]["content"][PROBLEM]["examples"]["PermissionDenied"]
            assert all(scope in example["value"]["detail"] for scope in scopes), where
            assert all(f"`{scope}`" in operation["description"] for scope in scopes), where


def test_every_post_takes_an_idempotency_key(schema: dict[str, Any]) -> None:
    for path, method, operation in _operations(schema):
        if method == "post":
            names = {parameter["name"] for parameter in operation["parameters"]}
            assert "Idempotency-Key" in names, path


@pytest.mark.parametrize(
    ("operation_id", "status", "codes"),
    [
        ("gift_cards_issue", "400", {"invalid_amount", "invalid_expiry"}),
        ("gift_cards_issue", "422", {"product_unavailable", "currency_mismatch"}),
        ("gift_cards_retrieve", "404", {"card_not_found"}),
        ("gift_cards_lookup", "404", {"card_not_found"}),
        ("gift_cards_lookup", "429", {"rate_limited"}),
        ("gift_cards_redeem", "400", {"invalid_amount"}),
        ("gift_cards_redeem", "404", {"card_not_found"}),
        (
            "gift_cards_redeem",
            "422",
            {"insufficient_funds", "card_not_active", "currency_mismatch"},
        ),
        ("gift_cards_redeem_by_code", "404", {"card_not_found"}),
        ("gift_cards_redeem_by_code", "422", {"insufficient_funds", "card_not_active"}),
        ("gift_cards_redeem_by_code", "429", {"rate_limited"}),
        ("gift_cards_reload", "422", {"card_not_reloadable", "card_not_active"}),
        ("gift_cards_void", "422", {"card_not_active"}),
        ("gift_cards_transactions", "404", {"card_not_found"}),
        ("transactions_refund", "404", {"transaction_not_found"}),
        ("transactions_refund", "422", {"refund_exceeds_redemption", "not_refundable"}),
        ("otp_request", "429", {"otp_cooldown", "otp_rate_limited"}),
        ("otp_request", "503", {"otp_disabled", "otp_not_delivered"}),
        ("otp_verify", "400", {"otp_invalid"}),
        ("otp_verify", "422", {"otp_expired"}),
        ("otp_verify", "429", {"otp_attempts_exceeded"}),
    ],
)
def test_each_refusal_code_is_documented_where_it_can_happen(
    schema: dict[str, Any], operation_id: str, status: str, codes: set[str]
) -> None:
    [operation] = [op for _, _, op in _operations(schema) if op["operationId"] == operation_id]
    assert codes <= _codes(operation, status)
    for code in codes:
        assert f"`{code}`" in operation["responses"][status]["description"]


def test_request_bodies_refuse_unknown_fields_in_the_document_too(schema: dict[str, Any]):
    components = schema["components"]["schemas"]
    for path, method, operation in _operations(schema):
        if "requestBody" in operation:
            ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
            body = components[ref.rsplit("/", 1)[-1]]
            assert body["additionalProperties"] is False, (method, path)
            assert "never ignored" in body["description"]


def test_every_example_matches_the_schema_it_illustrates(schema: dict[str, Any]) -> None:
    components = schema["components"]["schemas"]
    checked = 0
    for path, method, operation in _operations(schema):
        for parameter in operation.get("parameters", []):
            for example in parameter.get("examples", {}).values():
                jsonschema.validate(example["value"], parameter["schema"])
                checked += 1
        bodies = [(operation.get("requestBody", {}), True)]
        bodies += [
            (response, status < "400") for status, response in operation["responses"].items()
        ]
        for body, strict in bodies:
            for media in body.get("content", {}).values():
                for name, example in media.get("examples", {}).items():
                    target = _to_jsonschema(media["schema"], components, strict)
                    try:
                        jsonschema.validate(example["value"], target)
                    except jsonschema.ValidationError as exc:
                        raise AssertionError(f"{method.upper()} {path} {name}") from exc
                    checked += 1
    assert checked > 100

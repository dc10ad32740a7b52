"""The OpenAPI document validates, and real responses match what it says."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import jsonschema
import pytest
import time_machine
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema
from rest_framework.test import APIClient

from communications.services import settings_update
from giftcards import codes, services
from giftcards.tests.helpers import issue
from merchants.models import Merchant
from merchants.services import api_key_create
from otp.tests.helpers import last_sms_code

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
    key = api_key_create(merchant=merchant, name="cards", scopes=["cards:read"]).plaintext
    no_scope.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    assert check(verify, {**check_code, "code": "1"}, client=no_scope).status_code == 403

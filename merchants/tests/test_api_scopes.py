"""A key does only what its scopes allow, whatever the HTTP method: HEAD and OPTIONS need
what GET needs, and a method a view does not serve is refused before anything runs."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient
from rest_framework.views import APIView

from giftcards import services as card_services
from giftcards.models import GiftCard, Transaction
from giftcards.tests.helpers import issue, snapshot
from merchants.models import Merchant
from merchants.services import API_SCOPES
from otp.models import OneTimeCode
from tests.factories import ApiKeyFactory

pytestmark = pytest.mark.django_db

PROBLEM = "application/problem+json"


def _walk(
    patterns: list[URLPattern | URLResolver], prefix: str = ""
) -> Iterator[tuple[str, type[APIView]]]:
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, route)
        elif route.startswith("api/v1/") and not route.startswith("api/v1/schema"):
            view_class = getattr(pattern.callback, "view_class", None)
            if view_class is not None and issubclass(view_class, APIView):
                yield route, view_class


API_VIEWS = sorted(_walk(get_resolver().url_patterns))


def _served(view_class: type[APIView]) -> list[str]:
    """The methods the view has a handler for (HEAD comes with GET, OPTIONS with DRF)."""
    return [m.upper() for m in view_class.http_method_names if hasattr(view_class, m)]


def _declared(view_class: type[APIView], method: str) -> tuple[str, ...] | None:
    """What the view's own declaration asks of ``method`` (None: not offered)."""
    required = view_class.required_scopes  # type: ignore[attr-defined]
    if isinstance(required, dict):
        return tuple(required[method]) if method in required else None
    return tuple(required) if method.lower() in view_class.http_method_names else None


def _expected(view_class: type[APIView], method: str) -> tuple[str, ...] | None:
    """HEAD needs what GET needs; OPTIONS too, or on a view without GET what its methods
    need (it describes the endpoint to keys that may use it)."""
    if method not in ("HEAD", "OPTIONS"):
        return _declared(view_class, method)
    if "GET" in _served(view_class) or method == "HEAD":
        return _declared(view_class, "GET")
    methods = [m for m in _served(view_class) if m not in ("HEAD", "OPTIONS")]
    return tuple(s for m in methods for s in _declared(view_class, m) or ())


def _client(merchant: Merchant, scopes: list[str]) -> APIClient:
    client = APIClient()
    key = ApiKeyFactory(merchant=merchant, name=",".join(scopes), scopes=scopes).plaintext
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


def _path(route: str, values: dict[str, str]) -> str:
    return "/" + re.sub(r"<(?:\w+:)?(\w+)>", lambda m: values[m.group(1)], route)


def _state() -> tuple[Any, ...]:
    return (
        list(GiftCard.objects.order_by("pk").values_list("balance", "status")),
        Transaction.objects.count(),
        OneTimeCode.objects.count(),
    )


@pytest.fixture
def ids(merchant: Merchant) -> dict[str, str]:
    """Real ids of this merchant's objects, so a missing scope check shows as a 2xx
    rather than hiding behind a 404."""
    card = issue(merchant, 5000).card
    spend = card_services.giftcard_redeem(merchant=merchant, card_id=card.pk, amount=100)
    return {"card_id": card.public_id, "transaction_id": spend.public_id}


def test_there_are_api_views_to_walk() -> None:
    assert len(API_VIEWS) >= 10


@pytest.mark.parametrize(("route", "view_class"), API_VIEWS, ids=[r for r, _ in API_VIEWS])
def test_every_api_view_declares_the_scopes_of_every_method_it_serves(
    route: str, view_class: type[APIView]
) -> None:
    assert hasattr(view_class, "required_scopes"), f"{route} declares no required_scopes"
    for method in _served(view_class):
        if method in ("HEAD", "OPTIONS"):
            continue
        required = _declared(view_class, method)
        assert required is not None, f"{route} serves {method} but lists no scopes for it"
        assert set(required) <= set(API_SCOPES), f"{route} {method}: unknown scope"


@pytest.mark.parametrize("scope", API_SCOPES)
def test_a_single_scope_key_gets_no_2xx_where_it_lacks_the_scope(
    merchant: Merchant, ids: dict[str, str], scope: str
) -> None:
    client = _client(merchant, [scope])
    checked = 0
    for route, view_class in API_VIEWS:
        path = _path(route, ids)
        for method in ("HEAD", "GET", "POST", "OPTIONS"):
            required = _expected(view_class, method)
            if required is not None and set(required) <= {scope}:
                continue  # the key may do this (an empty set: any key, the key check)
            before = _state()

            response = getattr(client, method.lower())(path, {}, format="json")

            label = f"{method} {path} with only {scope}"
            assert not 200 <= response.status_code < 300, label
            assert response.status_code in (403, 405), (label, response.status_code)
            assert response["Content-Type"] == PROBLEM, label
            assert _state() == before, label
            checked += 1
    assert checked > 10


def test_head_needs_the_read_scope(merchant: Merchant, ids: dict[str, str]) -> None:
    otp_only = _client(merchant, ["otp:write"])
    reader = _client(merchant, ["cards:read"])
    for path in (
        "/api/v1/gift-cards/",
        f"/api/v1/gift-cards/{ids['card_id']}/",
        f"/api/v1/gift-cards/{ids['card_id']}/transactions/",
    ):
        refused = otp_only.head(path)
        assert refused.status_code == 403, path
        assert refused["Content-Type"] == PROBLEM
        assert reader.head(path).status_code == 200, path


def test_head_is_not_offered_where_get_is_not(merchant: Merchant, ids: dict[str, str]) -> None:
    card = GiftCard.objects.get(public_id=ids["card_id"])
    before = snapshot(card)
    full = _client(merchant, list(API_SCOPES))

    response = full.head(f"/api/v1/gift-cards/{ids['card_id']}/redeem/")

    assert response.status_code == 405
    assert response["Content-Type"] == PROBLEM
    assert snapshot(card) == before


def test_options_needs_the_read_scope_and_shows_nothing_of_the_merchant(
    merchant: Merchant, ids: dict[str, str]
) -> None:
    path = f"/api/v1/gift-cards/{ids['card_id']}/"
    refused = _client(merchant, ["cards:redeem"]).options(path)
    assert refused.status_code == 403
    assert refused.json()["code"] == "permission_denied"
    assert "cards:read" in refused.json()["detail"]

    described = _client(merchant, ["cards:read"]).options(path)

    assert described.status_code == 200
    assert set(described.json()) == {"name", "description", "renders", "parses"}
    assert ids["card_id"] not in described.content.decode()
    assert merchant.slug not in described.content.decode()


def test_options_on_an_endpoint_without_get_needs_that_endpoints_scope(
    merchant: Merchant, ids: dict[str, str]
) -> None:
    path = f"/api/v1/gift-cards/{ids['card_id']}/redeem/"
    assert _client(merchant, ["cards:read"]).options(path).status_code == 403
    assert _client(merchant, ["cards:redeem"]).options(path).status_code == 200


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_methods_a_view_does_not_serve_are_405_even_with_every_scope(
    merchant: Merchant, ids: dict[str, str], method: str
) -> None:
    card = GiftCard.objects.get(public_id=ids["card_id"])
    before = snapshot(card)
    full = _client(merchant, list(API_SCOPES))
    for path in ("/api/v1/gift-cards/", f"/api/v1/gift-cards/{ids['card_id']}/"):
        response = getattr(full, method)(path, {}, format="json")
        assert response.status_code == 405, path
        assert response.json()["code"] == "method_not_allowed"
    assert snapshot(card) == before


def test_an_unknown_method_is_405_not_a_success(merchant: Merchant) -> None:
    full = _client(merchant, list(API_SCOPES))

    response = full.generic("PROPFIND", "/api/v1/gift-cards/")

    assert response.status_code == 405
    assert response["Content-Type"] == PROBLEM


def test_a_view_that_declares_no_scopes_is_closed_to_keys(
    merchant: Merchant, monkeypatch: pytest.MonkeyPatch
) -> None:
    from merchants.api.views import CurrentMerchantView

    monkeypatch.delattr(CurrentMerchantView, "required_scopes")
    response = _client(merchant, list(API_SCOPES)).get("/api/v1/merchant/")

    assert response.status_code == 403
    assert response["Content-Type"] == PROBLEM


def test_every_key_may_check_which_merchant_it_belongs_to(merchant: Merchant) -> None:
    for scope in API_SCOPES:
        response = _client(merchant, [scope]).get("/api/v1/merchant/")
        assert response.status_code == 200
        assert response.json()["slug"] == merchant.slug


def test_the_walk_reaches_real_objects(merchant: Merchant, ids: dict[str, str]) -> None:
    full = _client(merchant, list(API_SCOPES))
    readable = [(r, v) for r, v in API_VIEWS if "GET" in _served(v)]
    assert len(readable) >= 4
    for route, _ in readable:
        path = _path(route, ids)
        assert full.get(path).status_code == 200, path
        assert full.head(path).status_code == 200, path

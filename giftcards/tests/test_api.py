"""API v1 gift cards, as API.md fixes them: paths, fields, status codes, error codes."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from core.serializers import REPEATED_PARAMETER, UNKNOWN_FIELD, UNKNOWN_PARAMETER
from giftcards import codes, services
from giftcards.models import FailedCodeLookup, GiftCard, Transaction
from giftcards.tests.factories import ProductFactory
from giftcards.tests.helpers import issue, snapshot
from merchants.models import Merchant
from tests.factories import ApiKeyFactory

pytestmark = pytest.mark.django_db

CARD_FIELDS = {
    "id",
    "last4",
    "currency",
    "initial_amount",
    "balance",
    "status",
    "expires_at",
    "created_at",
    "product",
    "metadata",
}
TXN_FIELDS = {"id", "gift_card", "kind", "amount", "balance_after", "reference", "created_at"}


def post(client: APIClient, path: str, data: Any = None, **headers: str):
    return client.post(path, data or {}, format="json", headers=headers)


def assert_problem(response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == code
    assert {"status", "title", "detail"} <= set(body)
    return body


# --- issue ------------------------------------------------------------------------


def test_issue_returns_the_card_with_its_code_once(api_client: APIClient) -> None:
    response = post(
        api_client,
        "/api/v1/gift-cards/",
        {
            "amount": 2500,
            "currency": "eur",
            "recipient_email": "ana@example.com",
            "metadata": {"order": "1001"},
        },
    )
    assert response.status_code == 201
    body = response.json()
    assert set(body) >= CARD_FIELDS
    assert body["id"].startswith("gc_")
    assert (body["balance"], body["initial_amount"], body["currency"]) == (2500, 2500, "EUR")
    assert body["status"] == "active"
    assert body["metadata"] == {"order": "1001"}
    code = codes.normalise(body["code"])
    assert body["last4"] == code[-4:]
    again = api_client.get(f"/api/v1/gift-cards/{body['id']}/").json()
    assert "code" not in again
    assert body["code"] not in str(api_client.get("/api/v1/gift-cards/").json())


def test_issue_with_a_product(api_client: APIClient, merchant: Merchant) -> None:
    product = ProductFactory(merchant=merchant, name="P", denominations=[1000])
    response = post(
        api_client,
        "/api/v1/gift-cards/",
        {"amount": 1000, "currency": "EUR", "product": product.public_id},
    )
    assert response.status_code == 201
    assert response.json()["product"] == product.public_id
    unknown = post(
        api_client,
        "/api/v1/gift-cards/",
        {"amount": 1000, "currency": "EUR", "product": "prod_nope"},
    )
    assert_problem(unknown, 422, "product_unavailable")


@pytest.mark.parametrize("amount", [0, -100, "100", 10.5, None, True])
def test_issue_refuses_bad_amounts(api_client: APIClient, amount: Any) -> None:
    body = assert_problem(
        post(api_client, "/api/v1/gift-cards/", {"amount": amount, "currency": "EUR"}),
        400,
        "invalid_amount" if amount is not None else "validation_error",
    )
    assert body["errors"][0]["field"] == "amount"
    assert not GiftCard.objects.exists()


def test_issue_validation_errors_name_each_field(api_client: APIClient) -> None:
    body = assert_problem(
        post(
            api_client,
            "/api/v1/gift-cards/",
            {
                "amount": 100,
                "currency": "XXX",
                "recipient_email": "nope",
                "recipient_phone": "12",
                "metadata": {"k": {"nested": 1}},
            },
        ),
        400,
        "validation_error",
    )
    assert {e["field"] for e in body["errors"]} == {
        "currency",
        "recipient_email",
        "recipient_phone",
        "metadata",
    }
    assert not GiftCard.objects.exists()


def test_issue_stores_the_recipient_normalised(api_client: APIClient) -> None:
    response = post(
        api_client,
        "/api/v1/gift-cards/",
        {
            "amount": 100,
            "currency": "EUR",
            "recipient_email": "Ana@Example.COM",
            "recipient_phone": "+44 7700 900123",
        },
    )
    assert response.status_code == 201
    card = GiftCard.objects.get()
    assert (card.recipient_email, card.recipient_phone) == ("ana@example.com", "+447700900123")
    assert response.json()["recipient_phone"] == "+447700900123"


@pytest.mark.parametrize("phone", ["07700 900123", "+44 12", "+999 1234 5678", "+44 abc"])
def test_issue_refuses_a_phone_without_a_dialable_country_code(
    api_client: APIClient, phone: str
) -> None:
    body = assert_problem(
        post(
            api_client,
            "/api/v1/gift-cards/",
            {"amount": 100, "currency": "EUR", "recipient_phone": phone},
        ),
        400,
        "validation_error",
    )
    assert body["errors"][0]["field"] == "recipient_phone"
    assert "international format" in body["errors"][0]["message"]
    assert not GiftCard.objects.exists()


def test_issue_refuses_an_expiry_below_the_floor(api_client: APIClient) -> None:
    soon = (timezone.now() + timedelta(days=3)).isoformat()
    assert_problem(
        post(
            api_client,
            "/api/v1/gift-cards/",
            {"amount": 100, "currency": "EUR", "expires_at": soon},
        ),
        400,
        "invalid_expiry",
    )


# --- read -------------------------------------------------------------------------


def test_list_filters_and_paginates(api_client: APIClient, merchant: Merchant) -> None:
    cards = [issue(merchant, 100 + i).card for i in range(5)]
    services.giftcard_void(merchant=merchant, card_id=cards[0].pk)
    page1 = api_client.get("/api/v1/gift-cards/?limit=2").json()
    assert len(page1["results"]) == 2
    assert page1["results"][0]["id"] == cards[-1].public_id
    page2 = api_client.get(page1["next"]).json()
    page3 = api_client.get(page2["next"]).json()
    seen = [c["id"] for c in page1["results"] + page2["results"] + page3["results"]]
    assert sorted(seen) == sorted(c.public_id for c in cards)
    assert page3["next"] is None
    void = api_client.get("/api/v1/gift-cards/?status=void").json()["results"]
    assert [c["id"] for c in void] == [cards[0].public_id]
    future = (timezone.now() + timedelta(days=1)).isoformat().replace("+00:00", "Z")
    assert api_client.get(f"/api/v1/gift-cards/?created_after={future}").json()["results"] == []
    assert (
        len(api_client.get(f"/api/v1/gift-cards/?created_before={future}").json()["results"]) == 5
    )


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=x", "limit"),
        ("limit=5.0", "limit"),
        ("limit=", "limit"),
        ("status=lost", "status"),
        ("status=", "status"),
        ("created_after=yesterday", "created_after"),
        ("created_after=2026-07-01", "created_after"),
        ("created_after=2026-07-01T00:00:00", "created_after"),
        ("created_before=2026-07-01 00:00:00Z", "created_before"),
        ("cursor=bogus", "cursor"),
        ("cursor=", "cursor"),
        ("stauts=void", "stauts"),
        ("status=void&status=active", "status"),
    ],
)
def test_list_refuses_bad_parameters_by_name(
    api_client: APIClient, merchant: Merchant, query: str, field: str
) -> None:
    issue(merchant)
    body = assert_problem(api_client.get(f"/api/v1/gift-cards/?{query}"), 400, "validation_error")
    assert [error["field"] for error in body["errors"]] == [field]


def test_an_unknown_or_repeated_parameter_says_which(api_client: APIClient) -> None:
    unknown = api_client.get("/api/v1/gift-cards/?stauts=void").json()
    assert unknown["errors"] == [{"field": "stauts", "message": UNKNOWN_PARAMETER}]
    repeated = api_client.get("/api/v1/gift-cards/?limit=1&limit=2").json()
    assert repeated["errors"] == [{"field": "limit", "message": REPEATED_PARAMETER}]


def test_dates_with_an_offset_filter_the_list(api_client: APIClient, merchant: Merchant) -> None:
    issue(merchant)
    later = (timezone.now() + timedelta(hours=1)).astimezone(timezone.get_fixed_timezone(120))
    stamp = later.replace(microsecond=0).isoformat().replace("+", "%2B")
    assert len(api_client.get(f"/api/v1/gift-cards/?created_before={stamp}").json()["results"])
    assert api_client.get(f"/api/v1/gift-cards/?created_after={stamp}").json()["results"] == []


@pytest.mark.parametrize("query", ["limit=0", "cursor=", "status=void"])
def test_a_card_ledger_refuses_bad_and_unknown_parameters(
    api_client: APIClient, merchant: Merchant, query: str
) -> None:
    card = issue(merchant).card
    path = f"/api/v1/gift-cards/{card.public_id}/transactions/?{query}"
    assert_problem(api_client.get(path), 400, "validation_error")


def test_retrieve_and_transactions_newest_first(api_client: APIClient, merchant: Merchant):
    card = issue(merchant, 1000).card
    services.giftcard_redeem(merchant=merchant, card_id=card.pk, amount=100)
    body = api_client.get(f"/api/v1/gift-cards/{card.public_id}/").json()
    assert body["balance"] == 900
    txns = api_client.get(f"/api/v1/gift-cards/{card.public_id}/transactions/").json()
    assert [t["kind"] for t in txns["results"]] == ["redeem", "issue"]
    assert set(txns["results"][0]) >= TXN_FIELDS
    assert txns["results"][0]["amount"] == -100


def test_lookup_by_code_in_the_body(api_client: APIClient, merchant: Merchant) -> None:
    issued = issue(merchant, 1000)
    typed = codes.format_code(issued.code).lower().replace("-", " ")
    response = post(api_client, "/api/v1/gift-cards/lookup/", {"code": typed})
    assert response.status_code == 200
    assert response.json()["id"] == issued.card.public_id
    assert "code" not in response.json()


def test_lookup_of_an_unknown_code_is_404_and_recorded(api_client: APIClient) -> None:
    response = post(api_client, "/api/v1/gift-cards/lookup/", {"code": codes.generate()})
    assert_problem(response, 404, "card_not_found")
    assert FailedCodeLookup.objects.get().channel == "api"


def test_lookup_of_a_mistyped_code_says_so_and_is_not_counted(api_client: APIClient) -> None:
    code = codes.generate()
    typo = code[:-1] + ("0" if code[-1] != "0" else "1")
    body = assert_problem(
        post(api_client, "/api/v1/gift-cards/lookup/", {"code": typo}), 404, "card_not_found"
    )
    assert "typo" in body["detail"]
    assert not FailedCodeLookup.objects.exists()


def test_guessing_codes_ends_in_429_with_retry_after(api_client: APIClient, settings) -> None:
    settings.GIFTCARD_LOOKUP_FAILURES_PER_CLIENT = 5
    for _ in range(5):
        assert (
            post(api_client, "/api/v1/gift-cards/lookup/", {"code": codes.generate()}).status_code
            == 404
        )
    blocked = post(api_client, "/api/v1/gift-cards/lookup/", {"code": codes.generate()})
    assert_problem(blocked, 429, "rate_limited")
    assert 1 <= int(blocked["Retry-After"]) <= settings.GIFTCARD_LOOKUP_WINDOW_SECONDS
    by_code = post(
        api_client, "/api/v1/gift-cards/redeem/", {"code": codes.generate(), "amount": 1}
    )
    assert by_code.status_code == 429
    assert FailedCodeLookup.objects.count() == 5


def test_the_throttle_is_per_key(api_client: APIClient, merchant: Merchant, settings) -> None:
    settings.GIFTCARD_LOOKUP_FAILURES_PER_CLIENT = 3
    for _ in range(3):
        post(api_client, "/api/v1/gift-cards/lookup/", {"code": codes.generate()})
    other = APIClient(REMOTE_ADDR="10.1.2.3")
    other.credentials(
        HTTP_AUTHORIZATION="Bearer " + ApiKeyFactory(merchant=merchant, name="second").plaintext
    )
    assert post(other, "/api/v1/gift-cards/lookup/", {"code": codes.generate()}).status_code == 404


def test_a_second_key_from_the_same_address_is_not_braked(
    api_client: APIClient, merchant: Merchant, settings
) -> None:
    settings.GIFTCARD_LOOKUP_FAILURES_PER_CLIENT = 3
    for _ in range(3):
        post(api_client, "/api/v1/gift-cards/lookup/", {"code": codes.generate()})
    blocked = post(api_client, "/api/v1/gift-cards/lookup/", {"code": codes.generate()})
    assert blocked.json()["limited_by"] == "key"
    assert "This API key" in blocked.json()["detail"]
    # Same address (the test client's), another key of the same merchant: untouched, and
    # the storefront's visitors from that address do not spend the keys' budgets either.
    for _ in range(5):
        Client().post(f"/s/{merchant.slug}/balance/", {"code": codes.generate()})
    other = APIClient()
    other.credentials(
        HTTP_AUTHORIZATION="Bearer " + ApiKeyFactory(merchant=merchant, name="second").plaintext
    )
    assert post(other, "/api/v1/gift-cards/lookup/", {"code": codes.generate()}).status_code == 404


# --- money movements ----------------------------------------------------------------


def test_redeem_by_id(api_client: APIClient, merchant: Merchant) -> None:
    card = issue(merchant, 1000).card
    response = post(
        api_client,
        f"/api/v1/gift-cards/{card.public_id}/redeem/",
        {"amount": 250, "reference": "POS-1"},
    )
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"transaction", "gift_card"}
    assert set(body["transaction"]) >= TXN_FIELDS
    assert (body["transaction"]["amount"], body["transaction"]["balance_after"]) == (-250, 750)
    assert body["transaction"]["reference"] == "POS-1"
    assert body["gift_card"]["balance"] == 750


def test_redeem_by_code(api_client: APIClient, merchant: Merchant) -> None:
    issued = issue(merchant, 1000)
    response = post(
        api_client,
        "/api/v1/gift-cards/redeem/",
        {"code": codes.format_code(issued.code), "amount": 1000},
    )
    assert response.status_code == 201
    assert response.json()["gift_card"]["status"] == "redeemed"


def test_reload_void_and_refund(api_client: APIClient, merchant: Merchant) -> None:
    card = issue(merchant, 1000).card
    spend = post(api_client, f"/api/v1/gift-cards/{card.public_id}/redeem/", {"amount": 600})
    txn_id = spend.json()["transaction"]["id"]
    refund = post(api_client, f"/api/v1/transactions/{txn_id}/refund/", {"amount": 200})
    assert refund.status_code == 201
    assert refund.json()["transaction"]["kind"] == "refund"
    assert refund.json()["gift_card"]["balance"] == 600
    reload = post(api_client, f"/api/v1/gift-cards/{card.public_id}/reload/", {"amount": 400})
    assert reload.status_code == 201
    assert reload.json()["gift_card"]["balance"] == 1000
    void = post(api_client, f"/api/v1/gift-cards/{card.public_id}/void/", {"reason": "lost"})
    assert void.status_code == 200
    assert void.json()["gift_card"]["status"] == "void"
    assert void.json()["transaction"]["amount"] == -1000


def _refusal_cases(merchant: Merchant) -> list[tuple[str, dict[str, Any], int, str, GiftCard]]:
    card = issue(merchant, 1000).card
    fixed = issue(
        merchant,
        1000,
        product=ProductFactory(merchant=merchant, name="F", denominations=[1000]),
    ).card
    voided = issue(merchant, 1000).card
    services.giftcard_void(merchant=merchant, card_id=voided.pk)
    spend = services.giftcard_redeem(merchant=merchant, card_id=card.pk, amount=100)
    c = card.public_id
    return [
        (f"/api/v1/gift-cards/{c}/redeem/", {"amount": 5000}, 422, "insufficient_funds", card),
        (f"/api/v1/gift-cards/{c}/redeem/", {"amount": 0}, 400, "invalid_amount", card),
        (f"/api/v1/gift-cards/{c}/redeem/", {"amount": -5}, 400, "invalid_amount", card),
        (
            f"/api/v1/gift-cards/{c}/redeem/",
            {"amount": 1, "currency": "GBP"},
            422,
            "currency_mismatch",
            card,
        ),
        (
            f"/api/v1/gift-cards/{voided.public_id}/redeem/",
            {"amount": 1},
            422,
            "card_not_active",
            voided,
        ),
        (
            f"/api/v1/gift-cards/{fixed.public_id}/reload/",
            {"amount": 1},
            422,
            "card_not_reloadable",
            fixed,
        ),
        (
            f"/api/v1/gift-cards/{voided.public_id}/reload/",
            {"amount": 1},
            422,
            "card_not_active",
            voided,
        ),
        (f"/api/v1/gift-cards/{c}/reload/", {"amount": 0}, 400, "invalid_amount", card),
        (
            f"/api/v1/transactions/{spend.public_id}/refund/",
            {"amount": 101},
            422,
            "refund_exceeds_redemption",
            card,
        ),
        (
            f"/api/v1/transactions/{spend.public_id}/refund/",
            {"amount": 0},
            400,
            "invalid_amount",
            card,
        ),
        (f"/api/v1/gift-cards/{voided.public_id}/void/", {}, 422, "card_not_active", voided),
        ("/api/v1/gift-cards/gc_doesnotexist/redeem/", {"amount": 1}, 404, "card_not_found", card),
        ("/api/v1/transactions/txn_doesnotexist/refund/", {}, 404, "transaction_not_found", card),
    ]


def test_every_refusal_has_its_code_and_changes_nothing(
    api_client: APIClient, merchant: Merchant
) -> None:
    for path, data, status, code, card in _refusal_cases(merchant):
        before = snapshot(card)
        ledger_rows = Transaction.objects.count()
        assert_problem(post(api_client, path, data), status, code)
        assert snapshot(card) == before, (path, data)
        assert Transaction.objects.count() == ledger_rows


# --- strict input ---------------------------------------------------------------------


def test_an_unknown_field_is_refused_by_name_and_no_card_is_issued(api_client: APIClient) -> None:
    response = post(
        api_client, "/api/v1/gift-cards/", {"amount": 2500, "currency": "EUR", "reloadable": False}
    )
    body = assert_problem(response, 400, "validation_error")
    assert body["errors"] == [{"field": "reloadable", "message": UNKNOWN_FIELD}]
    assert not GiftCard.objects.exists()


def test_unknown_fields_are_listed_with_the_other_errors(api_client: APIClient) -> None:
    response = post(api_client, "/api/v1/gift-cards/", {"currency": "EUR", "colour": "red"})
    body = assert_problem(response, 400, "validation_error")
    assert {error["field"] for error in body["errors"]} == {"amount", "colour"}
    assert not GiftCard.objects.exists()


def _strictness_cases(merchant: Merchant) -> list[tuple[str, dict[str, Any], str, GiftCard]]:
    """Bodies that DRF would have accepted (coercing or dropping a value) and the
    field each must be refused for."""
    card = issue(merchant, 1000).card
    spend = services.giftcard_redeem(merchant=merchant, card_id=card.pk, amount=100)
    c, t = card.public_id, spend.public_id
    return [
        (f"/api/v1/gift-cards/{c}/redeem/", {"amount": 100, "reference": 0}, "reference", card),
        (f"/api/v1/gift-cards/{c}/redeem/", {"amount": 100, "currency": 978}, "currency", card),
        (f"/api/v1/gift-cards/{c}/redeem/", {"amount": 100, "amout": 5}, "amout", card),
        (f"/api/v1/gift-cards/{c}/reload/", {"amount": 100, "reference": True}, "reference", card),
        (
            f"/api/v1/gift-cards/{c}/reload/",
            {"amount": 100, "reloadable": True},
            "reloadable",
            card,
        ),
        (f"/api/v1/gift-cards/{c}/void/", {"reason": 0}, "reason", card),
        (f"/api/v1/gift-cards/{c}/void/", {"reson": "typo"}, "reson", card),
        (f"/api/v1/transactions/{t}/refund/", {"amount": 1, "reason": 0}, "reason", card),
        (f"/api/v1/transactions/{t}/refund/", {"amount": 1, "reference": 0}, "reference", card),
        (f"/api/v1/transactions/{t}/refund/", {"amount": 1, "full": True}, "full", card),
        ("/api/v1/gift-cards/redeem/", {"code": 1234, "amount": 1}, "code", card),
        ("/api/v1/gift-cards/lookup/", {"code": ["x"]}, "code", card),
    ]


def test_a_value_of_the_wrong_type_or_an_unknown_field_changes_nothing(
    api_client: APIClient, merchant: Merchant
) -> None:
    for path, data, field, card in _strictness_cases(merchant):
        before = snapshot(card)
        ledger_rows = Transaction.objects.count()
        body = assert_problem(post(api_client, path, data), 400, "validation_error")
        assert [error["field"] for error in body["errors"]] == [field], (path, data)
        assert snapshot(card) == before, (path, data)
        assert Transaction.objects.count() == ledger_rows
    assert not FailedCodeLookup.objects.exists()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("recipient_email", 0),
        ("recipient_phone", 447700900123),
        ("product", 0),
        ("expires_at", 1924991999),
        ("expires_at", "2031-01-01T00:00:00"),
        ("metadata", "order=1001"),
        ("reference", 5),
    ],
)
def test_issue_refuses_a_value_of_the_wrong_type(
    api_client: APIClient, field: str, value: Any
) -> None:
    data = {"amount": 2500, "currency": "EUR", field: value}
    body = assert_problem(post(api_client, "/api/v1/gift-cards/", data), 400, "validation_error")
    assert [error["field"] for error in body["errors"]] == [field]
    assert not GiftCard.objects.exists()


@pytest.mark.parametrize(
    "raw",
    [
        '{"amount": 100, "currency": "EUR", "\\ud800": 1}',
        '{"amount": 100, "currency": "\\ud800"}',
        '{"amount": 100, "currency": "EUR", "reference": "POS\\u0000"}',
        '{"amount": 100, "currency": "EUR", "metadata": {"order": "\\u0000"}}',
        '{"amount": 100, "currency": "EUR", "metadata": {"\\udc00": "1001"}}',
        '{"amount": 100, "currency": "EUR", "metadata": {"order": "\\ud83d"}}',
    ],
)
def test_text_that_cannot_be_stored_is_a_400_and_no_card_is_issued(
    api_client: APIClient, raw: str
) -> None:
    response = api_client.generic(
        "POST", "/api/v1/gift-cards/", raw.encode(), content_type="application/json"
    )
    assert_problem(response, 400, "validation_error")
    assert not GiftCard.objects.exists()


def test_a_body_that_is_not_an_object_is_refused(api_client: APIClient) -> None:
    assert_problem(post(api_client, "/api/v1/gift-cards/lookup/", ["x"]), 400, "validation_error")


def test_malformed_json_and_wrong_media_type(api_client: APIClient, merchant: Merchant) -> None:
    card = issue(merchant).card
    path = f"/api/v1/gift-cards/{card.public_id}/redeem/"
    assert_problem(
        api_client.generic("POST", path, "{amount: 1", content_type="application/json"),
        400,
        "malformed_request",
    )
    assert_problem(
        api_client.generic("POST", path, "amount=1", content_type="text/plain"),
        415,
        "unsupported_media_type",
    )
    assert_problem(api_client.put(path, {}, format="json"), 405, "method_not_allowed")
    assert snapshot(card)[0] == 1000


# --- tenancy and auth ---------------------------------------------------------------


def _every_endpoint(card: GiftCard, txn: Transaction) -> list[tuple[str, str, dict[str, Any]]]:
    c, t = card.public_id, txn.public_id
    return [
        ("get", f"/api/v1/gift-cards/{c}/", {}),
        ("get", f"/api/v1/gift-cards/{c}/transactions/", {}),
        ("post", f"/api/v1/gift-cards/{c}/redeem/", {"amount": 1}),
        ("post", f"/api/v1/gift-cards/{c}/reload/", {"amount": 1}),
        ("post", f"/api/v1/gift-cards/{c}/void/", {}),
        ("post", f"/api/v1/transactions/{t}/refund/", {"amount": 1}),
    ]


def test_another_merchants_objects_are_404_on_every_endpoint(
    other_api_client: APIClient, merchant: Merchant
) -> None:
    issued = issue(merchant, 1000)
    spend = services.giftcard_redeem(merchant=merchant, card_id=issued.card.pk, amount=10)
    before = snapshot(issued.card)
    for method, path, data in _every_endpoint(issued.card, spend):
        response = getattr(other_api_client, method)(path, data, format="json")
        assert response.status_code == 404, path
        assert response.json()["code"] in {"card_not_found", "transaction_not_found"}
    for path, body in (
        ("/api/v1/gift-cards/lookup/", {"code": issued.code}),
        ("/api/v1/gift-cards/redeem/", {"code": issued.code, "amount": 1}),
    ):
        assert_problem(post(other_api_client, path, body), 404, "card_not_found")
    assert other_api_client.get("/api/v1/gift-cards/").json()["results"] == []
    assert snapshot(issued.card) == before


def test_every_endpoint_needs_a_key(merchant: Merchant) -> None:
    issued = issue(merchant, 1000)
    spend = services.giftcard_redeem(merchant=merchant, card_id=issued.card.pk, amount=10)
    anonymous = APIClient()
    endpoints = [
        *_every_endpoint(issued.card, spend),
        ("get", "/api/v1/gift-cards/", {}),
        ("post", "/api/v1/gift-cards/", {}),
    ]
    for method, path, data in endpoints:
        response = getattr(anonymous, method)(path, data, format="json")
        assert_problem(response, 401, "not_authenticated")


def test_scopes_limit_what_a_key_may_do(merchant: Merchant) -> None:
    card = issue(merchant, 1000).card
    reader = APIClient()
    reader.credentials(
        HTTP_AUTHORIZATION="Bearer "
        + ApiKeyFactory(merchant=merchant, name="read", scopes=["cards:read"]).plaintext
    )
    assert reader.get(f"/api/v1/gift-cards/{card.public_id}/").status_code == 200
    denied = post(reader, f"/api/v1/gift-cards/{card.public_id}/redeem/", {"amount": 1})
    body = assert_problem(denied, 403, "permission_denied")
    assert "cards:redeem" in body["detail"]
    assert snapshot(card)[0] == 1000


def test_reads_are_served_from_cache_and_fresh_after_a_change(
    api_client: APIClient,
    merchant: Merchant,
    django_assert_num_queries,
    django_capture_on_commit_callbacks,
) -> None:
    card = issue(merchant, 1000).card
    path = f"/api/v1/gift-cards/{card.public_id}/"
    assert api_client.get(path).json()["balance"] == 1000
    with django_assert_num_queries(0):  # the card from the cache, the key row from the worker
        assert api_client.get(path).json()["balance"] == 1000
    with django_capture_on_commit_callbacks(execute=True):
        post(api_client, f"{path}redeem/", {"amount": 1})
    assert api_client.get(path).json()["balance"] == 999


def test_an_api_key_cannot_name_another_doors_key(
    api_client: APIClient, merchant: Merchant
) -> None:
    from giftcards.idempotency import order_unit_key

    order_card = issue(
        merchant, 2500, idempotency_key=order_unit_key(order="ord_abc", line=7, unit=0)
    )
    response = post(
        api_client,
        "/api/v1/gift-cards/",
        {"amount": 2500, "currency": "EUR"},
        **{"Idempotency-Key": "order:ord_abc:7:0"},
    )
    assert response.status_code == 201
    body = response.json()
    # a new card of its own, never the order's card or its code
    assert body["id"] != order_card.card.public_id
    assert codes.normalise(body["code"]) != codes.normalise(order_card.code)
    assert GiftCard.objects.count() == 2


def test_a_long_api_key_is_kept_whole(api_client: APIClient, merchant: Merchant) -> None:
    card = issue(merchant, 1000).card
    long_key = "k" * 250
    first = post(
        api_client,
        f"/api/v1/gift-cards/{card.public_id}/reload/",
        {"amount": 100},
        **{"Idempotency-Key": long_key + "A"},
    )
    second = post(
        api_client,
        f"/api/v1/gift-cards/{card.public_id}/reload/",
        {"amount": 100},
        **{"Idempotency-Key": long_key + "B"},
    )
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json()["transaction"]["id"] != second.json()["transaction"]["id"]
    assert snapshot(card)[0] == 1200

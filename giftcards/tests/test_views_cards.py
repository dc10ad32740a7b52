"""Dashboard card pages: list and search, detail and ledger, issue, reload, void, refund,
adjust, CSV exports; every refusal changes nothing; roles and tenancy on every route."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from giftcards import codes, product_services, services
from giftcards.models import (
    FailedCodeLookup,
    GiftCard,
    Product,
    Transaction,
)
from giftcards.tests.factories import IssuedCardFactory
from merchants.models import Membership, Merchant, Role

pytestmark = pytest.mark.django_db


# --- helpers ------------------------------------------------------------------------------


def url(name: str, merchant: Merchant, *args: str) -> str:
    return reverse(f"giftcards:{name}", args=[merchant.slug, *args])


def issue(merchant: Merchant, amount: int = 5000, **kwargs: Any) -> services.IssuedCard:
    return IssuedCardFactory(merchant=merchant, amount=amount, **kwargs)


def redeem(card: GiftCard, amount: int, **kwargs: Any) -> Transaction:
    return services.giftcard_redeem(
        merchant=card.merchant, card_id=card.pk, amount=amount, **kwargs
    )


def snapshot(card: GiftCard) -> tuple[int, str, int]:
    """What a refused operation must leave exactly as it was."""
    card.refresh_from_db()
    return card.balance, card.status, Transaction.objects.filter(gift_card=card).count()


def latest(card: GiftCard) -> Transaction:
    return Transaction.objects.filter(gift_card=card).order_by("-id").first()  # type: ignore[return-value]


def page(response: Any) -> str:
    return response.content.decode()


@pytest.fixture
def manager(merchant: Merchant, member_factory: Callable[..., Membership]) -> User:
    return member_factory(merchant, Role.MANAGER).user


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def manager_client(manager: User) -> Client:
    return client_for(manager)


@pytest.fixture
def clerk_client(clerk: User) -> Client:
    return client_for(clerk)


@pytest.fixture
def card(merchant: Merchant) -> GiftCard:
    return issue(merchant, 5000, recipient_email="ana@example.com").card


# --- list -----------------------------------------------------------------------------------


def test_the_card_list_shows_last4_and_money_but_never_codes(
    clerk_client: Client, merchant: Merchant, other_merchant: Merchant
) -> None:
    # given a card here and one at another merchant
    mine = issue(merchant, 2550, recipient_email="ana@example.com")
    theirs = issue(other_merchant, 1000)
    # when a clerk opens the list
    response = clerk_client.get(url("cards", merchant))
    # then the card shows by its last 4 with its balance in money, the other not at all
    assert response.status_code == 200
    html = page(response)
    assert mine.card.last4 in html
    assert "€25.50" in html
    assert "ana@example.com" in html
    assert mine.code not in html
    assert mine.formatted_code not in html
    assert theirs.card.public_id not in html
    assert "1 card." in html


def test_the_card_list_filters_by_status(manager_client: Client, merchant: Merchant) -> None:
    active = issue(merchant, 1000).card
    voided = issue(merchant, 1000).card
    services.giftcard_void(merchant=merchant, card_id=voided.pk, reason="test")
    response = manager_client.get(url("cards", merchant), {"status": "void"})
    assert [row.card.pk for row in response.context["rows"]] == [voided.pk]
    assert active.public_id not in page(response)


def test_the_card_list_pages_by_50_with_few_queries(
    manager_client: Client, merchant: Merchant, django_assert_max_num_queries: Any
) -> None:
    # given 51 cards, some with a product
    product = product_services.product_create(
        merchant=merchant, name="Classic", currency="EUR", denominations=[1000]
    )
    for index in range(51):
        issue(merchant, 1000, product=product if index % 2 else None)
    # when the first page is fetched, then the query count does not grow with the rows
    with django_assert_max_num_queries(6):
        first = manager_client.get(url("cards", merchant))
    assert len(first.context["rows"]) == 50
    assert "Page 1 of 2" in page(first)
    second = manager_client.get(url("cards", merchant), {"page": "2"})
    assert len(second.context["rows"]) == 1
    assert manager_client.get(url("cards", merchant), {"page": "abc"}).status_code == 200


def test_a_status_filter_sent_by_htmx_keeps_its_page_links(
    manager_client: Client, merchant: Merchant
) -> None:
    for _ in range(51):
        issue(merchant, 1000)
    response = manager_client.post(
        url("cards", merchant), {"q": "", "status": "active"}, headers={"HX-Request": "true"}
    )
    assert len(response.context["rows"]) == 50
    assert "?status=active&amp;page=2" in page(response)


def test_a_search_term_in_the_url_is_ignored(clerk_client: Client, merchant: Merchant) -> None:
    issued = issue(merchant, 1000)
    response = clerk_client.get(url("cards", merchant), {"q": issued.code})
    assert issued.code not in page(response)
    assert len(response.context["rows"]) == 1


@pytest.mark.parametrize("how", ["last4", "card_id", "email", "code", "formatted_code"])
def test_searching_finds_a_card(clerk_client: Client, merchant: Merchant, how: str) -> None:
    # given two cards
    wanted = issue(merchant, 1000, recipient_email="Bea@Example.com")
    issue(merchant, 1000, recipient_email="other@example.com")
    term = {
        "last4": wanted.card.last4.lower(),
        "card_id": wanted.card.public_id,
        "email": "bea@example.com",
        "code": wanted.code.lower(),
        "formatted_code": wanted.formatted_code,
    }[how]
    # when a clerk searches (a POST: codes and emails stay out of URLs)
    response = clerk_client.post(url("cards", merchant), {"q": term})
    # then only the wanted card is listed, and the full code is not echoed in a list
    assert response.status_code == 200
    assert [row.card.pk for row in response.context["rows"]] == [wanted.card.pk]
    assert wanted.code not in page(response).replace(term, "")


def test_an_unknown_code_is_counted_as_a_failed_lookup(
    clerk_client: Client, merchant: Merchant
) -> None:
    issue(merchant, 1000)
    unknown = codes.format_code(codes.generate())
    response = clerk_client.post(url("cards", merchant), {"q": unknown})
    assert response.status_code == 200
    assert response.context["rows"] == []
    assert "No gift card matches that code." in page(response)
    assert FailedCodeLookup.objects.filter(merchant=merchant, channel="dashboard").count() == 1


def test_a_code_with_a_typo_is_explained(clerk_client: Client, merchant: Merchant) -> None:
    real = issue(merchant, 1000).code
    typo = real[:-1] + ("0" if real[-1] != "0" else "1")
    response = clerk_client.post(url("cards", merchant), {"q": typo})
    assert "not a valid gift card code" in page(response)
    assert not FailedCodeLookup.objects.exists()


def test_code_guessing_in_the_dashboard_is_throttled(
    clerk_client: Client, merchant: Merchant, settings: Any
) -> None:
    settings.GIFTCARD_LOOKUP_FAILURES_PER_CLIENT = 2
    real = issue(merchant, 1000)
    for _ in range(2):
        clerk_client.post(url("cards", merchant), {"q": codes.generate()})
    response = clerk_client.post(url("cards", merchant), {"q": real.code})
    assert response.context["rows"] == []
    assert "You have tried too many unknown codes" in page(response)
    assert FailedCodeLookup.objects.filter(channel="dashboard").count() == 2


@pytest.mark.parametrize("look_alike", ["\u017f", "\u0131"])
def test_a_non_ascii_look_alike_of_a_code_finds_nothing_in_the_dashboard(
    clerk_client: Client, merchant: Merchant, look_alike: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = "S1S1S1S1S1S1S1S"
    monkeypatch.setattr(codes, "generate", lambda: body + codes.check_symbol(body))
    real = issue(merchant, 1000)
    # Case mapping would read the look-alike as S or I (then 1): never a way around
    # the throttled lookup.
    typed = (
        real.code.replace("S", look_alike)
        if look_alike == "\u017f"
        else real.code.replace("1", look_alike)
    )
    response = clerk_client.post(url("cards", merchant), {"q": typed})
    assert response.context["rows"] == []


def test_search_results_come_back_as_a_fragment_for_htmx(
    clerk_client: Client, merchant: Merchant
) -> None:
    wanted = issue(merchant, 1000).card
    response = clerk_client.post(
        url("cards", merchant), {"q": wanted.public_id}, headers={"HX-Request": "true"}
    )
    html = page(response)
    assert '<div id="card-results"' in html
    assert 'hx-swap-oob="innerHTML"' in html
    assert "<html" not in html
    assert wanted.last4 in html


# --- detail ---------------------------------------------------------------------------------


def test_the_detail_page_shows_the_card_and_its_full_ledger(
    manager_client: Client, merchant: Merchant, owner: User
) -> None:
    # given a card with metadata, spent once
    issued = issue(
        merchant,
        5000,
        actor=owner,
        recipient_email="ana@example.com",
        recipient_phone="+441234567",
        metadata={"order": "A-17"},
        reference="ORDER-17",
    )
    redeem(issued.card, 1250, reference="TILL-3")
    # when a manager opens it
    response = manager_client.get(url("card-detail", merchant, issued.card.public_id))
    # then balances, recipient, metadata and each ledger row with its actor appear
    assert response.status_code == 200
    html = page(response)
    assert "€37.50" in html
    assert "€50.00" in html
    assert "-€12.50" in html
    assert "+€50.00" in html
    assert "ana@example.com" in html
    assert "+441234567" in html
    assert "A-17" in html
    assert "ORDER-17" in html
    assert "TILL-3" in html
    assert str(owner) in html
    assert "system" in html  # the redemption had no actor
    assert issued.code not in html
    assert [e.txn.kind for e in response.context["ledger"]] == ["redeem", "issue"]


def test_the_detail_page_query_count_does_not_grow_with_the_ledger(
    owner_client: Client, merchant: Merchant, owner: User, django_assert_max_num_queries: Any
) -> None:
    card = issue(merchant, 5000, actor=owner).card
    for _ in range(10):
        spend = redeem(card, 100, actor=owner)
        services.transaction_refund(merchant=merchant, transaction_id=spend.pk, amount=50)
    with django_assert_max_num_queries(7):
        response = owner_client.get(url("card-detail", merchant, card.public_id))
    assert len(response.context["ledger"]) == 21


@pytest.mark.parametrize(
    ("role", "visible", "hidden"),
    [
        (Role.CLERK, [], ["card-reload", "card-void", "card-adjust", "transaction-refund"]),
        (Role.MANAGER, ["card-reload", "card-void", "transaction-refund"], ["card-adjust"]),
        (Role.OWNER, ["card-reload", "card-void", "card-adjust", "transaction-refund"], []),
    ],
)
def test_the_detail_page_offers_each_role_its_actions(
    merchant: Merchant,
    member_factory: Callable[..., Membership],
    role: str,
    visible: list[str],
    hidden: list[str],
) -> None:
    card = issue(merchant, 5000).card
    spend = redeem(card, 1000)
    client = client_for(member_factory(merchant, role).user)
    html = page(client.get(url("card-detail", merchant, card.public_id)))
    for name in visible:
        target = spend.public_id if name == "transaction-refund" else card.public_id
        assert url(name, merchant, target) in html, name
    for name in hidden:
        target = spend.public_id if name == "transaction-refund" else card.public_id
        assert url(name, merchant, target) not in html, name


def test_a_void_card_offers_no_money_actions(owner_client: Client, merchant: Merchant) -> None:
    card = issue(merchant, 5000).card
    redeem(card, 1000)
    services.giftcard_void(merchant=merchant, card_id=card.pk, reason="lost")
    html = page(owner_client.get(url("card-detail", merchant, card.public_id)))
    for name in ("card-reload", "card-void", "card-adjust"):
        assert url(name, merchant, card.public_id) not in html
    assert "/refund/" not in html


# --- issue ----------------------------------------------------------------------------------


def issue_form(**overrides: Any) -> dict[str, Any]:
    data = {
        "currency": "EUR",
        "amount": "25.00",
        "product": "",
        "expires_on": "",
        "recipient_email": "ana@example.com",
        "recipient_phone": "",
        "reference": "WALK-IN",
        "idempotency_key": "k" * 22,
    }
    data.update(overrides)
    return data


def test_the_issue_form_renders(manager_client: Client, merchant: Merchant) -> None:
    product_services.product_create(
        merchant=merchant, name="Classic", currency="EUR", denominations=[1000, 2500]
    )
    response = manager_client.get(url("card-issue", merchant))
    assert response.status_code == 200
    html = page(response)
    assert "Classic (€10.00, €25.00)" in html
    assert '<option value="EUR" selected>' in html
    assert 'name="idempotency_key"' in html


def test_issuing_shows_the_full_code_once_in_the_response(
    manager_client: Client, merchant: Merchant, manager: User
) -> None:
    # when a manager issues a card
    response = manager_client.post(url("card-issue", merchant), issue_form())
    # then the response itself shows the full code, formatted, and is never cached
    assert response.status_code == 200
    card = GiftCard.objects.get(merchant=merchant)
    shown = response.context["code"]
    assert codes.digest(codes.normalise(shown)) == card.code_digest
    for group in shown.split("-"):
        assert group in page(response)
    assert "no-store" in response["Cache-Control"]
    assert card.public_id not in response.get("Location", "")
    # and the card holds the amount with exactly one issue row written by this manager
    assert (card.balance, card.initial_amount, card.status) == (2500, 2500, "active")
    assert card.recipient_email == "ana@example.com"
    txn = Transaction.objects.get(gift_card=card)
    assert (txn.kind, txn.amount, txn.balance_after) == ("issue", 2500, 2500)
    assert txn.actor_user == manager
    assert txn.reference == "WALK-IN"
    # and the code is nowhere else: not in the session's messages, not on the detail page
    detail = manager_client.get(url("card-detail", merchant, card.public_id))
    assert shown not in page(detail)
    assert shown.replace("-", "") not in page(detail)
    assert not list(detail.context["messages"])


def test_resubmitting_the_issue_form_does_not_issue_twice(
    manager_client: Client, merchant: Merchant
) -> None:
    first = manager_client.post(url("card-issue", merchant), issue_form())
    again = manager_client.post(url("card-issue", merchant), issue_form())
    assert GiftCard.objects.filter(merchant=merchant).count() == 1
    assert again.status_code == 200
    assert "Card already issued" in page(again)
    assert first.context["code"] not in page(again)


def test_issuing_with_a_product_and_an_expiry_date(
    manager_client: Client, merchant: Merchant
) -> None:
    product = product_services.product_create(
        merchant=merchant,
        name="Classic",
        currency="EUR",
        denominations=[1000, 2500],
        reloadable=False,
    )
    expiry = (timezone.now() + timedelta(days=800)).date()
    data = issue_form(product=product.public_id, expires_on=expiry.isoformat(), amount="10")
    response = manager_client.post(url("card-issue", merchant), data)
    assert response.status_code == 200
    card = GiftCard.objects.get(merchant=merchant)
    assert card.product == product
    assert card.reloadable is False
    assert card.expires_at is not None
    assert card.expires_at.date() == expiry


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"amount": "0"}, "The amount must be more than 0."),
        ({"amount": "-5"}, "The amount must be more than 0."),
        ({"amount": "abc"}, "Type the amount as a number, for example 25.00."),
        ({"amount": "10.001"}, "EUR amounts have at most 2 decimal places."),
        ({"amount": "1,250"}, "“1,250” could be read two ways."),
        ({"amount": "5 JPY"}, "This amount is in EUR; what was typed names JPY."),
        ({"amount": ""}, "This field is required."),
        ({"amount": "1.5", "currency": "JPY"}, "JPY amounts have no decimal places."),
        ({"recipient_email": "not-an-email"}, "Enter a valid email address."),
        ({"recipient_phone": "call me"}, "Enter the phone number in international format"),
        ({"recipient_phone": "07700 900123"}, "starting with + and the country code"),
        ({"expires_on": "2001-01-01"}, "The expiry date must be in the future."),
    ],
)
def test_bad_issue_input_is_refused_and_issues_nothing(
    manager_client: Client, merchant: Merchant, overrides: dict[str, str], message: str
) -> None:
    response = manager_client.post(url("card-issue", merchant), issue_form(**overrides))
    assert response.status_code == 422
    assert message in page(response).replace("&#x27;", "'")
    assert not GiftCard.objects.exists()
    assert not Transaction.objects.exists()


def test_an_issued_cards_amount_phone_and_email_are_stored_normalised(
    manager_client: Client, merchant: Merchant
) -> None:
    data = issue_form(
        amount="1.250,50", recipient_email=" Ana@Example.COM", recipient_phone="0044 7700 900123"
    )
    response = manager_client.post(url("card-issue", merchant), data)
    assert response.status_code == 200
    card = GiftCard.objects.get()
    assert (card.initial_amount, card.recipient_email, card.recipient_phone) == (
        125050,
        "ana@example.com",
        "+447700900123",
    )


def test_zero_decimal_currencies_take_whole_amounts(
    manager_client: Client, merchant: Merchant
) -> None:
    response = manager_client.post(
        url("card-issue", merchant), issue_form(amount="1,500", currency="JPY")
    )
    assert response.status_code == 200
    card = GiftCard.objects.get()
    assert (card.balance, card.currency) == (1500, "JPY")
    assert "¥1,500" in page(response)


def test_an_amount_the_product_does_not_offer_is_refused_in_money(
    manager_client: Client, merchant: Merchant
) -> None:
    product = product_services.product_create(
        merchant=merchant, name="Classic", currency="EUR", denominations=[1000, 2500]
    )
    data = issue_form(product=product.public_id, amount="12")
    response = manager_client.post(url("card-issue", merchant), data)
    assert response.status_code == 422
    assert "Classic comes in these amounts: €10.00, €25.00." in page(response)
    assert not GiftCard.objects.exists()


def test_an_inactive_or_foreign_product_cannot_be_chosen(
    manager_client: Client, merchant: Merchant, other_merchant: Merchant
) -> None:
    inactive = product_services.product_create(
        merchant=merchant, name="Old", currency="EUR", denominations=[1000], is_active=False
    )
    foreign = product_services.product_create(
        merchant=other_merchant, name="Theirs", currency="EUR", denominations=[1000]
    )
    for product in (inactive, foreign):
        data = issue_form(product=product.public_id, amount="10")
        response = manager_client.post(url("card-issue", merchant), data)
        assert response.status_code == 422
        assert "Select a valid choice" in page(response)
    assert not GiftCard.objects.exists()


def test_a_product_in_another_currency_is_refused(
    manager_client: Client, merchant: Merchant
) -> None:
    product: Product = product_services.product_create(
        merchant=merchant, name="Dollars", currency="USD", denominations=[1000]
    )
    data = issue_form(product=product.public_id, amount="10", currency="EUR")
    response = manager_client.post(url("card-issue", merchant), data)
    assert response.status_code == 422
    assert "This product is sold in USD, not EUR." in page(response)
    assert not GiftCard.objects.exists()


# --- reload ---------------------------------------------------------------------------------


def test_reloading_adds_to_the_balance_with_one_ledger_row(
    manager_client: Client, merchant: Merchant, manager: User, card: GiftCard
) -> None:
    data = {
        "reload-amount": "10.50",
        "reload-reference": "TOPUP",
        "reload-idempotency_key": "r" * 20,
    }
    response = manager_client.post(url("card-reload", merchant, card.public_id), data)
    assert response.status_code == 302
    assert response["Location"] == url("card-detail", merchant, card.public_id)
    assert snapshot(card) == (6050, "active", 2)
    txn = latest(card)
    assert (txn.kind, txn.amount, txn.balance_after) == ("reload", 1050, 6050)
    assert (txn.actor_user, txn.reference) == (manager, "TOPUP")
    followed = manager_client.get(response["Location"])
    assert "Reloaded €10.50. The card now holds €60.50." in page(followed)
    # the same form submitted again is recognised and not booked twice
    manager_client.post(url("card-reload", merchant, card.public_id), data)
    assert snapshot(card) == (6050, "active", 2)


@pytest.mark.parametrize("typed", ["12,50", "12.50", "€12.50", "12,50 EUR"])
def test_a_reload_reads_the_amount_as_the_till_does(
    manager_client: Client, merchant: Merchant, card: GiftCard, typed: str
) -> None:
    data = {"reload-amount": typed, "reload-idempotency_key": "r" * 20}
    response = manager_client.post(url("card-reload", merchant, card.public_id), data)
    assert response.status_code == 302
    assert snapshot(card) == (6250, "active", 2)


def test_the_reload_page_renders_on_its_own(
    manager_client: Client, merchant: Merchant, card: GiftCard
) -> None:
    response = manager_client.get(url("card-reload", merchant, card.public_id))
    assert response.status_code == 200
    assert 'name="reload-amount"' in page(response)


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("0", "The amount must be more than 0."),
        ("-5", "The amount must be more than 0."),
        ("abc", "Type the amount as a number, for example 25.00."),
        ("10.001", "EUR amounts have at most 2 decimal places."),
        ("1,250", "could be read two ways"),
    ],
)
def test_a_bad_reload_amount_changes_nothing(
    manager_client: Client, merchant: Merchant, card: GiftCard, amount: str, message: str
) -> None:
    before = snapshot(card)
    response = manager_client.post(
        url("card-reload", merchant, card.public_id), {"reload-amount": amount}
    )
    assert response.status_code == 422
    assert message in page(response)
    assert snapshot(card) == before


def test_a_card_that_is_not_reloadable_is_refused(
    manager_client: Client, merchant: Merchant
) -> None:
    product = product_services.product_create(
        merchant=merchant, name="One-off", currency="EUR", denominations=[5000], reloadable=False
    )
    card = issue(merchant, 5000, product=product).card
    before = snapshot(card)
    response = manager_client.post(
        url("card-reload", merchant, card.public_id), {"reload-amount": "10"}
    )
    assert response.status_code == 422
    assert "This card cannot be reloaded." in page(response)
    assert snapshot(card) == before


def test_a_void_card_cannot_be_reloaded(
    manager_client: Client, merchant: Merchant, card: GiftCard
) -> None:
    services.giftcard_void(merchant=merchant, card_id=card.pk, reason="lost")
    before = snapshot(card)
    response = manager_client.post(
        url("card-reload", merchant, card.public_id), {"reload-amount": "10"}
    )
    assert response.status_code == 422
    assert "This card is void." in page(response)
    assert snapshot(card) == before


# --- void -----------------------------------------------------------------------------------


def test_voiding_needs_a_reason_and_removes_the_balance(
    manager_client: Client, merchant: Merchant, manager: User, card: GiftCard
) -> None:
    void = url("card-void", merchant, card.public_id)
    # without a reason: refused, nothing changed
    before = snapshot(card)
    response = manager_client.post(void, {"void-reason": "   "})
    assert response.status_code == 422
    assert "This field is required." in page(response) or "Say why" in page(response)
    assert snapshot(card) == before
    # with a reason: the balance leaves through one void row
    response = manager_client.post(void, {"void-reason": "Reported stolen"})
    assert response.status_code == 302
    assert snapshot(card) == (0, "void", 2)
    txn = latest(card)
    assert (txn.kind, txn.amount, txn.balance_after) == ("void", -5000, 0)
    assert (txn.reason, txn.actor_user) == ("Reported stolen", manager)
    assert "€50.00 left its balance" in page(manager_client.get(response["Location"]))


def test_voiding_a_void_card_is_refused(
    manager_client: Client, merchant: Merchant, card: GiftCard
) -> None:
    services.giftcard_void(merchant=merchant, card_id=card.pk, reason="first")
    before = snapshot(card)
    response = manager_client.post(
        url("card-void", merchant, card.public_id), {"void-reason": "again"}
    )
    assert response.status_code == 422
    assert "This card is already void." in page(response)
    assert snapshot(card) == before


# --- refund ---------------------------------------------------------------------------------


def test_a_redemption_can_be_refunded_in_part_then_in_full(
    manager_client: Client, merchant: Merchant, manager: User, card: GiftCard
) -> None:
    spend = redeem(card, 2000)
    refund = url("transaction-refund", merchant, spend.public_id)
    assert "€20.00" in page(manager_client.get(refund))
    # part of it
    response = manager_client.post(
        refund,
        {"refund-amount": "5", "refund-reason": "Wrong item", "refund-idempotency_key": "a" * 20},
    )
    assert response.status_code == 302
    assert snapshot(card) == (3500, "active", 3)
    txn = latest(card)
    assert (txn.kind, txn.amount, txn.balance_after, txn.related_id) == (
        "refund",
        500,
        3500,
        spend.pk,
    )
    assert (txn.reason, txn.actor_user) == ("Wrong item", manager)
    # the rest (empty amount: everything that is left)
    response = manager_client.post(refund, {"refund-amount": ""})
    assert response.status_code == 302
    assert snapshot(card) == (5000, "active", 4)
    assert latest(card).amount == 1500
    # nothing is left to refund
    after = manager_client.get(refund)
    assert "already been refunded in full" in page(after)


def test_a_refund_over_what_is_left_is_refused(
    manager_client: Client, merchant: Merchant, card: GiftCard
) -> None:
    spend = redeem(card, 2000)
    services.transaction_refund(merchant=merchant, transaction_id=spend.pk, amount=1500)
    before = snapshot(card)
    response = manager_client.post(
        url("transaction-refund", merchant, spend.public_id), {"refund-amount": "6"}
    )
    assert response.status_code == 422
    assert "At most €5.00 of this redemption can still be refunded." in page(response)
    assert snapshot(card) == before


@pytest.mark.parametrize("amount", ["0", "-5", "abc", "10.001"])
def test_a_bad_refund_amount_changes_nothing(
    manager_client: Client, merchant: Merchant, card: GiftCard, amount: str
) -> None:
    spend = redeem(card, 2000)
    before = snapshot(card)
    response = manager_client.post(
        url("transaction-refund", merchant, spend.public_id), {"refund-amount": amount}
    )
    assert response.status_code == 422
    assert snapshot(card) == before


def test_only_redemptions_can_be_refunded(
    manager_client: Client, merchant: Merchant, card: GiftCard
) -> None:
    issue_row = latest(card)
    refund = url("transaction-refund", merchant, issue_row.public_id)
    assert "Only redemptions can be refunded" in page(manager_client.get(refund))
    before = snapshot(card)
    response = manager_client.post(refund, {"refund-amount": "1"})
    assert response.status_code == 422
    assert "Only redemptions can be refunded." in page(response)
    assert snapshot(card) == before


def test_a_refund_on_a_void_card_is_refused(
    manager_client: Client, merchant: Merchant, card: GiftCard
) -> None:
    spend = redeem(card, 2000)
    services.giftcard_void(merchant=merchant, card_id=card.pk, reason="lost")
    before = snapshot(card)
    response = manager_client.post(
        url("transaction-refund", merchant, spend.public_id), {"refund-amount": "1"}
    )
    assert response.status_code == 422
    assert "This card is void." in page(response)
    assert snapshot(card) == before


# --- adjust ---------------------------------------------------------------------------------


def test_an_owner_adjusts_up_and_down_with_a_reason(
    owner_client: Client, merchant: Merchant, owner: User, card: GiftCard
) -> None:
    adjust = url("card-adjust", merchant, card.public_id)
    response = owner_client.post(
        adjust, {"adjust-direction": "add", "adjust-amount": "2", "adjust-reason": "Goodwill"}
    )
    assert response.status_code == 302
    assert snapshot(card) == (5200, "active", 2)
    txn = latest(card)
    assert (txn.kind, txn.amount, txn.balance_after, txn.reason) == (
        "adjust",
        200,
        5200,
        "Goodwill",
    )
    assert txn.actor_user == owner
    response = owner_client.post(
        adjust, {"adjust-direction": "remove", "adjust-amount": "52", "adjust-reason": "Fraud"}
    )
    assert response.status_code == 302
    assert snapshot(card) == (0, "redeemed", 3)
    assert latest(card).amount == -5200


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"adjust-direction": "remove", "adjust-amount": "50.01", "adjust-reason": "x"},
            "Not enough on the card: it holds €50.00.",
        ),
        ({"adjust-direction": "add", "adjust-amount": "5", "adjust-reason": " "}, "required"),
        ({"adjust-direction": "add", "adjust-amount": "0", "adjust-reason": "x"}, "more than 0"),
        ({"adjust-direction": "add", "adjust-amount": "-5", "adjust-reason": "x"}, "more than 0"),
        (
            {"adjust-direction": "add", "adjust-amount": "abc", "adjust-reason": "x"},
            "Type the amount as a number",
        ),
        (
            {"adjust-direction": "add", "adjust-amount": "10.001", "adjust-reason": "x"},
            "decimal places",
        ),
        (
            {"adjust-direction": "sideways", "adjust-amount": "1", "adjust-reason": "x"},
            "valid choice",
        ),
    ],
)
def test_a_refused_adjustment_changes_nothing(
    owner_client: Client, merchant: Merchant, card: GiftCard, data: dict[str, str], message: str
) -> None:
    before = snapshot(card)
    response = owner_client.post(url("card-adjust", merchant, card.public_id), data)
    assert response.status_code == 422
    assert message in page(response)
    assert snapshot(card) == before


def test_managers_and_clerks_cannot_adjust(
    manager_client: Client, clerk_client: Client, merchant: Merchant, card: GiftCard
) -> None:
    before = snapshot(card)
    data = {"adjust-direction": "add", "adjust-amount": "5", "adjust-reason": "x"}
    for client in (manager_client, clerk_client):
        assert client.post(url("card-adjust", merchant, card.public_id), data).status_code == 403
        assert client.get(url("card-adjust", merchant, card.public_id)).status_code == 403
    assert snapshot(card) == before


# --- exports --------------------------------------------------------------------------------


def read_csv(response: Any) -> list[dict[str, str]]:
    body = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(body)))


def test_the_cards_export_streams_every_card_without_codes(
    manager_client: Client, merchant: Merchant, other_merchant: Merchant
) -> None:
    product = product_services.product_create(
        merchant=merchant, name="@SUM(1+1)", currency="EUR", denominations=[2550]
    )
    mine = issue(merchant, 2550, product=product, recipient_email="=cmd@example.com")
    redeem(mine.card, 50)
    theirs = issue(other_merchant, 1000)
    response = manager_client.get(url("cards-export", merchant))
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="bluebird-cards-')
    rows = read_csv(response)
    assert len(rows) == 1
    row = rows[0]
    assert row["card_id"] == mine.card.public_id
    assert row["last4"] == mine.card.last4
    assert (row["status"], row["currency"]) == ("active", "EUR")
    assert (row["initial_amount"], row["initial_amount_minor"]) == ("25.50", "2550")
    assert (row["balance"], row["balance_minor"]) == ("25.00", "2500")
    assert row["product"] == "'@SUM(1+1)"
    assert row["recipient_email"] == "'=cmd@example.com"
    assert row["expires_at"] == ""
    assert row["created_at"].startswith(str(timezone.now().year))
    flat = str(rows)
    assert mine.code not in flat
    assert mine.card.code_encrypted not in flat
    assert theirs.card.public_id not in flat


def test_the_transactions_export_escapes_formulas_but_keeps_negative_numbers(
    manager_client: Client, merchant: Merchant, manager: User
) -> None:
    issued = issue(merchant, 5000, reference="+SUM(A1)", actor=manager)
    redeem(issued.card, 1250, reference="-2+3")
    services.giftcard_adjust(
        merchant=merchant, card_id=issued.card.pk, amount=100, reason="@evil", actor=manager
    )
    response = manager_client.get(url("transactions-export", merchant))
    rows = read_csv(response)
    assert [r["kind"] for r in rows] == ["adjust", "redeem", "issue"]
    adjust, spend, first = rows
    assert (spend["amount"], spend["amount_minor"]) == ("-12.50", "-1250")
    assert (spend["balance_after"], spend["balance_after_minor"]) == ("37.50", "3750")
    assert spend["reference"] == "'-2+3"
    assert first["reference"] == "'+SUM(A1)"
    assert adjust["reason"] == "'@evil"
    assert first["actor"] == str(manager)
    assert spend["actor"] == "system"
    assert first["card_id"] == issued.card.public_id
    assert first["transaction_id"].startswith("txn_")
    assert first["currency"] == "EUR"


def test_the_cards_export_can_filter_by_status(manager_client: Client, merchant: Merchant) -> None:
    keep = issue(merchant, 1000).card
    gone = issue(merchant, 1000).card
    services.giftcard_void(merchant=merchant, card_id=gone.pk, reason="x")
    rows = read_csv(manager_client.get(url("cards-export", merchant), {"status": "active"}))
    assert [r["card_id"] for r in rows] == [keep.public_id]


def test_clerks_cannot_export(clerk_client: Client, merchant: Merchant) -> None:
    assert clerk_client.get(url("cards-export", merchant)).status_code == 403
    assert clerk_client.get(url("transactions-export", merchant)).status_code == 403


# --- roles and tenancy on every route ---------------------------------------------------------


def routes(merchant: Merchant, card: GiftCard, spend: Transaction) -> list[tuple[str, str, str]]:
    """(name, method, url) for every card route."""
    return [
        ("cards", "get", url("cards", merchant)),
        ("cards", "post", url("cards", merchant)),
        ("card-issue", "get", url("card-issue", merchant)),
        ("card-issue", "post", url("card-issue", merchant)),
        ("cards-export", "get", url("cards-export", merchant)),
        ("transactions-export", "get", url("transactions-export", merchant)),
        ("card-detail", "get", url("card-detail", merchant, card.public_id)),
        ("card-reload", "get", url("card-reload", merchant, card.public_id)),
        ("card-reload", "post", url("card-reload", merchant, card.public_id)),
        ("card-void", "get", url("card-void", merchant, card.public_id)),
        ("card-void", "post", url("card-void", merchant, card.public_id)),
        ("card-adjust", "get", url("card-adjust", merchant, card.public_id)),
        ("card-adjust", "post", url("card-adjust", merchant, card.public_id)),
        ("transaction-refund", "get", url("transaction-refund", merchant, spend.public_id)),
        ("transaction-refund", "post", url("transaction-refund", merchant, spend.public_id)),
    ]


POSTS = {
    "card-issue": issue_form(amount="5"),
    "card-reload": {"reload-amount": "5"},
    "card-void": {"void-reason": "x"},
    "card-adjust": {"adjust-direction": "add", "adjust-amount": "5", "adjust-reason": "x"},
    "transaction-refund": {"refund-amount": "1"},
}


def call(client: Client, name: str, method: str, path: str) -> Any:
    if method == "post":
        return client.post(path, POSTS.get(name, {}))
    return client.get(path)


def test_another_merchants_cards_and_transactions_are_404_on_every_route(
    manager_client: Client, owner: User, merchant: Merchant, other_merchant: Merchant
) -> None:
    # given an owner-level member here, and a card with a redemption at another merchant
    owner_here = client_for(owner)
    theirs = issue(other_merchant, 5000).card
    spend = redeem(theirs, 1000)
    before = snapshot(theirs)
    # when their ids are used under our merchant, or their merchant's slug is used at all
    for name, method, path in routes(merchant, theirs, spend):
        if theirs.public_id not in path and spend.public_id not in path:
            continue
        assert call(owner_here, name, method, path).status_code == 404, (method, path)
    for name, method, path in routes(other_merchant, theirs, spend):
        assert call(owner_here, name, method, path).status_code == 404, (method, path)
    # then nothing of theirs changed
    assert snapshot(theirs) == before
    assert GiftCard.objects.filter(merchant=merchant).count() == 0


def test_unknown_ids_are_404(owner_client: Client, merchant: Merchant) -> None:
    fake_card = "gc_" + "0" * 26
    fake_txn = "txn_" + "0" * 26
    assert owner_client.get(url("card-detail", merchant, fake_card)).status_code == 404
    assert owner_client.get(url("card-reload", merchant, fake_card)).status_code == 404
    assert owner_client.get(url("transaction-refund", merchant, fake_txn)).status_code == 404
    assert owner_client.get(f"/m/{merchant.slug}/cards/not-an-id/").status_code == 404


MANAGER_ONLY = {
    "card-issue",
    "cards-export",
    "transactions-export",
    "card-reload",
    "card-void",
    "transaction-refund",
}


def test_clerks_are_refused_manager_routes_and_change_nothing(
    clerk_client: Client, merchant: Merchant, card: GiftCard
) -> None:
    spend = redeem(card, 1000)
    before = snapshot(card)
    for name, method, path in routes(merchant, card, spend):
        status = call(clerk_client, name, method, path).status_code
        if name in MANAGER_ONLY or name == "card-adjust":
            assert status == 403, (method, path)
        else:
            assert status == 200, (method, path)
    assert snapshot(card) == before
    assert GiftCard.objects.count() == 1


def test_signed_out_visitors_are_sent_to_sign_in(
    client: Client, merchant: Merchant, card: GiftCard
) -> None:
    spend = redeem(card, 1000)
    for name, method, path in routes(merchant, card, spend):
        response = call(client, name, method, path)
        assert response.status_code == 302, (method, path)
        assert response["Location"].startswith("/accounts/login/")


def test_resubmitting_the_void_form_voids_once(
    manager_client: Client, merchant: Merchant, card: GiftCard
) -> None:
    void = url("card-void", merchant, card.public_id)
    data = {"void-reason": "lost", "void-idempotency_key": "v" * 20}

    assert manager_client.post(void, data).status_code == 302
    again = manager_client.post(void, data, follow=True)

    assert "was already voided; nothing changed" in page(again)
    assert snapshot(card) == (0, "void", 2)


def test_resubmitting_the_adjust_form_adjusts_once(
    owner_client: Client, merchant: Merchant, card: GiftCard
) -> None:
    adjust = url("card-adjust", merchant, card.public_id)
    data = {
        "adjust-direction": "add",
        "adjust-amount": "5",
        "adjust-reason": "goodwill",
        "adjust-idempotency_key": "j" * 20,
    }

    assert owner_client.post(adjust, data).status_code == 302
    again = owner_client.post(adjust, data, follow=True)

    assert "already recorded; it was not booked twice" in page(again)
    assert snapshot(card) == (5500, "active", 2)


@pytest.mark.parametrize(("name", "field"), [("card-void", "void"), ("card-adjust", "adjust")])
def test_void_and_adjust_forms_carry_their_own_token(
    owner_client: Client, merchant: Merchant, card: GiftCard, name: str, field: str
) -> None:
    html = page(owner_client.get(url(name, merchant, card.public_id)))
    assert f'name="{field}-idempotency_key"' in html

"""The merchant's orders pages: list, filters, search, sales figures, CSV export, the
order page, and refunding from it; roles, tenancy and query counts."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import stripe
import time_machine
from django.core import mail
from django.test import Client
from django.utils import timezone

from accounts.models import User
from giftcards import codes
from giftcards.models import CardStatus, GiftCard, Product, Transaction
from giftcards.services import giftcard_redeem
from giftcards.tests.factories import ProductFactory
from merchants.models import Membership, Merchant, Role
from orders.models import (
    CardDelivery,
    Order,
    OrderStatus,
    PaymentEvent,
    PaymentEventOutcome,
    PaymentProvider,
)
from orders.services import LineRequest
from orders.tests.conftest import post_event, stripe_event
from orders.tests.factories import PaidOrderFactory
from orders.tests.factories import order_pay as paid

pytestmark = pytest.mark.django_db


# --- Helpers ------------------------------------------------------------------------------


def list_url(merchant: Merchant) -> str:
    return f"/m/{merchant.slug}/orders/"


def detail_url(order: Order) -> str:
    return f"/m/{order.merchant.slug}/orders/{order.public_id}/"


def code_of(card: GiftCard) -> str:
    return codes.format_code(codes.decrypt(card.code_encrypted))


def snapshot(order: Order) -> dict[str, Any]:
    """Everything a refused operation must leave as it was."""
    order.refresh_from_db()
    cards = GiftCard.objects.filter(pk__in=order.cards.values("gift_card_id")).order_by("pk")
    return {
        "status": order.status,
        "refunded_at": order.refunded_at,
        "cards": [(c.pk, c.status, c.balance) for c in cards],
        "ledger": list(
            Transaction.objects.filter(gift_card__in=cards)
            .order_by("pk")
            .values_list("pk", "kind", "amount", "balance_after")
        ),
        "deliveries": list(
            CardDelivery.objects.filter(order=order)
            .order_by("pk")
            .values_list("pk", "status", "email_log_id", "sms_log_id", "attempted_at")
        ),
    }


@pytest.fixture
def manager_client(merchant: Merchant, member_factory: Callable[..., Membership]) -> Client:
    client = Client()
    client.force_login(member_factory(merchant, Role.MANAGER).user)
    return client


@pytest.fixture
def clerk_client(clerk: User) -> Client:
    client = Client()
    client.force_login(clerk)
    return client


@pytest.fixture
def usd_product(merchant: Merchant) -> Product:
    return ProductFactory(
        merchant=merchant, name="Dollar card", currency="USD", denominations=[1000, 4000]
    )


@pytest.fixture
def fulfilled(
    make_order: Callable[..., Order],
    product: Product,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> Order:
    """A fulfilled gift of two cards, both delivered by email."""
    with django_capture_on_commit_callbacks(execute=True):
        order = paid(
            make_order(
                LineRequest(
                    product,
                    2500,
                    quantity=2,
                    is_gift=True,
                    recipient_name="Ana",
                    recipient_email="ana@example.com",
                )
            )
        )
    assert order.status == OrderStatus.FULFILLED
    return order


@pytest.fixture
def other_order(other_merchant: Merchant) -> Order:
    product = ProductFactory(merchant=other_merchant, name="Other card", denominations=[2500])
    return PaidOrderFactory(
        merchant=other_merchant,
        buyer_email="someone@example.com",
        buyer_name="",
        lines=[LineRequest(product, 2500)],
    )


# --- List, filters, search, figures --------------------------------------------------------


def test_the_list_shows_the_merchants_orders_and_not_another_merchants(
    owner_client: Client, fulfilled: Order, other_order: Order
) -> None:
    response = owner_client.get(list_url(fulfilled.merchant))

    assert response.status_code == 200
    html = response.content.decode()
    assert fulfilled.public_id in html
    assert other_order.public_id not in html
    assert "buyer@example.com" in html
    assert "€50.00" in html


def test_filters_narrow_by_status_provider_and_date(
    owner_client: Client, make_order: Callable[..., Order], merchant: Merchant
) -> None:
    with time_machine.travel(timezone.now() - timedelta(days=10), tick=False):
        old_paid = paid(make_order(buyer_email="old@example.com"))
    pending = make_order(buyer_email="pending@example.com")
    stripe_pending = make_order(buyer_email="stripe@example.com")
    Order.objects.filter(pk=stripe_pending.pk).update(provider=PaymentProvider.STRIPE)
    today = timezone.now().date()

    def shown(query: str) -> set[str]:
        html = owner_client.get(list_url(merchant) + query).content.decode()
        return {o.public_id for o in (old_paid, pending, stripe_pending) if o.public_id in html}

    assert shown("?status=pending") == {pending.public_id, stripe_pending.public_id}
    assert shown("?status=fulfilled") == {old_paid.public_id}
    assert shown("?provider=stripe") == {stripe_pending.public_id}
    assert shown(f"?date_from={today.isoformat()}") == {
        pending.public_id,
        stripe_pending.public_id,
    }
    assert shown(f"?date_to={(today - timedelta(days=5)).isoformat()}") == {old_paid.public_id}
    assert shown(f"?date_from={today}&date_to={today}&provider=test") == {pending.public_id}


def test_an_inverted_date_range_is_explained_and_lists_nothing(
    owner_client: Client, fulfilled: Order
) -> None:
    today = timezone.now().date()
    response = owner_client.get(
        list_url(fulfilled.merchant) + f"?date_from={today}&date_to={today - timedelta(days=1)}"
    )

    assert response.status_code == 422
    html = response.content.decode()
    assert "The end date is before the start date." in html
    assert fulfilled.public_id not in html


@pytest.mark.parametrize("term", ["ORDER_ID", "buyer@EXAMPLE", "ana@example.com"])
def test_search_finds_by_order_id_buyer_email_and_recipient_email(
    owner_client: Client,
    fulfilled: Order,
    make_order: Callable[..., Order],
    term: str,
) -> None:
    unrelated = make_order(buyer_email="zed@elsewhere.test")
    term = fulfilled.public_id if term == "ORDER_ID" else term

    response = owner_client.post(list_url(fulfilled.merchant), {"q": term})

    html = response.content.decode()
    assert response.status_code == 200
    assert fulfilled.public_id in html
    assert unrelated.public_id not in html
    assert "1 order matches the filters" in html


def test_a_search_term_in_the_url_is_ignored(owner_client: Client, fulfilled: Order) -> None:
    response = owner_client.get(list_url(fulfilled.merchant) + "?q=nobody@nowhere.test")

    assert fulfilled.public_id in response.content.decode()


def test_totals_and_sales_are_per_currency_and_count_only_kept_payments(
    owner_client: Client,
    make_order: Callable[..., Order],
    product: Product,
    usd_product: Product,
    merchant: Merchant,
) -> None:
    paid(make_order(LineRequest(product, 2500, quantity=2)))  # EUR 50
    paid(make_order(LineRequest(product, 5000)))  # EUR 50
    paid(make_order(LineRequest(usd_product, 4000)))  # USD 40
    make_order(LineRequest(usd_product, 1000))  # pending: listed, not sold
    from orders.services import order_refund

    order_refund(order_id=paid(make_order(LineRequest(product, 2500))).pk)  # refunded

    response = owner_client.get(list_url(merchant))

    sales = response.context["sales"]
    assert [(f.currency, f.count, f.amount) for f in sales] == [("EUR", 2, 10000), ("USD", 1, 4000)]
    totals = response.context["totals"]
    assert [(f.currency, f.count, f.amount) for f in totals] == [
        ("EUR", 3, 12500),
        ("USD", 2, 5000),
    ]
    html = response.content.decode()
    assert "€100.00" in html
    assert "2 paid orders" in html
    # The status filter narrows the list, not the sales of the period.
    pending_only = owner_client.get(list_url(merchant) + "?status=pending")
    assert [f.count for f in pending_only.context["totals"]] == [1]
    assert [(f.currency, f.count) for f in pending_only.context["sales"]] == [
        ("EUR", 2),
        ("USD", 1),
    ]


def test_the_list_pages_fifty_orders_at_a_time(
    owner_client: Client, make_order: Callable[..., Order], merchant: Merchant
) -> None:
    for _ in range(51):
        make_order()

    first = owner_client.get(list_url(merchant) + "?status=pending")
    second = owner_client.get(list_url(merchant) + "?status=pending&page=2")

    assert len(first.context["rows"]) == 50
    assert len(second.context["rows"]) == 1
    assert "status=pending&amp;page=2" in first.content.decode()


# --- CSV export ---------------------------------------------------------------------------


def read_csv(response: Any) -> list[dict[str, str]]:
    body = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(body)))


def test_the_export_holds_the_filtered_orders_and_never_a_code(
    owner_client: Client, fulfilled: Order, make_order: Callable[..., Order]
) -> None:
    pending = make_order(buyer_email="=cmd@example.com")
    cards = list(GiftCard.objects.filter(merchant=fulfilled.merchant))

    everything = owner_client.get(f"/m/{fulfilled.merchant.slug}/orders/export.csv")
    only_fulfilled = owner_client.get(
        f"/m/{fulfilled.merchant.slug}/orders/export.csv?status=fulfilled"
    )
    searched = owner_client.post(
        f"/m/{fulfilled.merchant.slug}/orders/export.csv", {"q": "ana@example"}
    )

    assert everything["Content-Type"].startswith("text/csv")
    assert "attachment" in everything["Content-Disposition"]
    rows = read_csv(everything)
    assert {row["order_id"] for row in rows} == {fulfilled.public_id, pending.public_id}
    row = next(row for row in rows if row["order_id"] == fulfilled.public_id)
    assert row["status"] == "fulfilled"
    assert row["total"] == "50.00"
    assert row["total_minor"] == "5000"
    assert row["cards"] == "2"
    assert row["recipients"] == "ana@example.com"
    injected = next(row for row in rows if row["order_id"] == pending.public_id)
    assert injected["buyer_email"] == "'=cmd@example.com"
    assert [row["order_id"] for row in read_csv(only_fulfilled)] == [fulfilled.public_id]
    searched_body = b"".join(searched.streaming_content).decode()
    assert fulfilled.public_id in searched_body
    assert pending.public_id not in searched_body
    full = owner_client.get(f"/m/{fulfilled.merchant.slug}/orders/export.csv")
    body = b"".join(full.streaming_content).decode()
    for card in cards:
        code = code_of(card)
        assert code not in body
        assert code.replace("-", "") not in body
        assert card.public_id not in body


# --- Roles and tenancy --------------------------------------------------------------------


def test_managers_see_orders_and_clerks_are_refused(
    manager_client: Client, clerk_client: Client, fulfilled: Order
) -> None:
    slug = fulfilled.merchant.slug
    assert manager_client.get(list_url(fulfilled.merchant)).status_code == 200
    assert manager_client.get(detail_url(fulfilled)).status_code == 200
    for path in (
        list_url(fulfilled.merchant),
        detail_url(fulfilled),
        f"/m/{slug}/orders/export.csv",
        detail_url(fulfilled) + "refund/",
    ):
        assert clerk_client.get(path).status_code == 403, path
    delivery = CardDelivery.objects.filter(order=fulfilled).first()
    assert delivery is not None
    before = snapshot(fulfilled)
    assert (
        clerk_client.post(detail_url(fulfilled) + "refund/", {"confirm": "on"}).status_code == 403
    )
    assert (
        clerk_client.post(detail_url(fulfilled) + f"deliveries/{delivery.pk}/resend/").status_code
        == 403
    )
    assert snapshot(fulfilled) == before


def test_the_nav_offers_orders_to_managers_and_owners_only(
    owner_client: Client, clerk_client: Client, merchant: Merchant
) -> None:
    owner_html = owner_client.get(f"/m/{merchant.slug}/cards/").content.decode()
    clerk_html = clerk_client.get(f"/m/{merchant.slug}/cards/").content.decode()

    assert f'href="/m/{merchant.slug}/orders/"' in owner_html
    assert f'href="/m/{merchant.slug}/orders/"' not in clerk_html


def test_another_merchants_order_does_not_exist_here(
    owner_client: Client, merchant: Merchant, other_order: Order
) -> None:
    delivery = CardDelivery.objects.filter(order=other_order).first()
    assert delivery is not None
    before = snapshot(other_order)
    base = f"/m/{merchant.slug}/orders/{other_order.public_id}/"

    assert owner_client.get(base).status_code == 404
    assert owner_client.get(base + "refund/").status_code == 404
    assert owner_client.post(base + "refund/", {"confirm": "on"}).status_code == 404
    assert owner_client.post(base + f"deliveries/{delivery.pk}/resend/").status_code == 404
    assert owner_client.get(f"/m/{other_order.merchant.slug}/orders/").status_code == 404
    assert snapshot(other_order) == before


# --- The order page -----------------------------------------------------------------------


def test_the_order_page_shows_lines_cards_and_deliveries_without_codes(
    owner_client: Client, fulfilled: Order
) -> None:
    cards = list(GiftCard.objects.filter(merchant=fulfilled.merchant))

    response = owner_client.get(detail_url(fulfilled))

    html = response.content.decode()
    assert response.status_code == 200
    assert "ana@example.com" in html
    assert "Ana" in html
    for card in cards:
        assert card.last4 in html
        assert code_of(card) not in html
    assert "€25.00" in html
    assert html.count(">Resend</button>") == 2
    assert "Refund order" in html
    assert "Email to" in html


# --- Refunds ------------------------------------------------------------------------------


def test_a_refund_asks_for_confirmation_first(owner_client: Client, fulfilled: Order) -> None:
    before = snapshot(fulfilled)

    page = owner_client.get(detail_url(fulfilled) + "refund/")
    unconfirmed = owner_client.post(detail_url(fulfilled) + "refund/", {"reason": "asked"})

    assert page.status_code == 200
    assert "It cannot be undone" in page.content.decode()
    assert unconfirmed.status_code == 422
    assert "Tick the box to confirm the refund." in unconfirmed.content.decode()
    assert snapshot(fulfilled) == before


def test_a_confirmed_refund_of_an_unused_order_voids_its_cards(
    owner_client: Client, fulfilled: Order
) -> None:
    response = owner_client.post(
        detail_url(fulfilled) + "refund/",
        {"confirm": "on", "reason": "Customer asked"},
        follow=True,
    )

    fulfilled.refresh_from_db()
    assert fulfilled.status == OrderStatus.REFUNDED
    cards = GiftCard.objects.filter(pk__in=fulfilled.cards.values("gift_card_id"))
    assert {card.status for card in cards} == {CardStatus.VOID}
    assert {card.balance for card in cards} == {0}
    assert Transaction.objects.filter(gift_card__in=cards, kind="void").count() == 2
    html = response.content.decode()
    assert "is refunded" in html
    assert ">Resend</button>" not in html
    assert "Refund order" not in html


def test_refunding_an_order_with_a_used_card_is_refused_and_changes_nothing(
    owner_client: Client, fulfilled: Order
) -> None:
    card = GiftCard.objects.filter(pk__in=fulfilled.cards.values("gift_card_id")).first()
    assert card is not None
    giftcard_redeem(merchant=fulfilled.merchant, card_id=card.pk, amount=500)
    before = snapshot(fulfilled)

    response = owner_client.post(detail_url(fulfilled) + "refund/", {"confirm": "on"}, follow=True)

    assert "cannot be refunded" in response.content.decode()
    assert card.last4 in response.content.decode()
    assert snapshot(fulfilled) == before


@pytest.fixture
def stripe_refunds(monkeypatch: pytest.MonkeyPatch, stripe_settings: Any) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []

    def create(**params: Any) -> Any:
        calls.append(params)
        return stripe.Refund.construct_from({"id": "re_test_1", "status": "succeeded"}, "key")

    monkeypatch.setattr(stripe.Refund, "create", create)
    return calls


@pytest.fixture
def stripe_paid(
    make_order: Callable[..., Order],
    stripe_settings: Any,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> Order:
    with django_capture_on_commit_callbacks(execute=True):
        order = make_order()
        Order.objects.filter(pk=order.pk).update(
            provider=PaymentProvider.STRIPE, provider_reference="cs_test_1"
        )
        order = paid(order, provider_payment_id="pi_3Ptest")
    assert order.provider == PaymentProvider.STRIPE
    return order


def test_a_stripe_order_is_refunded_at_stripe_then_the_webhook_changes_nothing(
    owner_client: Client, client: Client, stripe_paid: Order, stripe_refunds: list[dict[str, Any]]
) -> None:
    owner_client.post(detail_url(stripe_paid) + "refund/", {"confirm": "on"})

    assert len(stripe_refunds) == 1
    assert stripe_refunds[0]["payment_intent"] == "pi_3Ptest"
    assert stripe_refunds[0]["idempotency_key"] == f"refund:{stripe_paid.public_id}"
    stripe_paid.refresh_from_db()
    assert stripe_paid.status == OrderStatus.REFUNDED
    after_refund = snapshot(stripe_paid)

    charge = {
        "id": "ch_1",
        "object": "charge",
        "payment_intent": "pi_3Ptest",
        "refunded": True,
        "amount_refunded": stripe_paid.total,
        "metadata": {"order_id": stripe_paid.public_id},
    }
    assert (
        post_event(client, stripe_event("charge.refunded", charge, event_id="evt_r")).status_code
        == 200
    )

    event = PaymentEvent.objects.get(event_id="evt_r")
    assert event.outcome == PaymentEventOutcome.IGNORED
    assert event.detail == "order already refunded"
    assert len(stripe_refunds) == 1
    assert snapshot(stripe_paid) == after_refund


def test_a_refund_stripe_refuses_changes_nothing(
    owner_client: Client, stripe_paid: Order, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(**params: Any) -> Any:
        raise stripe.InvalidRequestError("charge already refunded", "payment_intent")

    monkeypatch.setattr(stripe.Refund, "create", fail)
    before = snapshot(stripe_paid)

    response = owner_client.post(
        detail_url(stripe_paid) + "refund/", {"confirm": "on"}, follow=True
    )

    assert "Stripe did not accept the refund" in response.content.decode()
    assert snapshot(stripe_paid) == before


def test_a_used_stripe_order_is_refused_before_stripe_is_asked(
    owner_client: Client, stripe_paid: Order, stripe_refunds: list[dict[str, Any]]
) -> None:
    card = GiftCard.objects.get(pk__in=stripe_paid.cards.values("gift_card_id"))
    giftcard_redeem(merchant=stripe_paid.merchant, card_id=card.pk, amount=100)
    before = snapshot(stripe_paid)

    owner_client.post(detail_url(stripe_paid) + "refund/", {"confirm": "on"})

    assert stripe_refunds == []
    assert snapshot(stripe_paid) == before


# --- Query counts -------------------------------------------------------------------------


@pytest.fixture
def many_orders(make_order: Callable[..., Order], product: Product) -> Callable[[int], None]:
    def make(count: int) -> None:
        for i in range(count):
            order = make_order(
                LineRequest(
                    product, 2500, quantity=2, is_gift=True, recipient_email=f"r{i}@example.com"
                )
            )
            paid(order)

    return make


@pytest.mark.parametrize("count", [1, 12])
def test_the_list_takes_a_fixed_number_of_queries(
    owner_client: Client,
    merchant: Merchant,
    many_orders: Callable[[int], None],
    count: int,
    django_assert_max_num_queries: Any,
) -> None:
    many_orders(count)
    with django_assert_max_num_queries(8):
        response = owner_client.get(list_url(merchant))
    assert len(response.context["rows"]) == count
    with django_assert_max_num_queries(8):
        owner_client.post(list_url(merchant), {"q": "example.com"})


@pytest.mark.parametrize("quantity", [1, 8])
def test_the_order_page_takes_a_fixed_number_of_queries(
    owner_client: Client,
    make_order: Callable[..., Order],
    product: Product,
    quantity: int,
    django_assert_max_num_queries: Any,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        order = paid(
            make_order(
                LineRequest(
                    product,
                    2500,
                    quantity=quantity,
                    is_gift=True,
                    recipient_email="a@example.com",
                    recipient_phone="+447700900123",
                ),
                LineRequest(product, 5000),
            )
        )
    # One email per card, and the buyer's receipt.
    assert len(mail.outbox) == quantity + 2
    with django_assert_max_num_queries(8):
        response = owner_client.get(detail_url(order))
    assert response.status_code == 200

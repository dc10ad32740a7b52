"""Stripe: Checkout Session creation (no network) and the webhook, verified with
Stripe's real signature scheme and events shaped like the ones Stripe sends."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
import stripe
from django.test import Client, RequestFactory
from structlog.testing import capture_logs

from giftcards import services as card_services
from giftcards.models import CardStatus, GiftCard, Product, Transaction
from giftcards.tests.factories import ProductFactory
from merchants.models import Merchant
from orders.exceptions import AmountNotChargeable, PaymentProviderError
from orders.models import Order, OrderStatus, PaymentEvent
from orders.payments import start_checkout
from orders.services import LineRequest
from orders.tests.conftest import checkout_session, post_event, stripe_event, stripe_signature

pytestmark = pytest.mark.django_db


@pytest.fixture
def created(monkeypatch: pytest.MonkeyPatch, stripe_settings: Any) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []

    def create(**params: Any) -> Any:
        calls.append(params)
        return SimpleNamespace(
            id=f"cs_test_{len(calls)}",
            url=f"https://checkout.stripe.com/c/pay/cs_test_{len(calls)}",
        )

    monkeypatch.setattr(stripe.checkout.Session, "create", create)
    return calls


@pytest.fixture
def stripe_order(
    created: list[dict[str, Any]], make_order: Callable[..., Order], product: Product
) -> Order:
    order = make_order(
        LineRequest(product, 2500, quantity=2),
        LineRequest(product, 5000, is_gift=True, recipient_email="ana@example.com"),
    )
    start_checkout(order, request=RequestFactory().get("/"))
    order.refresh_from_db()
    return order


def test_checkout_creates_a_session_with_the_orders_lines_in_minor_units(
    created: list[dict[str, Any]], make_order: Callable[..., Order], product: Product
) -> None:
    order = make_order(
        LineRequest(product, 2500, quantity=2),
        LineRequest(product, 5000, is_gift=True, recipient_email="ana@example.com"),
    )

    url = start_checkout(order, request=RequestFactory().get("/"))

    assert url == "https://checkout.stripe.com/c/pay/cs_test_1"
    [params] = created
    assert params["api_key"] == "sk_test_orders"
    assert params["mode"] == "payment"
    assert params["line_items"] == [
        {
            "quantity": 2,
            "price_data": {
                "currency": "eur",
                "unit_amount": 2500,
                "product_data": {"name": "Coffee card gift card (Bluebird Coffee)"},
            },
        },
        {
            "quantity": 1,
            "price_data": {
                "currency": "eur",
                "unit_amount": 5000,
                "product_data": {"name": "Coffee card gift card (Bluebird Coffee)"},
            },
        },
    ]
    assert params["client_reference_id"] == order.public_id
    assert params["metadata"] == {"order_id": order.public_id, "merchant": "bluebird"}
    assert params["payment_intent_data"] == {"metadata": params["metadata"]}
    assert params["customer_email"] == "buyer@example.com"
    status = f"http://127.0.0.1:8000/orders/{order.public_id}/?t="
    assert params["success_url"].startswith(status)
    assert "checkout=success" in params["success_url"]
    assert params["cancel_url"].startswith(status)
    assert "checkout=cancelled" in params["cancel_url"]
    order.refresh_from_db()
    assert (order.provider, order.provider_reference) == ("stripe", "cs_test_1")
    assert order.status == OrderStatus.PENDING


def test_an_open_session_is_reused_rather_than_opening_a_second(
    stripe_order: Order, created: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        stripe.checkout.Session,
        "retrieve",
        lambda ref, **kw: SimpleNamespace(id=ref, status="open", url=f"https://checkout/{ref}"),
    )

    url = start_checkout(stripe_order, request=RequestFactory().get("/"))

    assert url == "https://checkout/cs_test_1"
    assert len(created) == 1


def test_a_stripe_error_is_a_provider_error_and_changes_nothing(
    stripe_settings: Any, monkeypatch: pytest.MonkeyPatch, make_order: Callable[..., Order]
) -> None:
    def fail(**params: Any) -> Any:
        raise stripe.APIConnectionError("network down")

    monkeypatch.setattr(stripe.checkout.Session, "create", fail)
    order = make_order()

    with pytest.raises(PaymentProviderError):
        start_checkout(order, request=RequestFactory().get("/"))

    order.refresh_from_db()
    assert order.provider_reference == ""


def test_completed_marks_paid_and_issues_the_cards(client: Client, stripe_order: Order) -> None:
    response = post_event(
        client, stripe_event("checkout.session.completed", checkout_session(stripe_order))
    )

    assert response.status_code == 200
    stripe_order.refresh_from_db()
    assert stripe_order.status == OrderStatus.FULFILLED
    assert stripe_order.provider_payment_id == "pi_3Ptest"
    assert sorted(GiftCard.objects.values_list("balance", flat=True)) == [2500, 2500, 5000]
    event = PaymentEvent.objects.get()
    assert (event.outcome, event.order_id, event.merchant_id) == (
        "applied",
        stripe_order.pk,
        stripe_order.merchant_id,
    )


def test_a_bad_signature_is_refused_and_changes_nothing(
    client: Client, stripe_order: Order
) -> None:
    event = stripe_event("checkout.session.completed", checkout_session(stripe_order))
    payload = json.dumps(event)
    old = int(time.time()) - 3600
    for signature in (
        stripe_signature(payload, secret="whsec_someone_else"),
        stripe_signature(payload, at=old),  # replayed long after
        stripe_signature(payload + " "),
        "",
    ):
        response = post_event(client, event, signature=signature or "t=1")
        assert response.status_code == 400
    tampered = json.loads(payload)
    tampered["data"]["object"]["amount_total"] = 1
    response = post_event(client, tampered, signature=stripe_signature(payload))
    assert response.status_code == 400

    stripe_order.refresh_from_db()
    assert stripe_order.status == OrderStatus.PENDING
    assert GiftCard.objects.count() == 0
    assert PaymentEvent.objects.count() == 0


def test_the_webhook_refuses_everything_while_no_secret_is_set(
    client: Client, stripe_order: Order, settings: Any
) -> None:
    settings.STRIPE_WEBHOOK_SECRET = ""
    event = stripe_event("checkout.session.completed", checkout_session(stripe_order))

    assert post_event(client, event).status_code == 400
    assert GiftCard.objects.count() == 0


def test_a_repeated_event_issues_no_second_card(client: Client, stripe_order: Order) -> None:
    event = stripe_event("checkout.session.completed", checkout_session(stripe_order))
    post_event(client, event)

    assert post_event(client, event).status_code == 200
    assert post_event(client, {**event, "id": "evt_2"}).status_code == 200

    assert GiftCard.objects.count() == 3
    assert Transaction.objects.count() == 3
    assert list(
        PaymentEvent.objects.order_by("received_at", "pk").values_list("outcome", flat=True)
    ) == [
        "applied",
        "ignored",
    ]


def test_completed_after_expired_is_ignored(client: Client, stripe_order: Order) -> None:
    session = checkout_session(stripe_order)
    expired = {**session, "status": "expired", "payment_status": "unpaid"}
    post_event(client, stripe_event("checkout.session.expired", expired, event_id="evt_exp"))

    response = post_event(
        client, stripe_event("checkout.session.completed", session, event_id="evt_c")
    )

    assert response.status_code == 200
    stripe_order.refresh_from_db()
    assert stripe_order.status == OrderStatus.FAILED
    assert GiftCard.objects.count() == 0
    assert PaymentEvent.objects.get(event_id="evt_c").outcome == "ignored"


def test_expired_after_completed_is_ignored(client: Client, stripe_order: Order) -> None:
    session = checkout_session(stripe_order)
    post_event(client, stripe_event("checkout.session.completed", session, event_id="evt_c"))

    post_event(
        client,
        stripe_event("checkout.session.expired", {**session, "status": "expired"}, event_id="e"),
    )

    stripe_order.refresh_from_db()
    assert stripe_order.status == OrderStatus.FULFILLED
    assert GiftCard.objects.count() == 3


def test_an_amount_that_does_not_match_is_refused(client: Client, stripe_order: Order) -> None:
    for event_id, changes in (("evt_a", {"amount_total": 100}), ("evt_c", {"currency": "usd"})):
        session = checkout_session(stripe_order, **changes)
        response = post_event(
            client, stripe_event("checkout.session.completed", session, event_id=event_id)
        )
        assert response.status_code == 200
        assert PaymentEvent.objects.get(event_id=event_id).outcome == "refused"

    stripe_order.refresh_from_db()
    assert stripe_order.status == OrderStatus.PENDING
    assert GiftCard.objects.count() == 0


def test_asynchronous_payments_wait_then_succeed_or_fail(
    client: Client, stripe_order: Order, make_order: Callable[..., Order], created: Any
) -> None:
    unpaid = checkout_session(stripe_order, payment_status="unpaid")
    post_event(client, stripe_event("checkout.session.completed", unpaid, event_id="evt_1"))
    stripe_order.refresh_from_db()
    assert stripe_order.status == OrderStatus.PENDING

    paid = checkout_session(stripe_order)
    post_event(
        client, stripe_event("checkout.session.async_payment_succeeded", paid, event_id="evt_2")
    )
    stripe_order.refresh_from_db()
    assert stripe_order.status == OrderStatus.FULFILLED

    other = make_order()
    start_checkout(other, request=RequestFactory().get("/"))
    other.refresh_from_db()
    failed = checkout_session(other, payment_status="unpaid")
    post_event(
        client, stripe_event("checkout.session.async_payment_failed", failed, event_id="evt_3")
    )
    other.refresh_from_db()
    assert other.status == OrderStatus.FAILED
    assert other.failed_reason == "The payment did not go through."


def test_a_full_refund_at_stripe_voids_unused_cards(client: Client, stripe_order: Order) -> None:
    post_event(client, stripe_event("checkout.session.completed", checkout_session(stripe_order)))
    charge = {
        "id": "ch_3Ptest",
        "object": "charge",
        "amount": stripe_order.total,
        "amount_refunded": stripe_order.total,
        "currency": "eur",
        "metadata": {"order_id": stripe_order.public_id},
        "payment_intent": "pi_3Ptest",
        "refunded": True,
        "status": "succeeded",
    }

    post_event(client, stripe_event("charge.refunded", charge, event_id="evt_r"))

    stripe_order.refresh_from_db()
    assert stripe_order.status == OrderStatus.REFUNDED
    assert set(GiftCard.objects.values_list("status", flat=True)) == {CardStatus.VOID}


def test_a_refund_at_stripe_of_a_used_order_is_refused_and_recorded(
    client: Client, stripe_order: Order
) -> None:
    post_event(client, stripe_event("checkout.session.completed", checkout_session(stripe_order)))
    card = GiftCard.objects.order_by("pk").first()
    card_services.giftcard_redeem(merchant=stripe_order.merchant, card_id=card.pk, amount=500)
    charge = {"id": "ch_1", "object": "charge", "payment_intent": "pi_3Ptest", "refunded": True}

    post_event(client, stripe_event("charge.refunded", charge, event_id="evt_r"))

    stripe_order.refresh_from_db()
    assert stripe_order.status == OrderStatus.FULFILLED
    assert PaymentEvent.objects.get(event_id="evt_r").outcome == "refused"
    card.refresh_from_db()
    assert card.balance == 2000


def test_events_for_no_order_of_ours_are_recorded_and_ignored(client: Client, created: Any) -> None:
    session = {
        "id": "cs_unknown",
        "object": "checkout.session",
        "metadata": {},
        "payment_status": "paid",
    }

    assert (
        post_event(client, stripe_event("checkout.session.completed", session)).status_code == 200
    )
    assert (
        post_event(
            client, stripe_event("customer.created", {"id": "cus_1"}, event_id="e2")
        ).status_code
        == 200
    )

    assert set(PaymentEvent.objects.values_list("outcome", flat=True)) == {"ignored"}


# --- Amounts in Stripe's units ----------------------------------------------------------


def card_in(merchant: Merchant, currency: str, *amounts: int) -> Product:
    return ProductFactory(
        merchant=merchant, name=f"{currency} card", currency=currency, denominations=list(amounts)
    )


@pytest.mark.parametrize(
    ("currency", "amount", "unit_amount"),
    [
        ("ISK", 10_000, 1_000_000),  # whole kronur, two decimals at Stripe
        ("HUF", 150_050, 150_050),  # two decimals for charges
        ("TWD", 123_450, 123_450),  # two decimals for charges
        ("UGX", 50_000, 50_000),  # zero-decimal
        ("JPY", 5_000, 5_000),  # zero-decimal: not multiplied by 100
        ("KWD", 5_120, 5_120),  # three decimals, the last one 0
        ("EUR", 2_550, 2_550),
    ],
)
def test_checkout_sends_each_line_in_stripes_units(
    created: list[dict[str, Any]],
    make_order: Callable[..., Order],
    merchant: Merchant,
    currency: str,
    amount: int,
    unit_amount: int,
) -> None:
    order = make_order(LineRequest(card_in(merchant, currency, amount), amount, quantity=2))

    start_checkout(order, request=RequestFactory().get("/"))

    [params] = created
    [item] = params["line_items"]
    assert item["quantity"] == 2
    assert item["price_data"]["currency"] == currency.lower()
    assert item["price_data"]["unit_amount"] == unit_amount


def test_checkout_refuses_a_line_stripe_cannot_charge_and_opens_nothing(
    created: list[dict[str, Any]],
    make_order: Callable[..., Order],
    merchant: Merchant,
    settings: Any,
) -> None:
    # Ordered while the shop took payments through the test provider, paid through Stripe.
    settings.PAYMENT_PROVIDER = "test"
    order = make_order(LineRequest(card_in(merchant, "KWD", 5_125), 5_125))
    settings.PAYMENT_PROVIDER = "stripe"

    with pytest.raises(AmountNotChargeable, match=r"steps of 0\.010 KWD"):
        start_checkout(order, request=RequestFactory().get("/"))

    assert created == []
    order.refresh_from_db()
    assert (order.status, order.provider_reference) == (OrderStatus.PENDING, "")


@pytest.fixture
def isk_order(
    created: list[dict[str, Any]], make_order: Callable[..., Order], merchant: Merchant
) -> Order:
    order = make_order(LineRequest(card_in(merchant, "ISK", 10_000), 10_000))
    start_checkout(order, request=RequestFactory().get("/"))
    order.refresh_from_db()
    return order


def test_an_isk_payment_in_stripes_units_pays_and_fulfils_the_order(
    client: Client, isk_order: Order
) -> None:
    session = checkout_session(isk_order)
    assert session["amount_total"] == 1_000_000  # 10,000 ISK as Stripe counts it

    post_event(client, stripe_event("checkout.session.completed", session))

    isk_order.refresh_from_db()
    assert isk_order.status == OrderStatus.FULFILLED
    card = GiftCard.objects.get()
    assert (card.initial_amount, card.balance, card.currency) == (10_000, 10_000, "ISK")
    assert PaymentEvent.objects.get().outcome == "applied"


@pytest.mark.parametrize(
    "amount_total",
    [
        10_000,  # the order total not converted: 100 ISK at Stripe
        1_000_050,  # not whole kronur
        999_900,  # one krona short
    ],
)
def test_a_payment_that_does_not_match_in_stripes_units_leaves_the_order_unpaid(
    client: Client, isk_order: Order, amount_total: int
) -> None:
    session = checkout_session(isk_order, amount_total=amount_total)

    with capture_logs() as logs:
        response = post_event(client, stripe_event("checkout.session.completed", session))

    assert response.status_code == 200
    isk_order.refresh_from_db()
    assert isk_order.status == OrderStatus.PENDING
    assert isk_order.paid_at is None
    assert isk_order.provider_payment_id == ""
    assert GiftCard.objects.count() == 0
    assert Transaction.objects.count() == 0
    event = PaymentEvent.objects.get()
    assert event.outcome == "refused"
    assert "does not match the order total (10,000 ISK)" in event.detail
    [mismatch] = [entry for entry in logs if entry["event"] == "order_payment_mismatch"]
    assert mismatch["log_level"] == "error"
    assert (mismatch["expected"], mismatch["amount"]) == (1_000_000, amount_total)
    assert (mismatch["currency"], mismatch["expected_currency"]) == ("ISK", "ISK")
    [refused] = [entry for entry in logs if entry["event"] == "stripe_event_refused"]
    assert refused["log_level"] == "error"


def test_the_unconverted_isk_total_is_reported_as_what_stripe_took(
    client: Client, isk_order: Order
) -> None:
    session = checkout_session(isk_order, amount_total=10_000)

    post_event(client, stripe_event("checkout.session.completed", session))

    assert PaymentEvent.objects.get().detail == (
        "The payment (100 ISK) does not match the order total (10,000 ISK)."
    )

"""Refunding orders from the platform admin: a confirmation page with a reason and a
tick box, ``order_refund`` per order with the admin as actor, each outcome reported,
refusals changing nothing, and only for staff holding ``orders.refund_order``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import stripe
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from accounts.models import User
from giftcards import codes
from giftcards import services as card_services
from giftcards.models import CardStatus, GiftCard, Product, Transaction, TransactionKind
from orders.models import FulfilledCard, Order, OrderStatus
from orders.services import LineRequest
from orders.tests.factories import order_pay
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

ORDERS = reverse("admin:orders_order_changelist")


@pytest.fixture
def paid_order(make_order: Callable[..., Order], product: Product) -> Callable[..., Order]:
    def make(**paid: Any) -> Order:
        order = make_order(LineRequest(product, 2500, quantity=2))
        order_pay(order, **paid)
        order.refresh_from_db()
        assert order.status == OrderStatus.FULFILLED
        return order

    return make


def cards_of(order: Order) -> list[GiftCard]:
    ids = FulfilledCard.objects.filter(order=order).values("gift_card_id")
    return list(GiftCard.objects.filter(pk__in=ids).order_by("pk"))


def snapshot(order: Order) -> tuple[Any, ...]:
    """Everything a refusal must leave as it was: the order, its cards, their ledgers."""
    order.refresh_from_db()
    cards = cards_of(order)
    return (
        order.status,
        order.refunded_at,
        [(card.status, card.balance) for card in cards],
        Transaction.objects.filter(gift_card__in=cards).count(),
    )


def refund(client: Client, *orders: Order, **fields: Any) -> Any:
    data = {
        "action": "refund_selected",
        "_selected_action": [order.pk for order in orders],
        "post": "yes",
        "reason": "Customer asked within 14 days",
        "confirm": "on",
        **fields,
    }
    return client.post(ORDERS, data, follow=True)


def staff_client(*permissions: str) -> Client:
    user = UserFactory(is_staff=True)
    for codename in permissions:
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label="orders", codename=codename)
        )
    client = Client()
    client.force_login(user)
    return client


def test_the_confirmation_lists_the_orders_and_their_totals_before_anything_changes(
    admin_client: Client, paid_order: Callable[..., Order]
) -> None:
    order = paid_order()
    before = snapshot(order)

    response = admin_client.post(
        ORDERS, {"action": "refund_selected", "index": 0, "_selected_action": [order.pk]}
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert "Refund 1 order?" in html
    assert order.public_id in html
    assert "€50.00" in html
    assert 'name="reason"' in html
    assert 'name="confirm"' in html
    assert snapshot(order) == before


def test_refunding_an_unused_order_voids_its_cards_with_the_admin_as_actor(
    admin_client: Client, admin_user: User, paid_order: Callable[..., Order]
) -> None:
    order = paid_order()

    response = refund(admin_client, order)

    assert f"Order {order.public_id} refunded (€50.00); its cards are void." in (
        response.content.decode()
    )
    order.refresh_from_db()
    assert order.status == OrderStatus.REFUNDED
    assert order.refunded_at is not None
    for card in cards_of(order):
        assert (card.status, card.balance) == (CardStatus.VOID, 0)
        entry = Transaction.objects.get(gift_card=card, kind=TransactionKind.VOID)
        assert entry.amount == -2500
        assert entry.reason == "Customer asked within 14 days"
        assert entry.actor_user == admin_user


def test_a_used_order_is_refused_with_the_reason_and_nothing_changes(
    admin_client: Client, paid_order: Callable[..., Order]
) -> None:
    used, unused = paid_order(), paid_order()
    spent = cards_of(used)[0]
    card_services.giftcard_redeem(merchant=used.merchant, card_id=spent.pk, amount=500)
    before = snapshot(used)

    response = refund(admin_client, used, unused)

    html = response.content.decode()
    assert (
        f"Order {used.public_id} not refunded: This order cannot be refunded: 1 of its 2 "
        f"cards (…{spent.last4}) has already been used."
    ) in html
    assert f"Order {unused.public_id} refunded" in html
    assert snapshot(used) == before
    assert before[0] == OrderStatus.FULFILLED
    assert before[2] == [(CardStatus.ACTIVE, 2000), (CardStatus.ACTIVE, 2500)]
    unused.refresh_from_db()
    assert unused.status == OrderStatus.REFUNDED


def test_without_a_reason_or_the_tick_box_nothing_is_refunded(
    admin_client: Client, paid_order: Callable[..., Order]
) -> None:
    order = paid_order()
    before = snapshot(order)

    no_reason = refund(admin_client, order, reason="")
    no_tick = admin_client.post(
        ORDERS,
        {
            "action": "refund_selected",
            "_selected_action": [order.pk],
            "post": "yes",
            "reason": "Customer asked",
        },
    )

    for response in (no_reason, no_tick):
        assert response.status_code == 200
        assert "This field is required." in response.content.decode()
    assert snapshot(order) == before


def test_a_pending_order_is_refused_and_stays_pending(
    admin_client: Client, make_order: Callable[..., Order]
) -> None:
    order = make_order()
    before = snapshot(order)

    response = refund(admin_client, order)

    assert (
        f"Order {order.public_id} not refunded: This order cannot be refunded: it is "
        "awaiting payment."
    ) in response.content.decode()
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING
    assert snapshot(order) == before


def test_a_stripe_order_is_refunded_at_stripe_and_a_refusal_there_changes_nothing(
    admin_client: Client,
    stripe_settings: Any,
    paid_order: Callable[..., Order],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    order = paid_order(provider_payment_id="pi_3Ptest")
    assert order.provider == "stripe"
    before = snapshot(order)

    def refuse(**params: Any) -> Any:
        raise stripe.APIConnectionError("network down")

    monkeypatch.setattr(stripe.Refund, "create", refuse)
    refused = refund(admin_client, order)

    assert "Stripe did not accept the refund, so nothing was changed." in (refused.content.decode())
    assert snapshot(order) == before

    calls: list[dict[str, Any]] = []

    def create(**params: Any) -> Any:
        calls.append(params)
        return stripe.Refund.construct_from({"id": "re_1"}, "sk_test_orders")

    monkeypatch.setattr(stripe.Refund, "create", create)
    refund(admin_client, order)

    assert [(c["payment_intent"], c["idempotency_key"]) for c in calls] == [
        ("pi_3Ptest", f"refund:{order.public_id}")
    ]
    order.refresh_from_db()
    assert order.status == OrderStatus.REFUNDED


def test_staff_without_the_refund_permission_neither_see_nor_use_the_action(
    paid_order: Callable[..., Order],
) -> None:
    order = paid_order()
    before = snapshot(order)
    viewer = staff_client("view_order")

    listing = viewer.get(ORDERS)
    attempt = refund(viewer, order)

    assert listing.status_code == 200
    assert order.public_id in listing.content.decode()
    assert "refund_selected" not in listing.content.decode()
    assert attempt.status_code == 200
    assert snapshot(order) == before

    refunder = staff_client("view_order", "refund_order")
    assert "Refund selected orders" in refunder.get(ORDERS).content.decode()
    refund(refunder, order)
    order.refresh_from_db()
    assert order.status == OrderStatus.REFUNDED


def test_the_change_page_shows_each_card_masked_with_balance_and_status(
    admin_client: Client, paid_order: Callable[..., Order]
) -> None:
    order = paid_order()
    spent, other = cards_of(order)
    card_services.giftcard_redeem(merchant=order.merchant, card_id=spent.pk, amount=500)
    card_services.giftcard_void(merchant=order.merchant, card_id=other.pk, reason="Lost")

    response = admin_client.get(reverse("admin:orders_order_change", args=[order.pk]))

    assert response.status_code == 200
    html = response.content.decode()
    assert f"····-····-····-{spent.last4}" in html
    assert f"····-····-····-{other.last4}" in html
    assert "€20.00" in html
    assert "Void" in html
    assert 'name="_save"' not in html
    for card in GiftCard.objects.filter(pk__in=[spent.pk, other.pk]):
        assert codes.format_code(codes.decrypt(card.code_encrypted)) not in html
        assert card.code_encrypted not in html
        assert card.code_digest not in html

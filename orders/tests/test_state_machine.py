"""The order state machine: legal moves, and refusals that change nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db.models import Sum

from giftcards import services as card_services
from giftcards.models import CardStatus, GiftCard, Product, Transaction, TransactionKind
from orders.exceptions import IllegalOrderTransition, PaymentMismatch, RefundRefused
from orders.models import CardDelivery, FulfilledCard, Order, OrderStatus
from orders.services import (
    LineRequest,
    order_cancel,
    order_fulfil,
    order_mark_failed,
    order_refund,
)
from orders.tests.factories import order_pay as pay

pytestmark = pytest.mark.django_db


def in_state(make_order: Callable[..., Order], status: str) -> Order:
    order = make_order()
    if status == OrderStatus.PAID:
        Order.objects.filter(pk=order.pk).update(status=OrderStatus.PAID)
    elif status == OrderStatus.FULFILLED:
        pay(order)
    elif status == OrderStatus.FAILED:
        order_mark_failed(order_id=order.pk)
    elif status == OrderStatus.CANCELLED:
        order_cancel(order_id=order.pk)
    elif status == OrderStatus.REFUNDED:
        pay(order)
        order_refund(order_id=order.pk)
    order.refresh_from_db()
    assert order.status == status
    return order


def snapshot(order: Order) -> tuple[Any, ...]:
    order.refresh_from_db()
    return (
        order.status,
        order.updated_at,
        order.paid_at,
        order.failed_reason,
        GiftCard.objects.count(),
        Transaction.objects.count(),
        FulfilledCard.objects.count(),
        CardDelivery.objects.count(),
    )


def test_paying_a_pending_order_issues_its_cards_and_fulfils_it(
    make_order: Callable[..., Order], product: Product
) -> None:
    order = make_order(
        LineRequest(product, 2500, quantity=3),
        LineRequest(product, 5000, is_gift=True, recipient_email="ana@example.com"),
    )

    order = pay(order, provider_reference="ref_1")

    assert order.status == OrderStatus.FULFILLED
    assert order.paid_at is not None
    assert order.fulfilled_at is not None
    cards = GiftCard.objects.order_by("initial_amount", "pk")
    assert [(c.initial_amount, c.balance, c.status) for c in cards] == [
        (2500, 2500, CardStatus.ACTIVE)
    ] * 3 + [(5000, 5000, CardStatus.ACTIVE)]
    assert {c.product_id for c in cards} == {product.pk}
    assert cards.last().recipient_email == "ana@example.com"
    assert cards.first().recipient_email == "buyer@example.com"
    keys = set(Transaction.objects.values_list("idempotency_key", flat=True))
    lines = list(order.lines.order_by("pk"))
    assert keys == {f"order:{order.public_id}:{lines[0].pk}:{u}" for u in range(3)} | {
        f"order:{order.public_id}:{lines[1].pk}:0"
    }
    assert sorted(FulfilledCard.objects.values_list("line_id", "unit_index")) == [
        (lines[0].pk, 0),
        (lines[0].pk, 1),
        (lines[0].pk, 2),
        (lines[1].pk, 0),
    ]


def test_fulfilling_twice_issues_once(make_order: Callable[..., Order], product: Product) -> None:
    order = make_order(LineRequest(product, 2500, quantity=2))
    pay(order)

    again = order_fulfil(order_id=order.pk)
    repeated = pay(order)

    assert again.status == repeated.status == OrderStatus.FULFILLED
    assert GiftCard.objects.count() == 2
    assert Transaction.objects.filter(kind=TransactionKind.ISSUE).count() == 2


def test_a_payment_that_does_not_match_the_total_is_refused(
    make_order: Callable[..., Order],
) -> None:
    order = make_order()
    before = snapshot(order)

    with pytest.raises(PaymentMismatch):
        pay(order, amount=order.total - 1)
    with pytest.raises(PaymentMismatch):
        pay(order, currency="USD")

    assert snapshot(order) == before
    assert order.status == OrderStatus.PENDING


ILLEGAL = [
    (OrderStatus.PENDING, "fulfil"),
    (OrderStatus.PENDING, "refund"),
    (OrderStatus.PAID, "fail"),
    (OrderStatus.PAID, "cancel"),
    (OrderStatus.FULFILLED, "fail"),
    (OrderStatus.FULFILLED, "cancel"),
    (OrderStatus.FAILED, "pay"),
    (OrderStatus.FAILED, "fulfil"),
    (OrderStatus.FAILED, "cancel"),
    (OrderStatus.FAILED, "refund"),
    (OrderStatus.CANCELLED, "pay"),
    (OrderStatus.CANCELLED, "fail"),
    (OrderStatus.CANCELLED, "refund"),
    (OrderStatus.REFUNDED, "pay"),
    (OrderStatus.REFUNDED, "fulfil"),
    (OrderStatus.REFUNDED, "fail"),
    (OrderStatus.REFUNDED, "cancel"),
]

ACTIONS: dict[str, Callable[[Order], Any]] = {
    "pay": pay,
    "fulfil": lambda order: order_fulfil(order_id=order.pk),
    "fail": lambda order: order_mark_failed(order_id=order.pk, reason="x"),
    "cancel": lambda order: order_cancel(order_id=order.pk),
    "refund": lambda order: order_refund(order_id=order.pk),
}


@pytest.mark.parametrize(("status", "action"), ILLEGAL)
def test_an_illegal_move_is_refused_and_changes_nothing(
    make_order: Callable[..., Order], status: str, action: str
) -> None:
    order = in_state(make_order, status)
    before = snapshot(order)

    with pytest.raises(IllegalOrderTransition) as caught:
        ACTIONS[action](order)

    assert caught.value.status == 409
    assert caught.value.code == "illegal_order_transition"
    assert "cannot be" in caught.value.detail
    assert caught.value.field is None
    assert snapshot(order) == before


@pytest.mark.parametrize(
    ("action", "status"),
    [("fail", OrderStatus.FAILED), ("cancel", OrderStatus.CANCELLED)],
)
def test_a_pending_order_fails_or_is_cancelled_without_cards(
    make_order: Callable[..., Order], action: str, status: str
) -> None:
    order = make_order()

    ACTIONS[action](order)
    ACTIONS[action](order)  # a repeat is a no-op

    order.refresh_from_db()
    assert order.status == status
    assert GiftCard.objects.count() == 0


def test_refund_voids_the_unused_cards(make_order: Callable[..., Order], product: Product) -> None:
    order = pay(make_order(LineRequest(product, 2500, quantity=2)))

    order = order_refund(order_id=order.pk, reason="Customer changed their mind")

    assert order.status == OrderStatus.REFUNDED
    assert order.refunded_at is not None
    for card in GiftCard.objects.all():
        assert (card.status, card.balance) == (CardStatus.VOID, 0)
        assert Transaction.objects.filter(gift_card=card).aggregate(s=Sum("amount"))["s"] == 0
    assert not CardDelivery.objects.filter(status="scheduled").exists()


def test_refund_is_refused_when_a_card_was_used(
    make_order: Callable[..., Order], product: Product
) -> None:
    order = pay(make_order(LineRequest(product, 2500, quantity=2)))
    used = GiftCard.objects.order_by("pk").first()
    card_services.giftcard_redeem(merchant=order.merchant, card_id=used.pk, amount=100)
    before = snapshot(order)
    balances = list(GiftCard.objects.order_by("pk").values_list("balance", "status"))

    with pytest.raises(RefundRefused) as caught:
        order_refund(order_id=order.pk)

    assert f"…{used.last4}" in caught.value.detail
    assert "already been used" in caught.value.detail
    assert snapshot(order) == before
    assert list(GiftCard.objects.order_by("pk").values_list("balance", "status")) == balances
    assert order.status == OrderStatus.FULFILLED

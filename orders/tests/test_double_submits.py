"""Fulfilling or refunding one order twice at once issues each card once and voids each
card once; both callers get the order back, never an error (PostgreSQL row locks)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.db import connection

from giftcards.models import GiftCard, Transaction
from orders.models import FulfilledCard, Order, OrderStatus
from orders.services import LineRequest, order_fulfil, order_mark_paid, order_refund
from tests.concurrency import in_threads

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL row locks"),
]


@pytest.fixture
def paid(make_order: Callable[..., Order], product: object) -> Order:
    order = make_order(LineRequest(product, 2500, quantity=2), LineRequest(product, 5000))
    return order_mark_paid(
        order_id=order.pk, provider_reference="", amount=order.total, currency="EUR"
    )


def test_fulfilling_twice_at_once_issues_each_card_once(paid: Order) -> None:
    statuses = in_threads(2, lambda _: order_fulfil(order_id=paid.pk).status)
    assert statuses == [OrderStatus.FULFILLED] * 2
    assert FulfilledCard.objects.filter(order=paid).count() == 3
    assert GiftCard.objects.count() == 3
    assert Transaction.objects.filter(kind="issue").count() == 3


def test_refunding_twice_at_once_voids_each_card_once(paid: Order) -> None:
    order_fulfil(order_id=paid.pk)
    statuses = in_threads(
        2, lambda _: order_refund(order_id=paid.pk, reason="asked", at_provider=False).status
    )
    assert statuses == [OrderStatus.REFUNDED] * 2
    assert Transaction.objects.filter(kind="void").count() == 3
    assert set(GiftCard.objects.values_list("status", "balance")) == {("void", 0)}

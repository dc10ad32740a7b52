"""The abandoned-checkout sweep asks Stripe with no row lock held and no transaction open,
then checks the order again under its lock: a provider that fails changes nothing, and
an order paid, or given a new checkout, while Stripe was being asked is never cancelled."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
import stripe
import time_machine
from django.db import DatabaseError, connection, connections, transaction

from giftcards.models import GiftCard
from orders.models import FulfilledCard, Order, OrderStatus
from orders.payments.units import to_provider
from orders.services import (
    ABANDONED_REASON,
    order_checkout_started,
    order_mark_paid,
    orders_expire_abandoned,
)

CREATED = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
LATER = CREATED + timedelta(hours=25)

Expire = Callable[..., Any]


def stripe_pending(make_order: Callable[..., Order], session_id: str) -> Order:
    with time_machine.travel(CREATED, tick=False):
        order = make_order()
        return order_checkout_started(
            order_id=order.pk, provider="stripe", provider_reference=session_id
        )


def row(order: Order) -> dict[str, Any]:
    return Order.objects.filter(pk=order.pk).values().get()


def expired(session_id: str) -> SimpleNamespace:
    return SimpleNamespace(id=session_id, status="expired", payment_status="unpaid")


def pay(order: Order, session_id: str) -> None:
    order_mark_paid(
        order_id=order.pk,
        provider_reference=session_id,
        amount=to_provider(order.total, order.currency, provider="stripe"),
        currency=order.currency.lower(),
        provider_payment_id="pi_3Ptest",
    )


@pytest.fixture
def stripe_expire(
    monkeypatch: pytest.MonkeyPatch, stripe_settings: Any
) -> Callable[[Expire], list[str]]:
    """Install ``behaviour`` as Stripe's expire endpoint; the session ids it was asked for."""
    calls: list[str] = []

    def install(behaviour: Expire) -> list[str]:
        def expire(session_id: str, **params: Any) -> Any:
            calls.append(session_id)
            return behaviour(session_id)

        monkeypatch.setattr(stripe.checkout.Session, "expire", expire)
        return calls

    return install


@pytest.mark.django_db
@pytest.mark.parametrize(
    "failure",
    [
        stripe.APIConnectionError("network down"),
        stripe.RateLimitError("slow down"),
        stripe.APIError("internal error"),
    ],
    ids=["unreachable", "rate_limited", "server_error"],
)
def test_a_provider_that_fails_leaves_the_order_untouched_for_the_next_sweep(
    make_order: Callable[..., Order],
    stripe_expire: Callable[[Expire], list[str]],
    failure: stripe.StripeError,
) -> None:
    order = stripe_pending(make_order, "cs_test_down")
    before = row(order)

    def down(session_id: str) -> Any:
        raise failure

    calls = stripe_expire(down)

    assert orders_expire_abandoned(now=LATER) == 0

    assert row(order) == before
    assert calls == ["cs_test_down"]

    stripe_expire(expired)
    assert orders_expire_abandoned(now=LATER) == 1
    after = row(order)
    assert (after["status"], after["failed_reason"]) == (OrderStatus.CANCELLED, ABANDONED_REASON)


@pytest.mark.django_db
def test_an_order_paid_while_stripe_is_asked_is_not_cancelled(
    make_order: Callable[..., Order], stripe_expire: Callable[[Expire], list[str]]
) -> None:
    order = stripe_pending(make_order, "cs_test_racing")

    def paid_meanwhile(session_id: str) -> Any:
        pay(order, session_id)  # the payment's confirmation arrives during the call
        return expired(session_id)

    stripe_expire(paid_meanwhile)

    assert orders_expire_abandoned(now=LATER) == 0

    after = row(order)
    assert after["status"] == OrderStatus.FULFILLED
    assert after["cancelled_at"] is None
    assert FulfilledCard.objects.filter(order=order).count() == GiftCard.objects.count() == 1


@pytest.mark.django_db
def test_an_order_given_a_new_checkout_while_stripe_is_asked_waits_for_the_next_sweep(
    make_order: Callable[..., Order], stripe_expire: Callable[[Expire], list[str]]
) -> None:
    order = stripe_pending(make_order, "cs_test_old")

    def reopened_meanwhile(session_id: str) -> Any:
        if session_id == "cs_test_old":  # the buyer clicks "Pay" again during the call
            order_checkout_started(
                order_id=order.pk, provider="stripe", provider_reference="cs_test_new"
            )
        return expired(session_id)

    calls = stripe_expire(reopened_meanwhile)

    assert orders_expire_abandoned(now=LATER) == 0
    after = row(order)
    assert (after["status"], after["provider_reference"]) == (OrderStatus.PENDING, "cs_test_new")

    # The next sweep closes the new checkout at Stripe before cancelling.
    assert orders_expire_abandoned(now=LATER) == 1
    assert calls == ["cs_test_old", "cs_test_new"]
    assert row(order)["status"] == OrderStatus.CANCELLED


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_stripe_is_asked_outside_any_transaction(
    make_order: Callable[..., Order], stripe_expire: Callable[[Expire], list[str]]
) -> None:
    order = stripe_pending(make_order, "cs_test_outside")
    in_transaction: list[bool] = []

    def watch(session_id: str) -> Any:
        in_transaction.append(connection.in_atomic_block)
        return expired(session_id)

    stripe_expire(watch)

    assert orders_expire_abandoned(now=LATER) == 1

    assert in_transaction == [False]
    assert row(order)["status"] == OrderStatus.CANCELLED


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL row locks")
def test_no_row_lock_is_held_while_stripe_is_asked_and_a_payment_then_wins(
    make_order: Callable[..., Order], stripe_expire: Callable[[Expire], list[str]]
) -> None:
    order = stripe_pending(make_order, "cs_test_concurrent")
    seen: dict[str, Any] = {}

    def other_worker(session_id: str) -> None:
        # Another process: takes the order's lock without waiting (an error if the sweep
        # held it), then confirms the payment.
        try:
            with transaction.atomic():
                Order.objects.select_for_update(nowait=True).get(pk=order.pk)
            seen["lock"] = "free"
            pay(order, session_id)
            seen["paid"] = True
        except DatabaseError as exc:
            seen["lock"] = type(exc).__name__
        finally:
            connections.close_all()

    def paid_elsewhere(session_id: str) -> Any:
        worker = threading.Thread(target=other_worker, args=(session_id,))
        worker.start()
        worker.join(30)
        return expired(session_id)

    stripe_expire(paid_elsewhere)

    assert orders_expire_abandoned(now=LATER) == 0

    assert seen == {"lock": "free", "paid": True}
    after = row(order)
    assert (after["status"], after["cancelled_at"]) == (OrderStatus.FULFILLED, None)
    assert FulfilledCard.objects.filter(order=order).count() == GiftCard.objects.count() == 1

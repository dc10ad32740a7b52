"""Abandoned checkouts: pending orders nobody paid are cancelled after
``ORDER_PENDING_TTL_HOURS``, a Stripe Checkout Session is expired at Stripe first, and a
payment that still arrives for a cancelled order issues nothing and is logged as an error."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
import stripe
import time_machine
from django.db import connection, connections, transaction
from django.test import Client
from structlog.testing import capture_logs

from giftcards.models import GiftCard
from orders.locks import lock_order
from orders.models import Order, OrderStatus, PaymentEvent
from orders.services import (
    ABANDONED_REASON,
    order_cancel,
    order_checkout_started,
    order_mark_failed,
    orders_expire_abandoned,
)
from orders.tasks import expire_abandoned
from orders.tests.conftest import checkout_session, post_event, stripe_event
from orders.tests.factories import order_pay

pytestmark = pytest.mark.django_db

CREATED = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
LATER = CREATED + timedelta(hours=25)


@pytest.fixture
def at() -> Iterator[Callable[[datetime], None]]:
    """Travel to a moment; the clock stands still there."""
    current: list[Any] = []

    def travel(moment: datetime) -> None:
        if current:
            current.pop().stop()
        current.append(time_machine.travel(moment, tick=False))
        current[-1].start()

    yield travel
    if current:
        current.pop().stop()


def statuses(*orders: Order) -> list[str]:
    return [Order.objects.get(pk=order.pk).status for order in orders]


@pytest.fixture
def fake_stripe(monkeypatch: pytest.MonkeyPatch, stripe_settings: Any) -> SimpleNamespace:
    """Stripe's expire endpoint, no network: every session expires unless listed in
    ``complete`` (with its payment status); then Stripe refuses, as it does, and says
    what the session became when asked."""
    calls: list[tuple[str, dict[str, Any]]] = []
    complete: dict[str, str] = {}

    def expire(session_id: str, **params: Any) -> Any:
        calls.append((session_id, params))
        if session_id in complete:
            raise stripe.InvalidRequestError(
                'Only Checkout Sessions with a status in ["open"] can be expired. This '
                "Checkout Session has a status of `complete`.",
                param=None,
            )
        return SimpleNamespace(id=session_id, status="expired", payment_status="unpaid")

    def retrieve(session_id: str, **params: Any) -> Any:
        return SimpleNamespace(
            id=session_id, status="complete", payment_status=complete[session_id]
        )

    monkeypatch.setattr(stripe.checkout.Session, "expire", expire)
    monkeypatch.setattr(stripe.checkout.Session, "retrieve", retrieve)
    return SimpleNamespace(calls=calls, complete=complete)


def stripe_pending(make_order: Callable[..., Order], session_id: str) -> Order:
    order = make_order()
    return order_checkout_started(
        order_id=order.pk, provider="stripe", provider_reference=session_id
    )


def test_only_pending_orders_older_than_the_ttl_are_cancelled(
    at: Callable[[datetime], Any], make_order: Callable[..., Order]
) -> None:
    at(CREATED)
    stale = make_order()
    paid = make_order()
    order_pay(paid)
    failed = make_order()
    order_mark_failed(order_id=failed.pk, reason="Declined")
    at(CREATED + timedelta(hours=2))
    recent = make_order()
    at(LATER)

    cancelled = orders_expire_abandoned()

    assert cancelled == 1
    assert statuses(stale, paid, failed, recent) == [
        OrderStatus.CANCELLED,
        OrderStatus.FULFILLED,
        OrderStatus.FAILED,
        OrderStatus.PENDING,
    ]
    stale.refresh_from_db()
    assert stale.cancelled_at == LATER
    assert stale.failed_reason == ABANDONED_REASON
    assert GiftCard.objects.count() == 1  # the paid order's card, nothing else


def test_a_second_run_changes_nothing(
    at: Callable[[datetime], Any], make_order: Callable[..., Order]
) -> None:
    at(CREATED)
    stale = make_order()
    at(LATER)
    assert orders_expire_abandoned() == 1
    stale.refresh_from_db()
    first = (stale.status, stale.cancelled_at, stale.updated_at)

    at(LATER + timedelta(hours=1))
    assert orders_expire_abandoned() == 0

    stale.refresh_from_db()
    assert (stale.status, stale.cancelled_at, stale.updated_at) == first


def test_the_age_is_measured_from_now_as_given(
    at: Callable[[datetime], Any], make_order: Callable[..., Order]
) -> None:
    at(CREATED)
    order = make_order()

    assert orders_expire_abandoned(now=CREATED + timedelta(hours=23)) == 0
    assert orders_expire_abandoned(older_than=timedelta(hours=48), now=LATER) == 0
    assert statuses(order) == [OrderStatus.PENDING]
    assert orders_expire_abandoned(older_than=timedelta(hours=1), now=LATER) == 1
    assert statuses(order) == [OrderStatus.CANCELLED]


def test_the_task_cancels_with_the_configured_ttl(
    at: Callable[[datetime], Any], make_order: Callable[..., Order], settings: Any
) -> None:
    at(CREATED)
    order = make_order()
    at(LATER)

    settings.ORDER_PENDING_TTL_HOURS = 48
    assert expire_abandoned.delay().get() == 0
    assert statuses(order) == [OrderStatus.PENDING]

    settings.ORDER_PENDING_TTL_HOURS = 24
    assert expire_abandoned.delay().get() == 1
    assert statuses(order) == [OrderStatus.CANCELLED]


def test_the_task_runs_every_hour(settings: Any) -> None:
    [entry] = [
        entry
        for entry in settings.CELERY_BEAT_SCHEDULE.values()
        if entry["task"] == "orders.expire_abandoned_orders"
    ]
    assert entry["schedule"] == timedelta(hours=1)


def test_a_stripe_session_is_expired_at_stripe_before_the_order_is_cancelled(
    at: Callable[[datetime], Any], make_order: Callable[..., Order], fake_stripe: Any
) -> None:
    at(CREATED)
    order = stripe_pending(make_order, "cs_test_abandoned")
    never_opened = make_order()
    assert never_opened.provider == "stripe"
    at(LATER)

    assert orders_expire_abandoned() == 2

    assert fake_stripe.calls == [("cs_test_abandoned", {"api_key": "sk_test_orders"})]
    assert statuses(order, never_opened) == [OrderStatus.CANCELLED, OrderStatus.CANCELLED]


def test_an_order_whose_session_stripe_reports_complete_stays_pending(
    at: Callable[[datetime], Any], make_order: Callable[..., Order], fake_stripe: Any
) -> None:
    at(CREATED)
    settling = stripe_pending(make_order, "cs_test_settling")
    lost = stripe_pending(make_order, "cs_test_paid")
    abandoned = stripe_pending(make_order, "cs_test_open")
    fake_stripe.complete.update({"cs_test_settling": "unpaid", "cs_test_paid": "paid"})
    at(LATER)

    with capture_logs() as logs:
        assert orders_expire_abandoned() == 1

    assert statuses(settling, lost, abandoned) == [
        OrderStatus.PENDING,
        OrderStatus.PENDING,
        OrderStatus.CANCELLED,
    ]
    assert [session_id for session_id, _ in fake_stripe.calls] == [
        "cs_test_settling",
        "cs_test_paid",
        "cs_test_open",
    ]
    kept = {(entry["event"], entry["log_level"], entry.get("order")) for entry in logs}
    assert ("abandoned_order_kept", "warning", settling.public_id) in kept
    assert ("abandoned_order_paid_at_stripe", "error", lost.public_id) in kept


def test_an_unreachable_stripe_leaves_the_order_for_the_next_run(
    at: Callable[[datetime], Any],
    make_order: Callable[..., Order],
    stripe_settings: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    at(CREATED)
    order = stripe_pending(make_order, "cs_test_abandoned")
    at(LATER)

    def down(session_id: str, **params: Any) -> Any:
        raise stripe.APIConnectionError("network down")

    monkeypatch.setattr(stripe.checkout.Session, "expire", down)

    assert orders_expire_abandoned() == 0
    assert statuses(order) == [OrderStatus.PENDING]


def test_a_payment_for_a_cancelled_order_issues_nothing_and_is_logged_as_an_error(
    client: Client, make_order: Callable[..., Order], stripe_settings: Any
) -> None:
    order = stripe_pending(make_order, "cs_test_late")
    order_cancel(order_id=order.pk, reason=ABANDONED_REASON)

    with capture_logs() as logs:
        response = post_event(
            client, stripe_event("checkout.session.completed", checkout_session(order))
        )

    assert response.status_code == 200
    assert statuses(order) == [OrderStatus.CANCELLED]
    assert GiftCard.objects.count() == 0
    event = PaymentEvent.objects.get(event_id="evt_1")
    assert (event.order, event.outcome) == (order, "ignored")
    [alert] = [entry for entry in logs if entry["event"] == "stripe_event_for_closed_order"]
    assert alert["log_level"] == "error"
    assert (alert["order"], alert["status"]) == (order.public_id, "cancelled")
    assert alert["payment_intent"] == "pi_3Ptest"


def test_stripes_own_expiry_notice_for_a_cancelled_order_alarms_nobody(
    client: Client, make_order: Callable[..., Order], stripe_settings: Any
) -> None:
    order = stripe_pending(make_order, "cs_test_late")
    order_cancel(order_id=order.pk, reason=ABANDONED_REASON)
    session = checkout_session(order, status="expired", payment_status="unpaid")

    with capture_logs() as logs:
        post_event(client, stripe_event("checkout.session.expired", session))

    assert statuses(order) == [OrderStatus.CANCELLED]
    assert PaymentEvent.objects.get(event_id="evt_1").outcome == "ignored"
    assert not [entry for entry in logs if entry["log_level"] == "error"]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL row locks")
def test_an_order_locked_by_a_checkout_in_progress_is_skipped_not_waited_for(
    make_order: Callable[..., Order],
) -> None:
    with time_machine.travel(CREATED, tick=False):
        order = make_order()
    locked, release = threading.Event(), threading.Event()

    def checkout() -> None:
        try:
            with transaction.atomic():
                lock_order(order_id=order.pk)
                locked.set()
                release.wait(10)
        finally:
            connections.close_all()

    holder = threading.Thread(target=checkout)
    holder.start()
    try:
        assert locked.wait(10)
        assert orders_expire_abandoned(now=LATER) == 0
        assert statuses(order) == [OrderStatus.PENDING]
    finally:
        release.set()
        holder.join()

    assert orders_expire_abandoned(now=LATER) == 1
    assert statuses(order) == [OrderStatus.CANCELLED]

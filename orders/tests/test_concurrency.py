"""Eight workers confirming and fulfilling one order at once issue each card exactly once
(PostgreSQL row locks)."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.utils import timezone

from communications.models import CommunicationLog
from core.errors import ApplicationError
from giftcards.models import GiftCard, Transaction
from giftcards.tests.factories import ProductFactory
from merchants.models import Merchant
from orders.models import CardDelivery, DeliveryStatus, FulfilledCard, OrderStatus
from orders.services import LineRequest, order_fulfil, order_mark_paid
from orders.tasks import send_due_deliveries
from orders.tests.factories import OrderFactory, order_pay
from tests.concurrency import in_threads

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL row locks"),
]


def test_parallel_confirmations_and_fulfilments_issue_each_unit_once(merchant: Merchant) -> None:
    product = ProductFactory(merchant=merchant, name="Card", denominations=[2500, 5000])
    order = OrderFactory(
        merchant=merchant,
        buyer=None,
        buyer_email="b@example.com",
        buyer_name="",
        lines=[LineRequest(product, 2500, quantity=3), LineRequest(product, 5000, quantity=2)],
    )

    def work(index: int) -> str:
        try:
            if index % 2:
                order_fulfil(order_id=order.pk)
            else:
                order_mark_paid(
                    order_id=order.pk,
                    provider_reference="",
                    amount=order.total,
                    currency="EUR",
                )
        except ApplicationError as exc:
            return exc.code
        return "ok"

    outcomes: Any = Counter(in_threads(8, work))

    order.refresh_from_db()
    assert order.status == OrderStatus.FULFILLED
    assert GiftCard.objects.count() == 5
    assert Transaction.objects.filter(kind="issue").count() == 5
    assert FulfilledCard.objects.filter(order=order).count() == 5
    assert sorted(GiftCard.objects.values_list("balance", flat=True)) == [2500] * 3 + [5000] * 2
    # Fulfilments that ran before any payment were refused; nothing else failed.
    assert set(outcomes) <= {"ok", "illegal_order_transition"}
    assert outcomes["ok"] >= 4


def test_parallel_delivery_jobs_send_each_due_card_once(merchant: Merchant) -> None:
    product = ProductFactory(merchant=merchant, name="Card", denominations=[2500])
    later = timezone.now() + timedelta(hours=2)
    order = OrderFactory(
        merchant=merchant,
        buyer=None,
        buyer_email="b@example.com",
        buyer_name="",
        lines=[
            LineRequest(
                product,
                2500,
                quantity=6,
                is_gift=True,
                recipient_email="a@example.com",
                deliver_at=later,
            )
        ],
    )
    order_pay(order)

    with time_machine.travel(later + timedelta(minutes=1)):
        sent = in_threads(4, lambda index: send_due_deliveries())

    assert sum(sent) == 6
    assert set(CardDelivery.objects.values_list("status", flat=True)) == {DeliveryStatus.SENT}
    assert CommunicationLog.objects.filter(event="gift_card_delivered").count() == 6


def test_parallel_resends_leave_only_the_newest_link_working(merchant: Merchant) -> None:
    import re

    from django.core import mail
    from django.test import Client

    from orders.services import delivery_resend

    product = ProductFactory(merchant=merchant, name="Card", denominations=[2500])
    order = OrderFactory(
        merchant=merchant,
        buyer=None,
        buyer_email="b@example.com",
        buyer_name="",
        lines=[LineRequest(product, 2500, is_gift=True, recipient_email="a@example.com")],
    )
    order_pay(order)
    delivery = CardDelivery.objects.get(order=order)

    in_threads(3, lambda index: delivery_resend(delivery_id=delivery.pk, actor=None))

    links = [
        match.group()
        for message in mail.outbox
        if message.to == ["a@example.com"]
        and (match := re.search(r"/gift/t/[^\s\"'<>]+/", message.body))
    ]
    versions = sorted(int(link.split(":")[1]) for link in links)
    assert versions == [0, 1, 2, 3]  # the first message, then each resend its own version
    assert GiftCard.objects.get().link_version == 3
    client = Client()
    opening = [link for link in links if client.get(link).status_code == 200]
    assert [int(link.split(":")[1]) for link in opening] == [3]

"""factory-boy factories of orders, made and paid through the order services."""

from __future__ import annotations

from typing import Any

import factory

from giftcards.tests.factories import ProductFactory
from orders.models import Order
from orders.services import LineRequest, order_create, order_mark_paid
from tests.factories import MerchantFactory


def order_pay(order: Order, **confirmation: Any) -> Order:
    """The provider confirms the payment of the order's whole total: pending -> paid,
    then fulfilled (as ``order_mark_paid`` does). ``confirmation`` overrides its
    arguments (``provider_reference``, ``provider_payment_id``, ...)."""
    values: dict[str, Any] = {
        "order_id": order.pk,
        "provider_reference": "",
        "amount": order.total,
        "currency": order.currency,
    }
    values.update(confirmation)
    return order_mark_paid(**values)


class OrderFactory(factory.Factory[Order]):
    """A pending order made by ``order_create``: one €25 card of a new product of its
    merchant unless ``lines`` are given."""

    class Meta:
        model = Order

    merchant = factory.SubFactory(MerchantFactory)
    buyer = None
    buyer_email = "buyer@example.com"
    buyer_name = "Ben Buyer"
    lines = factory.LazyAttribute(
        lambda order: [LineRequest(ProductFactory(merchant=order.merchant), 2500)]
    )

    @classmethod
    def _create(cls, model_class: type[Order], *args: Any, **kwargs: Any) -> Order:
        return order_create(**kwargs)

    @classmethod
    def _build(cls, model_class: type[Order], *args: Any, **kwargs: Any) -> Order:
        raise TypeError("An order exists only once order_create has priced its lines.")


class PaidOrderFactory(OrderFactory):
    """An order made by ``order_create`` and paid in full by ``order_pay``."""

    @classmethod
    def _create(cls, model_class: type[Order], *args: Any, **kwargs: Any) -> Order:
        return order_pay(order_create(**kwargs))

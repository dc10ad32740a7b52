"""What apps above orders ask to have done when an order is fulfilled.

Orders cannot import them (the wallet sits on orders), so each registers a listener from
its ``AppConfig.ready``; ``order_fulfil`` calls ``order_fulfilled`` once, when the order
moves to fulfilled. Each listener gets the order's id after the fulfilment commits (a
rolled-back fulfilment calls nobody) and runs on its own: a listener's error is logged
and never undoes the fulfilment or stops the other listeners.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from django.db import transaction

from orders.models import Order

FulfilledListener = Callable[[int], object]

_listeners: dict[str, FulfilledListener] = {}


def on_order_fulfilled(name: str, listener: FulfilledListener) -> None:
    """Call ``listener(order_id)`` after each fulfilment commits (once per ``name``)."""
    _listeners[name] = listener


def order_fulfilled(order: Order) -> None:
    """Called by the fulfilment, inside its transaction."""
    for listener in _listeners.values():
        transaction.on_commit(partial(listener, order.pk), robust=True)

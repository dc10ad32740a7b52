"""Where the wallet listens to the rest of the product.

Orders: when an order is fulfilled, its cards go into the buyer's wallet once the
fulfilment has committed (``orders.hooks``: a rolled-back fulfilment adds nothing, and a
wallet problem never undoes a fulfilment). Accounts: signing in and confirming an email
address bring in any card sent to the person's verified addresses, and any bought card
that is missing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import structlog
from allauth.account.signals import email_confirmed, user_logged_in
from django.db import DatabaseError, transaction
from django.dispatch import receiver

from orders.models import Order
from wallet import services

logger = structlog.get_logger(__name__)


def add_bought(order_id: int) -> None:
    """Registered with orders (``orders.hooks``): runs after a fulfilment commits."""
    order = Order.objects.filter(pk=order_id).first()
    if order is not None:
        services.wallet_add_bought(order)


def _sync(update: Callable[[], object], *, user_id: int) -> None:
    # The wallet catches up on the next sign-in; a failure here never stops this one.
    try:
        with transaction.atomic():
            update()
    except DatabaseError:
        logger.exception("wallet_sync_failed", user_id=user_id)


@receiver(user_logged_in, dispatch_uid="wallet.user_logged_in")
def signed_in(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    _sync(lambda: services.wallet_sync_for_user(user), user_id=user.pk)


@receiver(email_confirmed, dispatch_uid="wallet.email_confirmed")
def address_confirmed(sender: Any, request: Any, email_address: Any, **kwargs: Any) -> None:
    user = email_address.user
    _sync(lambda: services.wallet_receive_for_user(user), user_id=user.pk)

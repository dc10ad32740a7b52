"""Row locks on gift cards, taken only by ``giftcards.services`` (and the code lookup it
calls), inside their transaction. No module outside ``giftcards`` imports this one (a
test holds it so): other apps ask a service, which locks for them.

Several cards are always locked in id order, so two operations over the same cards
queue rather than deadlock.

The lock is the hottest statement of a redemption, so its SQL is written once here
(``core.sql.RowMapper``) instead of compiled from a queryset on every call.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import NamedTuple

from django.db import connection

from core.sql import RowMapper
from core.sql import cursor as sql_cursor
from giftcards.exceptions import CardNotFound
from giftcards.models import EXPIRABLE_STATUSES, GiftCard
from merchants.models import Merchant

_cards = RowMapper(GiftCard)
_LOOKUP_COLUMNS = frozenset({"id", "public_id", "code_digest"})


@cache
def _sql(column: str, for_update: bool) -> str:
    assert column in _LOOKUP_COLUMNS
    lock = " FOR UPDATE" if for_update else ""
    # Built from model metadata and the fixed column names above, never from input.
    return (
        f"SELECT {_cards.columns('c')} FROM giftcards_giftcard c "  # noqa: S608
        f"WHERE c.merchant_id = %s AND c.{column} = %s LIMIT 1{lock}"
    )


def _lock(merchant: Merchant, column: str, value: int | str | None) -> GiftCard | None:
    """Lock one card of the merchant by a unique column (a no-op lock on SQLite)."""
    with sql_cursor() as cursor:
        cursor.execute(
            _sql(column, connection.features.has_select_for_update), [merchant.pk, value]
        )
        row = cursor.fetchone()
    if row is None:
        return None
    card = _cards.load(row)
    GiftCard.merchant.field.set_cached_value(card, merchant)
    return card


def lock_card(
    *, merchant: Merchant, card_id: int | None = None, public_id: str | None = None
) -> GiftCard:
    """Lock the merchant's card by primary key or by public id (one query either way)."""
    if (card_id is None) == (public_id is None):
        raise TypeError("Pass exactly one of card_id and public_id.")
    card = (
        _lock(merchant, "id", card_id)
        if card_id is not None
        else _lock(merchant, "public_id", public_id)
    )
    if card is None:
        raise CardNotFound("No gift card with that id.")
    return card


def lock_cards(*, merchant: Merchant, card_ids: list[int]) -> list[GiftCard]:
    """Lock several of the merchant's cards, one after another in id order."""
    return [lock_card(merchant=merchant, card_id=pk) for pk in sorted(set(card_ids))]


def lock_card_by_digest(*, merchant: Merchant, code_digest: str) -> GiftCard | None:
    return _lock(merchant, "code_digest", code_digest)


class DueCard(NamedTuple):
    """What the expiry job needs of a locked card: where it belongs and what it holds.
    (A tuple: a chunk makes thousands of them.)"""

    id: int
    merchant_id: int
    public_id: str
    balance: int
    currency: str


@cache
def _due_sql(for_update: bool) -> str:
    # The statuses are written out, not bound, so that PostgreSQL can match the query to
    # the partial index giftcard_expiry_due when few cards are due.
    statuses = ", ".join(f"'{status.value}'" for status in EXPIRABLE_STATUSES)
    lock = " FOR UPDATE" if for_update else ""
    return (
        "SELECT id, merchant_id, public_id, balance, currency FROM giftcards_giftcard "  # noqa: S608
        f"WHERE id > %s AND id <= %s AND status IN ({statuses}) AND expires_at <= %s "
        f"ORDER BY id LIMIT %s{lock}"
    )


# Above every card id: no upper bound.
MAX_ID = 2**63 - 1


def lock_due_cards(
    *, due_by: datetime, after_id: int, up_to_id: int = MAX_ID, limit: int
) -> list[DueCard]:
    """Lock the next ``limit`` cards, by id above ``after_id`` (and at most ``up_to_id``),
    that are still open (active, spent or pending) and whose date is at or before
    ``due_by``, in id order.

    The cards of every merchant, as the platform's expiry job walks them. On PostgreSQL
    a card changed by a transaction that held it first is read again once that commits
    (READ COMMITTED re-evaluates the conditions of a locked row): it is returned with its
    new balance, or not at all when it is no longer open. SQLite has no row locks, but
    serialises writers: a write from elsewhere between this read and the chunk's writes
    makes the chunk fail rather than be lost.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            _due_sql(connection.features.has_select_for_update),
            [after_id, up_to_id, connection.ops.adapt_datetimefield_value(due_by), limit],
        )
        return [DueCard._make(row) for row in cursor.fetchall()]

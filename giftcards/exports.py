"""CSV exports of a merchant's cards and ledger (GC-9), streamed row by row.

No export ever carries a code, not even encrypted: cards appear by id and last 4.
Text that came from people (references, reasons, emails, product names) is escaped
against spreadsheet formula injection; numbers we format ourselves are left as numbers.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet

from core.money import to_decimal
from giftcards.models import GiftCard, Transaction

CHUNK_SIZE = 2000
# A spreadsheet reads a cell starting with one of these as a formula (OWASP CSV injection).
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

CARD_COLUMNS = [
    "card_id",
    "last4",
    "status",
    "currency",
    "initial_amount",
    "initial_amount_minor",
    "balance",
    "balance_minor",
    "expires_at",
    "created_at",
    "product",
    "recipient_email",
]
TRANSACTION_COLUMNS = [
    "transaction_id",
    "card_id",
    "kind",
    "amount",
    "amount_minor",
    "balance_after",
    "balance_after_minor",
    "currency",
    "reference",
    "reason",
    "actor",
    "created_at",
]


def csv_safe(value: Any) -> Any:
    """Neutralise text a spreadsheet would run as a formula by prefixing a single quote.
    Only strings are touched: a negative amount we wrote ourselves stays a number."""
    if isinstance(value, str) and value.startswith(_FORMULA_PREFIXES):
        return "'" + value
    return value


def _timestamp(value: datetime | None) -> str:
    return value.isoformat() if value is not None else ""


def _money(amount: int, currency: str) -> Decimal:
    return to_decimal(amount, currency)


def card_row(card: GiftCard) -> list[Any]:
    return [
        card.public_id,
        csv_safe(card.last4),
        card.status,
        card.currency,
        _money(card.initial_amount, card.currency),
        card.initial_amount,
        _money(card.balance, card.currency),
        card.balance,
        _timestamp(card.expires_at),
        _timestamp(card.created_at),
        csv_safe(card.product.name if card.product is not None else ""),
        csv_safe(card.recipient_email),
    ]


def transaction_row(txn: Transaction) -> list[Any]:
    return [
        txn.public_id,
        txn.gift_card.public_id,
        txn.kind,
        _money(txn.amount, txn.currency),
        txn.amount,
        _money(txn.balance_after, txn.currency),
        txn.balance_after,
        txn.currency,
        csv_safe(txn.reference),
        csv_safe(txn.reason),
        csv_safe(txn.actor_label),
        _timestamp(txn.created_at),
    ]


class _Echo:
    """A file-like object whose ``write`` hands the line back instead of storing it."""

    def write(self, value: str) -> str:
        return value


def stream_csv(header: list[str], rows: Iterable[list[Any]]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(header)
    for row in rows:
        yield writer.writerow(row)


def card_lines(cards: QuerySet[GiftCard]) -> Iterator[str]:
    rows = (card_row(card) for card in cards.iterator(chunk_size=CHUNK_SIZE))
    return stream_csv(CARD_COLUMNS, rows)


def transaction_lines(transactions: QuerySet[Transaction]) -> Iterator[str]:
    rows = (transaction_row(txn) for txn in transactions.iterator(chunk_size=CHUNK_SIZE))
    return stream_csv(TRANSACTION_COLUMNS, rows)

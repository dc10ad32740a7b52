"""What an idempotency key of a money movement means, how far it reaches, and how a
repeat is answered. The services of ``giftcards.services`` apply these rules; no other
module keeps its own once-only scheme.

**One key, one movement.** Every money movement (issue, redeem, reload, refund, void,
adjust) takes an ``idempotency_key``; the ledger row it writes carries the key, unique
per merchant (the index ``txn_merchant_idempotency_key``). An empty key means "no
protection asked": the movement runs every time.

**Scope.** A key is the merchant's, whatever the door: each door builds its keys here,
under its own prefix, so two doors never share a key by accident:

- the API: ``api:<the client's Idempotency-Key header>`` (a header too long for the
  column is hashed). The prefix matters: without it a key could name another door's
  movement (``order:<order>:<line>:<unit>``) and be answered with that card. The
  header's HTTP-level replay of the whole response stays ``merchants.idempotency``'s;
- the till: ``till:<confirmation token>``;
- the dashboard's forms: ``web:<form token>``;
- order fulfilment: ``order:<order>:<line>:<unit>``, one per card of the order;
- an order's refund: ``order-refund:<order>:<card pk>``, one per card voided;
- bulk issuing: ``<job>:<row>``, one per row of the job;
- the platform admin's "void selected cards": ``admin-void:<form token>:<card pk>``.

**A repeat returns the first result.** The same key again, for the same movement (the
same kind, on the same card, of the same amount; for a refund, of the same redemption),
returns the first call's ledger row (for an issue: its card), changes nothing and writes
nothing. The same key for another movement is refused with ``IdempotencyKeyReused``
(409), and nothing changes.

**How a repeat is found, also when two race.** The services do not look the key up
before they move money (a redemption's statements are counted: see
``giftcards/tests/test_query_counts.py``); they lock, check and write. A repeat meets
the first call's row: either its insert is refused by the unique index (a concurrent
first call holds the card's lock, so by then it has committed), or one of its checks
refuses (the first call spent the balance, voided the card). Either way its transaction
(or savepoint) rolls back and the service reads the key's row: there is one, so it is
returned (or refused as another movement). Only when the key was never used does the
refusal stand. An issue has no card to lock: it reads the key first (a retry of a bulk
job or an order issues nothing twice without creating and dropping cards), and when two
race, the index refuses the second insert and it returns the first card.

Inside the API's ``core.db.flat_transaction`` an error cannot be recovered from (the
transaction must be left at once): there the service lets the error go, and the API's
``merchants.idempotency.run_idempotent``, which stored the first response in the first
call's transaction under the same key, answers with it.
"""

from __future__ import annotations

import hashlib

from django.db import IntegrityError

from giftcards.exceptions import IdempotencyKeyReused
from giftcards.models import Transaction
from merchants.models import Merchant

MAX_KEY_LENGTH = 255
_INDEX = "txn_merchant_idempotency_key"


def till_key(token: str) -> str:
    """A till confirmation's key: one redemption per confirmation token."""
    return f"till:{token}"


def form_key(token: str) -> str:
    """A dashboard form's key: one movement per rendered form."""
    return f"web:{token}"


def order_unit_key(*, order: str, line: int, unit: int) -> str:
    """The key of one card of an order: one card per unit of each line."""
    return f"order:{order}:{line}:{unit}"


def order_refund_key(*, order: str) -> str:
    """The key an order's refund voids its cards under (each card adds its pk)."""
    return f"order-refund:{order}"


def admin_void_key(*, token: str, card: int) -> str:
    """The key of one card voided by one submit of the admin's confirmation form."""
    return f"admin-void:{token}:{card}"


def bulk_row_key(*, job: str, row: int) -> str:
    """The key of one row of a bulk issuing job: one card per row."""
    return f"{job}:{row}"


def api_key(header: str) -> str:
    """The money key of an API request's ``Idempotency-Key`` header ("" for none): always
    under ``api:``, so a client can never name another door's key."""
    if not header:
        return ""
    key = f"api:{header}"
    if len(key) <= MAX_KEY_LENGTH:
        return key
    return "api:sha256:" + hashlib.sha256(header.encode()).hexdigest()


def per_card(key: str, card_id: int) -> str:
    """The key of one card of a movement over several cards."""
    return f"{key}:{card_id}" if key else ""


def first_use(*, merchant: Merchant | int, key: str) -> Transaction | None:
    """The ledger row written under ``key``, if any."""
    if not key:
        return None
    merchant_id = merchant if isinstance(merchant, int) else merchant.pk
    return (
        Transaction.objects.filter(merchant_id=merchant_id, idempotency_key=key[:MAX_KEY_LENGTH])
        .select_related("gift_card")
        .first()
    )


def repeat_of(first: Transaction, *, same: bool) -> Transaction:
    """``first``, marked as a repeat, when it is the ``same`` movement asked for again;
    otherwise the refusal."""
    if not same:
        raise IdempotencyKeyReused(
            "This idempotency key was already used for another operation. Use a new key."
        )
    first.replayed = True
    return first


def is_key_clash(error: IntegrityError) -> bool:
    """Whether the database refused a second ledger row under one key (PostgreSQL names
    the index, SQLite the columns)."""
    text = str(error)
    return _INDEX in text or "giftcards_transaction.idempotency_key" in text

"""The till's confirmations, kept in the clerk's session from the confirm page to the
redemption (steps 2 and 3 of ``giftcards.views.till``).

A confirmation is a one-time token naming the merchant, the card, the amount and the
reference the clerk saw; it is good for ``TOKEN_TTL``. Once redeemed, the token names the
redemption, so the same confirmation posted again shows the same receipt. At most
``KEEP_TOKENS`` of each are kept per session, the oldest dropped first. That the token
spends once is not kept here: it is the redemption's idempotency key
(``giftcards.idempotency.till_key``), and the service makes sure of it.
"""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

PENDING_KEY = "till_pending"  # token -> the redemption the clerk is asked to confirm
DONE_KEY = "till_done"  # token -> public id of the transaction it produced
KEEP_TOKENS = 20
TOKEN_TTL = timedelta(minutes=15)
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,64}$")


@dataclass(frozen=True)
class Confirmation:
    """What the clerk confirmed: this amount off this card, with this reference."""

    amount: int
    reference: str


def is_token(token: str) -> bool:
    return bool(_TOKEN.match(token))


def confirmation_new(
    session: Any, *, merchant_id: int, card_public_id: str, amount: int, reference: str
) -> str:
    """Keep what the confirm page shows under a fresh token, and return the token."""
    token = secrets.token_urlsafe(24)
    _remember(
        session,
        PENDING_KEY,
        token,
        {
            "merchant": merchant_id,
            "card": card_public_id,
            "amount": amount,
            "reference": reference,
            "created": int(time.time()),
        },
    )
    return token


def confirmation_get(
    session: Any, token: str, *, merchant_id: int, card_public_id: str
) -> Confirmation | None:
    """The confirmation under ``token`` while fresh and for this merchant's card."""
    pending = session.get(PENDING_KEY, {}).get(token)
    if pending is None or time.time() - pending["created"] >= TOKEN_TTL.total_seconds():
        return None
    if pending["merchant"] != merchant_id or pending["card"] != card_public_id:
        return None
    return Confirmation(amount=int(pending["amount"]), reference=str(pending["reference"]))


def redeemed_as(session: Any, token: str) -> str | None:
    """The public id of the redemption this session made with ``token``, if any."""
    done: str | None = session.get(DONE_KEY, {}).get(token)
    return done or None


def confirmation_close(session: Any, token: str, *, redeemed: str | None = None) -> None:
    """The confirmation is used up; with ``redeemed``, remember the redemption it made."""
    _forget(session, PENDING_KEY, token)
    if redeemed is not None:
        _remember(session, DONE_KEY, token, redeemed)


def _remember(session: Any, key: str, token: str, value: Any) -> None:
    entries: dict[str, Any] = dict(session.get(key, {}))
    entries[token] = value
    # Dicts keep insertion order: drop the oldest beyond the cap.
    session[key] = dict(list(entries.items())[-KEEP_TOKENS:])


def _forget(session: Any, key: str, token: str) -> None:
    entries: dict[str, Any] = dict(session.get(key, {}))
    if entries.pop(token, None) is not None:
        session[key] = entries

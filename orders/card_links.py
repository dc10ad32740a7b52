"""Card links (``/gift/t/<token>/``): the one place that makes and checks their tokens.

A card link is the card itself: whoever holds it sees the code, as whoever holds the
message does. So it does not live for ever, and a newer message about the card, or the
card's claim into an account, replaces it. Its token is ``<public id>:<link version>``,
signed with the time it was made:

- it opens the card for ``CARD_LINK_MAX_AGE_DAYS`` days (``card_link_max_age``);
- it opens the card only while its version is the card's ``link_version``. Sending the
  card again or claiming it into a wallet raises that version (``card_links_revoke``,
  under the card's lock, in the service doing the resend or the claim), so every link
  made before stops working and only the newest message's link opens the card.

Links made before versions existed carry no version and count as version 0: they keep
working until the card is first sent again or claimed. Tokens are never logged.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings

from core.signing import TokenExpired, TokenInvalid, TokenSigner
from giftcards.models import GiftCard
from orders.exceptions import CardLinkExpired, CardLinkRefused, CardLinkRevoked

_TOKENS = TokenSigner(salt="orders.card-link")
_SEP = ":"


@dataclass(frozen=True)
class CardLink:
    """What a genuine, unexpired token names: a card, and the link version it was made
    with (not yet compared with the card's current one)."""

    public_id: str
    version: int


def card_link_max_age() -> timedelta:
    """How long a card link opens the card: the ``CARD_LINK_MAX_AGE_DAYS`` setting."""
    # Production refuses to start outside 1..3650 (config.settings.guards); elsewhere a
    # stray value is held to that range rather than breaking every card page.
    return timedelta(days=min(max(int(settings.CARD_LINK_MAX_AGE_DAYS), 1), 3650))


def card_link_token(card: GiftCard) -> str:
    """The token of the card's current link (its ``link_version`` as loaded)."""
    return _TOKENS.sign(f"{card.public_id}{_SEP}{card.link_version}")


def card_link_read(token: str) -> CardLink:
    """The card and version a token names. Refused (``CardLinkRefused``) when forged or
    altered, ``CardLinkExpired`` when older than ``card_link_max_age()``. Whether the
    version is still the card's is for ``card_link_check_current``."""
    try:
        value = _TOKENS.unsign(token, max_age=card_link_max_age())
    except TokenExpired:  # checked after the signature: a genuine old link
        raise CardLinkExpired(
            "Card links work for a limited time, and this one is too old to show the card."
        ) from None
    except TokenInvalid:
        raise _invalid() from None
    public_id, sep, version = value.partition(_SEP)
    if not sep:
        return CardLink(public_id=public_id, version=0)
    if not (version.isascii() and version.isdigit()):  # pragma: no cover - it was signed
        raise _invalid()
    return CardLink(public_id=public_id, version=int(version))


def card_link_check_current(*, card: GiftCard, link: CardLink) -> None:
    """Refuse (``CardLinkRevoked``) a link made before the card's links were revoked."""
    if card.public_id != link.public_id:
        raise _invalid()
    if card.link_version != link.version:
        raise CardLinkRevoked(
            "The card was sent again with a new link, or added to someone's account, so "
            "this older link no longer shows it."
        )


def card_link_card(*, token: str) -> GiftCard:
    """The card a link opens (its merchant loaded); refused when the link is forged,
    altered, expired or revoked, or names no card."""
    link = card_link_read(token)
    card = GiftCard.objects.select_related("merchant").filter(public_id=link.public_id).first()
    if card is None:
        raise _invalid()
    card_link_check_current(card=card, link=link)
    return card


def card_links_revoke(*, card: GiftCard) -> int:
    """Revoke every link made so far to ``card``; the new link version, which
    ``card_link_token(card)`` now carries.

    The caller holds the card's lock (``giftcards.services.giftcard_hold``) in its
    transaction: two revocations then count one after the other, and the last one's link
    is the only one that works."""
    card.link_version += 1
    GiftCard.objects.filter(merchant_id=card.merchant_id, pk=card.pk).update(
        link_version=card.link_version
    )
    return card.link_version


def card_links_reinstate(*, card: GiftCard, version: int) -> None:
    """Undo ``card_links_revoke`` within the same transaction and lock, when the new link
    went nowhere (its message was not sent): the links sent before stay the working ones."""
    card.link_version = version
    GiftCard.objects.filter(merchant_id=card.merchant_id, pk=card.pk).update(link_version=version)


def _invalid() -> CardLinkRefused:
    return CardLinkRefused(
        "This link does not open a gift card. Check that the whole link was copied from "
        "the message."
    )

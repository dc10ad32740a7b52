"""Every change of a wallet: cards added when an order is fulfilled, when they were sent to
one of the person's verified addresses, and when claimed with a code or a card link.

Adding is idempotent: a card already held by the person is left as it is. Claims hold
the card's row first (``giftcards.services.giftcard_hold``), so claims of one card are
decided one after the other; the database's unique constraints are the last word
should two ever race past that. A claim that adds the card revokes its card links under
that lock (``orders.card_links``): the link in an earlier message stops showing the code
of a card now kept in an account. A code is looked up through ``giftcards.lookups`` with
the same throttle as the public balance check (GC-5), and is never logged: only the
card's public id and last 4 are.
"""

from __future__ import annotations

from dataclasses import dataclass

import structlog
from django.db import IntegrityError, transaction
from django.db.models import Q

from accounts.models import User
from accounts.selectors import verified_emails
from giftcards.lookups import LookupClient, find_card_by_code
from giftcards.models import CardStatus, GiftCard
from giftcards.services import giftcard_hold
from orders.card_links import CardLink, card_link_check_current, card_link_read, card_links_revoke
from orders.exceptions import CardLinkExpired, CardLinkRefused
from orders.models import FulfilledCard, Order, OrderStatus
from wallet.exceptions import CardAlreadyClaimed, CardNotClaimable, InvalidCardLink
from wallet.models import RECIPIENT_SOURCES, WalletCard, WalletSource
from wallet.selectors import email_match

logger = structlog.get_logger(__name__)


@dataclass(frozen=True)
class ClaimResult:
    """The person's wallet entry for the card, and whether this claim added it."""

    wallet_card: WalletCard
    added: bool


def _add(user_id: int, cards: list[tuple[int, int]], source: str) -> int:
    """Add ``(card_id, merchant_id)`` pairs; held cards and taken recipient places are
    skipped by the constraints, so running this twice (or in parallel) adds nothing."""
    if not cards:
        return 0
    before = WalletCard.objects.filter(user_id=user_id).count()
    WalletCard.objects.bulk_create(
        [
            WalletCard(
                user_id=user_id, gift_card_id=card_id, merchant_id=merchant_id, source=source
            )
            for card_id, merchant_id in cards
        ],
        ignore_conflicts=True,
    )
    return WalletCard.objects.filter(user_id=user_id).count() - before


def wallet_add_bought(order: Order) -> int:
    """The cards of a fulfilled order, into its buyer's wallet when the buyer has an
    account. Returns how many were added."""
    if order.buyer_id is None or order.status != OrderStatus.FULFILLED:
        return 0
    cards = list(
        FulfilledCard.objects.filter(merchant_id=order.merchant_id, order=order)
        .order_by("pk")
        .values_list("gift_card_id", "merchant_id")
    )
    added = _add(order.buyer_id, cards, WalletSource.BOUGHT)
    if added:
        logger.info(
            "wallet_cards_bought", order=order.public_id, user_id=order.buyer_id, cards=added
        )
    return added


def wallet_add_bought_for_user(user: User) -> int:
    """Any card of the person's fulfilled orders not yet in their wallet: a safety net
    for a fulfilment whose wallet update did not run."""
    cards = list(
        FulfilledCard.objects.filter(order__buyer=user, order__status=OrderStatus.FULFILLED)
        .exclude(gift_card_id__in=WalletCard.objects.filter(user=user).values("gift_card_id"))
        .order_by("pk")
        .values_list("gift_card_id", "merchant_id")
    )
    added = _add(user.pk, cards, WalletSource.BOUGHT)
    if added:
        logger.info("wallet_cards_bought", user_id=user.pk, cards=added)
    return added


def wallet_receive_for_user(user: User) -> int:
    """Cards sent to one of the person's verified addresses appear as received, unless
    someone else already claimed them or they were voided. Returns how many were added."""
    emails = verified_emails(user)
    if not emails:
        return 0
    taken = WalletCard.objects.filter(source__in=RECIPIENT_SOURCES).values("gift_card_id")
    held = WalletCard.objects.filter(user=user).values("gift_card_id")
    cards = list(
        GiftCard.objects.filter(email_match("recipient_email", emails))
        .exclude(status=CardStatus.VOID)
        .exclude(pk__in=taken)
        .exclude(pk__in=held)
        .order_by("pk")
        .values_list("pk", "merchant_id")
    )
    added = _add(user.pk, cards, WalletSource.RECEIVED)
    if added:
        logger.info("wallet_cards_received", user_id=user.pk, cards=added)
    return added


def wallet_sync_for_user(user: User) -> None:
    """Everything that belongs in the person's wallet and is not there yet."""
    wallet_add_bought_for_user(user)
    wallet_receive_for_user(user)


def _claim(*, user: User, card: GiftCard, how: str, link: CardLink | None = None) -> ClaimResult:
    with transaction.atomic():
        # Claims of one card wait for each other here.
        locked = giftcard_hold(merchant=card.merchant, card_id=card.pk)
        if locked.status == CardStatus.VOID:
            raise CardNotClaimable(
                f"The card ending {locked.last4} has been cancelled and can no longer be used, "
                "so it cannot be added to your cards."
            )
        holders = list(
            WalletCard.objects.filter(gift_card=locked).filter(
                Q(user=user) | Q(source__in=RECIPIENT_SOURCES)
            )
        )
        mine = next((h for h in holders if h.user_id == user.pk), None)
        if mine is not None:
            return ClaimResult(wallet_card=mine, added=False)
        if holders:
            raise CardAlreadyClaimed(
                f"The card ending {locked.last4} is already in another account, so it cannot "
                "be added to yours. If it was meant for you, ask the person who sent it."
            )
        if link is not None:
            # Decided on the locked row: a resend or a claim that committed meanwhile
            # has revoked this link.
            try:
                card_link_check_current(card=locked, link=link)
            except CardLinkRefused:
                raise _link_refused(revoked=True) from None
        try:
            with transaction.atomic():
                entry = WalletCard.objects.create(
                    user=user,
                    gift_card=locked,
                    merchant_id=locked.merchant_id,
                    source=WalletSource.CLAIMED,
                )
        except IntegrityError:  # pragma: no cover - only when the lock is a no-op (SQLite)
            raise CardAlreadyClaimed(
                f"The card ending {locked.last4} is already in another account."
            ) from None
        card_links_revoke(card=locked)
    entry.gift_card = locked
    logger.info(
        "wallet_card_claimed",
        user_id=user.pk,
        card=locked.public_id,
        merchant_id=locked.merchant_id,
        how=how,
    )
    return ClaimResult(wallet_card=entry, added=True)


def wallet_claim_by_code(*, user: User, code: str, client: LookupClient) -> ClaimResult:
    """Claim the card with this code at ``client.merchant``. Throttled and counted like
    every code lookup: an unknown code is one more failure for the client
    (``CardNotFound``), and past the limit ``TooManyLookups`` comes before any lookup."""
    card = find_card_by_code(client=client, code=code)
    return _claim(user=user, card=card, how="code")


def wallet_claim_by_link(*, user: User, token: str) -> ClaimResult:
    """Claim the card of a recipient's card link (``/gift/t/<token>/``). The link must be
    genuine, unexpired and the card's current one (checked under the card's lock); a
    card already held by this person is theirs whatever the link."""
    try:
        link = card_link_read(token)
    except CardLinkExpired:
        raise _link_refused(expired=True) from None
    except CardLinkRefused:
        raise _link_refused() from None
    card = GiftCard.objects.select_related("merchant").filter(public_id=link.public_id).first()
    if card is None:
        raise _link_refused()
    return _claim(user=user, card=card, how="link", link=link)


def _link_refused(*, expired: bool = False, revoked: bool = False) -> InvalidCardLink:
    if revoked:
        return InvalidCardLink(
            "This card link has been replaced by a newer one. Open the newest message you "
            "received, or add the card with its code instead."
        )
    if expired:
        return InvalidCardLink("This card link has expired. Add the card with its code instead.")
    return InvalidCardLink(
        "This card link is not valid or has expired. Add the card with its code instead."
    )

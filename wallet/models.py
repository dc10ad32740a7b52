"""Which cards a person keeps in their wallet (SF-6), and how each got there.

A card has at most two holders: the buyer (``bought``) and one recipient, who either
received it (the card was sent to their verified email address) or claimed it (with its
code or its card link). The database enforces both limits, so two people claiming one
card at the same moment cannot both win. Rows belong to the person: deleting the
account deletes them (PR-1), while the cards and their ledgers stay as they are.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from giftcards.models import GiftCard
from merchants.models import Merchant


class WalletSource(models.TextChoices):
    BOUGHT = "bought", "Bought"
    RECEIVED = "received", "Received"
    CLAIMED = "claimed", "Claimed"


# The sources that make someone the card's recipient; a card has at most one.
RECIPIENT_SOURCES = (WalletSource.RECEIVED, WalletSource.CLAIMED)


class WalletCard(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="wallet_cards"
    )
    # The card's merchant, carried on the row itself like every row about a merchant's
    # data (SPEC "Scale").
    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="+")
    gift_card = models.ForeignKey(GiftCard, on_delete=models.PROTECT, related_name="+")
    source = models.CharField(max_length=16, choices=WalletSource.choices)
    added_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ("-added_at", "-id")
        constraints = [
            models.UniqueConstraint(fields=["user", "gift_card"], name="walletcard_user_card"),
            models.UniqueConstraint(
                fields=["gift_card"],
                condition=Q(source="bought"),
                name="walletcard_one_buyer",
            ),
            models.UniqueConstraint(
                fields=["gift_card"],
                condition=Q(source__in=["received", "claimed"]),
                name="walletcard_one_recipient",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.source} card {self.gift_card_id} of user {self.user_id}"

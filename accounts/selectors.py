"""Reads with rules about people's accounts."""

from __future__ import annotations

from allauth.account.models import EmailAddress

from accounts.models import User


def verified_emails(user: User) -> list[str]:
    """The addresses the person has proven they hold, lower-cased. Anything that hands a
    person something sent to an address (a merchant, a card, an order) asks this, never
    ``user.email`` alone: an unconfirmed address proves nothing."""
    return sorted(
        {
            address.lower()
            for address in EmailAddress.objects.filter(user=user, verified=True).values_list(
                "email", flat=True
            )
        }
    )

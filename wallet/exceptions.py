"""Refusals of wallet operations, each with a stable code."""

from core.errors import ConflictError, NotFoundError, UnprocessableError


class CardAlreadyClaimed(ConflictError):
    code = "card_already_claimed"
    title = "Card already claimed"


class CardNotClaimable(UnprocessableError):
    code = "card_not_claimable"
    title = "Card cannot be claimed"


class InvalidCardLink(NotFoundError):
    code = "invalid_card_link"
    title = "Card link not valid"

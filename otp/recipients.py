"""Where a one-time code goes: an email address or an E.164 phone number, normalised
(by ``core.contact``, as everywhere else) the same way when a code is asked for, when it
is checked and when an admin searches."""

from __future__ import annotations

from dataclasses import dataclass

from communications import masking
from core.contact import InvalidEmail, InvalidPhone, normalise_email, normalise_phone

EMAIL = "email"
SMS = "sms"


class InvalidRecipient(ValueError):
    """The text is neither an email address nor an international phone number."""


@dataclass(frozen=True)
class Address:
    kind: str  # "email" or "sms": which channel the address itself belongs to
    value: str

    @property
    def digest(self) -> str:
        """Keyed digest (the one the message log uses), to find codes without the address."""
        return masking.digest(self.kind, self.value)

    @property
    def masked(self) -> str:
        return masking.mask(self.kind, self.value)


def parse(text: str, *, kind: str | None = None) -> Address:
    """The normalised address in ``text``; ``kind`` insists on an email or a phone."""
    raw = (text or "").strip()
    guessed = EMAIL if "@" in raw else SMS
    if kind is not None and kind != guessed:
        raise InvalidRecipient(
            "Send an email address for the email channel."
            if kind == EMAIL
            else "Send a phone number in international format (e.g. +447700900123) for SMS."
        )
    if guessed == EMAIL:
        try:
            return Address(EMAIL, normalise_email(raw))
        except InvalidEmail:
            raise InvalidRecipient("That is not a valid email address.") from None
    try:
        return Address(SMS, normalise_phone(raw))
    except InvalidPhone:
        raise InvalidRecipient(
            "Send a phone number in international format (e.g. +447700900123) or an email address."
        ) from None

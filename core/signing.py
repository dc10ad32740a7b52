"""Signed tokens for links sent to people: one way to make them and check them.

Every token is made by ``django.core.signing`` (HMAC-SHA256 with ``SECRET_KEY``, and
``SECRET_KEY_FALLBACKS`` while a key is rotated) with a salt of its own per purpose, so
a token made for one purpose never opens another. Nothing here changes their format:
links already sent keep working.

A ``TokenSigner`` names the purpose (its salt) and how long its tokens live, and makes
tokens in the shape the link needs:

- ``sign`` / ``unsign``: ``<value>:<time>:<signature>``, the value readable in the token
  (a card link names its card);
- ``sign_detached`` / ``check_detached``: ``<time>:<signature>`` only, for links whose
  value is already in the URL (``/orders/<id>/?t=<token>``);
- ``dumps`` / ``loads``: a small JSON object (an invitation and its nonce).

Refusals are ``TokenInvalid`` (forged, altered, another purpose's, malformed) and its
subclass ``TokenExpired`` (genuine but older than the purpose allows), which a caller
may explain differently. Tokens are never logged.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.core import signing

_SEP = ":"


class TokenInvalid(Exception):
    """Not a token this purpose made: forged, altered, malformed or another purpose's."""


class TokenExpired(TokenInvalid):
    """A genuine token, older than its purpose allows."""


@dataclass(frozen=True)
class TokenSigner:
    """The tokens of one purpose. ``max_age`` (None: no limit) applies unless a call
    passes its own, e.g. one read from a setting at that moment."""

    salt: str
    max_age: timedelta | None = None

    def _signer(self) -> signing.TimestampSigner:
        return signing.TimestampSigner(salt=self.salt, sep=_SEP)

    def _age(self, max_age: timedelta | None) -> timedelta | None:
        return max_age if max_age is not None else self.max_age

    def sign(self, value: str) -> str:
        return self._signer().sign(value)

    def unsign(self, token: str, *, max_age: timedelta | None = None) -> str:
        """The value ``token`` carries; ``TokenExpired`` or ``TokenInvalid`` otherwise."""
        try:
            return self._signer().unsign(token, max_age=self._age(max_age))
        except signing.SignatureExpired:  # raised only once the signature is genuine
            raise TokenExpired("The token has expired.") from None
        except signing.BadSignature:
            raise TokenInvalid("The token is not valid.") from None

    def sign_detached(self, value: str) -> str:
        """A token for ``value`` that does not contain it."""
        return self.sign(value)[len(value) + len(_SEP) :]

    def check_detached(self, value: str, token: str, *, max_age: timedelta | None = None) -> bool:
        """Whether ``token`` was made by ``sign_detached(value)`` and has not expired."""
        if not token:
            return False
        try:
            self.unsign(f"{value}{_SEP}{token}", max_age=max_age)
        except TokenInvalid:
            return False
        return True

    def dumps(self, obj: Any) -> str:
        return signing.dumps(obj, salt=self.salt)

    def loads(self, token: str, *, max_age: timedelta | None = None) -> Any:
        """The object ``token`` carries; ``TokenExpired`` or ``TokenInvalid`` otherwise."""
        try:
            return signing.loads(token, salt=self.salt, max_age=self._age(max_age))
        except signing.SignatureExpired:
            raise TokenExpired("The token has expired.") from None
        except signing.BadSignature:
            raise TokenInvalid("The token is not valid.") from None

"""Gift card codes (GC-4).

A code is 15 random Crockford base32 symbols from ``secrets`` (75 bits) and one check
symbol, shown as ``XXXX-XXXX-XXXX-XXXX``. The check symbol is a Damm check over the
quasigroup ``x * y = a·x + y`` of GF(32) (``a`` = the field element ``x``, ``a`` ≠ 0, 1),
which is totally anti-symmetric: it catches every single-symbol substitution and every
swap of two adjacent symbols.

Input is normalised: case, spaces, dashes and dots are ignored; O reads as 0, I and L
as 1. Anything outside ASCII is refused, never folded. Codes are stored as an
HMAC-SHA256 digest for lookup and, separately, encrypted (Fernet) so that a card can be
re-sent; both keys derive from ``GIFTCARD_CODE_KEY``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_VALUE = {symbol: index for index, symbol in enumerate(ALPHABET)}
RANDOM_SYMBOLS = 15
CODE_LENGTH = RANDOM_SYMBOLS + 1
ENTROPY_BITS = RANDOM_SYMBOLS * 5
# ASCII only: Unicode case mapping turns some other letters into code symbols (the long s
# into "S", the dotless i into "I", the sharp s into "SS"), so look-alike text would
# reach a lookup.
_SEPARATORS = re.compile(r"[\s\-_.]+", re.ASCII)
_CONFUSABLE = str.maketrans({"O": "0", "I": "1", "L": "1"})
# x^5 + x^2 + 1, a primitive polynomial of GF(32).
_REDUCTION = 0b100101


class InvalidCode(ValueError):
    """The text cannot be a gift card code (wrong length, symbol or check)."""


def _times_a(value: int) -> int:
    shifted = value << 1
    if shifted & 0b100000:
        shifted ^= _REDUCTION
    return shifted


def _damm(values: list[int]) -> int:
    interim = 0
    for value in values:
        interim = _times_a(interim) ^ value
    return interim


def check_symbol(body: str) -> str:
    """The symbol that makes ``body + symbol`` pass the check."""
    return ALPHABET[_times_a(_damm([_VALUE[s] for s in body]))]


def is_valid(code: str) -> bool:
    """True when ``code`` (normalised) has the right length, alphabet and check symbol."""
    if len(code) != CODE_LENGTH or any(s not in _VALUE for s in code):
        return False
    return _damm([_VALUE[s] for s in code]) == 0


def generate() -> str:
    """A new normalised code: 15 random symbols and the check symbol."""
    body = "".join(secrets.choice(ALPHABET) for _ in range(RANDOM_SYMBOLS))
    return body + check_symbol(body)


def normalise(raw: str) -> str:
    """Canonical form of what a person typed, or InvalidCode. Only ASCII is accepted."""
    if not (raw or "").isascii():
        raise InvalidCode("That is not a valid gift card code.")
    cleaned = _SEPARATORS.sub("", raw or "").upper().translate(_CONFUSABLE)
    if not is_valid(cleaned):
        raise InvalidCode("That is not a valid gift card code.")
    return cleaned


def format_code(code: str) -> str:
    """``ABCDEFGHJKMNPQRS`` -> ``ABCD-EFGH-JKMN-PQRS``."""
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


def last4(code: str) -> str:
    return code[-4:]


def _derived_key(purpose: bytes) -> bytes:
    secret = settings.GIFTCARD_CODE_KEY.encode()
    if not secret:
        raise RuntimeError("GIFTCARD_CODE_KEY is not set")
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(secret)


@lru_cache(maxsize=4)
def _keys(secret: str) -> tuple[bytes, Fernet]:
    lookup = _derived_key(b"giftcard-code-lookup")
    fernet = Fernet(base64.urlsafe_b64encode(_derived_key(b"giftcard-code-encryption")))
    return lookup, fernet


def digest(code: str) -> str:
    """Keyed digest of a normalised code: what the database is searched by."""
    lookup_key, _ = _keys(settings.GIFTCARD_CODE_KEY)
    return hmac.new(lookup_key, code.encode(), hashlib.sha256).hexdigest()


def encrypt(code: str) -> str:
    _, fernet = _keys(settings.GIFTCARD_CODE_KEY)
    return fernet.encrypt(code.encode()).decode()


def decrypt(token: str) -> str:
    _, fernet = _keys(settings.GIFTCARD_CODE_KEY)
    try:
        return fernet.decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise InvalidCode("The stored code cannot be decrypted with the current key.") from exc


@dataclass(frozen=True)
class SealedCode:
    """Everything stored about a code; the plain code travels separately, once."""

    plain: str
    digest: str
    encrypted: str
    last4: str


def seal(code: str) -> SealedCode:
    return SealedCode(plain=code, digest=digest(code), encrypted=encrypt(code), last4=last4(code))

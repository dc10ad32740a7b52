"""How a one-time code is kept: HMAC-SHA256 under a key derived (HKDF) from
``SECRET_KEY`` for the code's purpose, over the row's public id and the code.

Binding the row's id means two rows with the same code have unrelated hashes; the
purpose-specific key means a hash made for one purpose can never check for another.
Six digits are a small space, so the key is what protects a leaked table.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from functools import lru_cache

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings


@lru_cache(maxsize=16)
def _key(secret: str, purpose: str) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=f"otp-code:{purpose}".encode()
    ).derive(secret.encode())


def generate(length: int) -> str:
    """``length`` digits, uniformly from ``secrets``, leading zeros kept."""
    return str(secrets.randbelow(10**length)).zfill(length)


def normalise(code: str) -> str:
    """What a person types: spaces and dashes are ignored."""
    return "".join(ch for ch in (code or "") if ch not in " -")


def code_hash(*, purpose: str, public_id: str, code: str) -> str:
    message = f"{public_id}:{code}".encode()
    return hmac.new(_key(settings.SECRET_KEY, purpose), message, hashlib.sha256).hexdigest()


def matches(*, purpose: str, public_id: str, code: str, stored_hash: str) -> bool:
    candidate = code_hash(purpose=purpose, public_id=public_id, code=normalise(code))
    return hmac.compare_digest(candidate, stored_hash)

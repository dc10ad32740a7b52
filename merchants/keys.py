"""API key format: ``gk_live_<prefix>_<secret>``, 10 + 40 characters from ``secrets``.

Keys carry about 238 bits of entropy, so an unsalted SHA-256 digest is safe to store
and fast to check (as with any high-entropy token; passwords are another matter).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import string

KEY_PREFIX = "gk_live_"
_ALNUM = string.ascii_letters + string.digits
_LOWER = string.ascii_lowercase + string.digits
_KEY_RE = re.compile(r"^gk_live_([a-z0-9]{10})_([A-Za-z0-9]{40})$")


def generate_key() -> tuple[str, str, str]:
    """Return ``(full_key, prefix, secret_hash)``."""
    prefix = "".join(secrets.choice(_LOWER) for _ in range(10))
    secret = "".join(secrets.choice(_ALNUM) for _ in range(40))
    return f"{KEY_PREFIX}{prefix}_{secret}", prefix, hash_secret(secret)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def parse_key(raw: str) -> tuple[str, str] | None:
    match = _KEY_RE.match(raw)
    if not match:
        return None
    return match.group(1), match.group(2)


def digest_matches(secret: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_secret(secret), stored_hash)

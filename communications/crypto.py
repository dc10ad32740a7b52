"""Encryption of a message between the moment it is rendered and the moment it is
handed to a provider: messages carry one-time codes and gift card codes, so the queued
copy in the database is encrypted and wiped once sent."""

from __future__ import annotations

import base64
import json
from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings


@lru_cache(maxsize=2)
def _fernet(secret: str) -> Fernet:
    key = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"communications-payload"
    ).derive(secret.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def seal(payload: dict[str, Any]) -> str:
    return _fernet(settings.SECRET_KEY).encrypt(json.dumps(payload).encode()).decode()


def unseal(token: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(_fernet(settings.SECRET_KEY).decrypt(token.encode()))
    return data

"""Start-up guards: production mode refuses to start on a weak or missing configuration.

Each failure names the environment variable to fix, so an operator reading a crash
log knows exactly what is wrong.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.core.exceptions import ImproperlyConfigured

MIN_SECRET_KEY_LENGTH = 50
_INSECURE_SECRET_PREFIXES = ("django-insecure", "dev-", "changeme", "insecure")


def production_problems(conf: Mapping[str, Any]) -> list[str]:
    """Return one message per unsafe setting in ``conf`` (a settings namespace)."""
    problems: list[str] = []
    secret = conf.get("SECRET_KEY") or ""
    if not secret:
        problems.append("SECRET_KEY is not set: set it to a random string of 50+ characters.")
    elif len(secret) < MIN_SECRET_KEY_LENGTH:
        problems.append(
            f"SECRET_KEY is too short ({len(secret)} characters): "
            f"use at least {MIN_SECRET_KEY_LENGTH} random characters."
        )
    elif secret.lower().startswith(_INSECURE_SECRET_PREFIXES) or len(set(secret)) < 5:
        problems.append("SECRET_KEY looks like a development placeholder: generate a new one.")

    hosts: Sequence[str] = conf.get("ALLOWED_HOSTS") or []
    if not hosts:
        problems.append("ALLOWED_HOSTS is not set: list the host names this site answers to.")
    elif "*" in hosts:
        problems.append("ALLOWED_HOSTS contains '*': list the real host names instead.")

    if conf.get("DEBUG"):
        problems.append("DEBUG is on: production mode must run with DEBUG=false.")

    code_key = conf.get("GIFTCARD_CODE_KEY") or ""
    if len(code_key) < 32:
        problems.append(
            "GIFTCARD_CODE_KEY is missing or shorter than 32 characters: it keys the "
            "digest and encryption of gift card codes; set a long random value."
        )

    problems += _payment_problems(conf)

    cors = conf.get("CORS_ALLOW_ALL_ORIGINS")
    if cors:
        problems.append(
            "CORS_ALLOW_ALL_ORIGINS is on: list allowed origins in CORS_ALLOWED_ORIGINS."
        )
    return problems


def _payment_problems(conf: Mapping[str, Any]) -> list[str]:
    provider = conf.get("PAYMENT_PROVIDER")
    if provider is None:  # a configuration without the orders app
        return []
    if provider == "test":
        if conf.get("PAYMENT_TEST_PROVIDER_ALLOWED"):
            return []
        return [
            "PAYMENT_PROVIDER is 'test': the test provider confirms payments without taking "
            "money. Set PAYMENT_PROVIDER=stripe with its keys, or PAYMENT_TEST_PROVIDER_ALLOWED="
            "true for a demo site."
        ]
    if provider == "stripe":
        missing = [
            name for name in ("STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET") if not conf.get(name)
        ]
        if missing:
            return [f"PAYMENT_PROVIDER is 'stripe' but {' and '.join(missing)} not set."]
        return []
    return [f"PAYMENT_PROVIDER is {provider!r}: use 'stripe' (or 'test' for a demo site)."]


def enforce_production_settings(conf: Mapping[str, Any]) -> None:
    problems = production_problems(conf)
    if problems:
        raise ImproperlyConfigured(
            "Refusing to start with an unsafe configuration:\n  - " + "\n  - ".join(problems)
        )

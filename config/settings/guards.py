"""Start-up guards: production mode refuses to start on a weak or missing configuration.

Each failure names the environment variable to fix, so an operator reading a crash
log knows exactly what is wrong.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured
from django.http.request import validate_host

MIN_SECRET_KEY_LENGTH = 50
MIN_CODE_KEY_LENGTH = 32

# The development profile (``local.py``) falls back to these keys, which are in the
# repository for anyone to read: production refuses them and anything that starts the same.
DEVELOPMENT_KEY_PREFIX = "local-development"
DEVELOPMENT_SECRET_KEY = DEVELOPMENT_KEY_PREFIX + "-only-" + "x" * 40
DEVELOPMENT_CODE_KEY = DEVELOPMENT_KEY_PREFIX + "-code-key-not-secret"

_PLACEHOLDER_PREFIXES = (
    "django-insecure",
    "dev-",
    "changeme",
    "insecure",
    "test-only",
    DEVELOPMENT_KEY_PREFIX,
)


def _is_placeholder(value: str) -> bool:
    """A committed, example or degenerate value rather than a random one."""
    if value in (DEVELOPMENT_SECRET_KEY, DEVELOPMENT_CODE_KEY):
        return True
    return value.strip().lower().startswith(_PLACEHOLDER_PREFIXES) or len(set(value)) < 5


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
    elif _is_placeholder(secret):
        problems.append("SECRET_KEY looks like a development placeholder: generate a new one.")

    hosts: Sequence[str] = conf.get("ALLOWED_HOSTS") or []
    if not hosts:
        problems.append("ALLOWED_HOSTS is not set: list the host names this site answers to.")
    elif "*" in hosts:
        problems.append("ALLOWED_HOSTS contains '*': list the real host names instead.")

    if conf.get("DEBUG"):
        problems.append("DEBUG is on: production mode must run with DEBUG=false.")

    code_key = conf.get("GIFTCARD_CODE_KEY") or ""
    if len(code_key) < MIN_CODE_KEY_LENGTH:
        problems.append(
            f"GIFTCARD_CODE_KEY is missing or shorter than {MIN_CODE_KEY_LENGTH} characters: "
            "it keys the digest and encryption of gift card codes; set a long random value."
        )
    elif _is_placeholder(code_key):
        problems.append(
            "GIFTCARD_CODE_KEY looks like a development placeholder: it keys the digest and "
            "encryption of gift card codes; set a long random value."
        )

    problems += _payment_problems(conf)
    problems += _lifetime_problems(conf)
    problems += _site_url_problems(conf)
    problems += _cache_problems(conf)
    problems += _delivery_problems(conf)

    cors = conf.get("CORS_ALLOW_ALL_ORIGINS")
    if cors:
        problems.append(
            "CORS_ALLOW_ALL_ORIGINS is on: list allowed origins in CORS_ALLOWED_ORIGINS."
        )
    return problems


def _site_url_problems(conf: Mapping[str, Any]) -> list[str]:
    """Every link the platform sends starts with SITE_URL: it must be this site, on HTTPS."""
    site = str(conf.get("SITE_URL") or "")
    parts = urlsplit(site)
    if parts.scheme != "https" or not parts.hostname:
        return [f"SITE_URL is {site!r}: set it to this site's public https:// address."]
    hosts: Sequence[str] = conf.get("ALLOWED_HOSTS") or []
    if hosts and not validate_host(parts.hostname, list(hosts)):
        return [
            f"SITE_URL's host {parts.hostname!r} is not in ALLOWED_HOSTS: links in emails "
            "and pages would point at a site that refuses them."
        ]
    return []


# Settings that are a number of days a link stays valid, with what each is for.
_LIFETIMES = {
    "CARD_LINK_MAX_AGE_DAYS": "a card link shows the card's code",
    "MERCHANT_INVITATION_DAYS": "an invitation to a merchant can be accepted",
}
MAX_LIFETIME_DAYS = 3650


def _lifetime_problems(conf: Mapping[str, Any]) -> list[str]:
    problems = []
    for name, purpose in _LIFETIMES.items():
        value = conf.get(name)
        if value is None:
            continue
        if not isinstance(value, int) or not 1 <= value <= MAX_LIFETIME_DAYS:
            problems.append(
                f"{name} is {value!r}: it is how many days {purpose}; use a whole number "
                f"from 1 to {MAX_LIFETIME_DAYS}."
            )
    return problems


# Caches every process shares, whose ``add`` and ``incr`` are atomic: the limits (code
# lookups, one-time codes, messages per hour) count in the cache.
SHARED_CACHE_BACKENDS = frozenset(
    {
        "django_redis.cache.RedisCache",
        "django.core.cache.backends.redis.RedisCache",
        "django.core.cache.backends.memcached.PyMemcacheCache",
        "django.core.cache.backends.memcached.PyLibMCCache",
    }
)


def _cache_problems(conf: Mapping[str, Any]) -> list[str]:
    caches = conf.get("CACHES") or {}
    backend = str(caches.get("default", {}).get("BACKEND", ""))
    if backend in SHARED_CACHE_BACKENDS:
        return []
    name = backend.rsplit(".", 1)[-1] or "Django's default"
    what = "REDIS_URL is not set" if not conf.get("REDIS_URL") else "CACHES is not shared"
    return [
        f"{what}: the cache is {name}, which each process keeps to itself or cannot count "
        "in atomically. The limits on code lookups, one-time codes and messages count in "
        "the cache, so each process would allow the whole limit on its own. Set REDIS_URL "
        "to a Redis server that every web and worker process shares."
    ]


def _delivery_problems(conf: Mapping[str, Any]) -> list[str]:
    limit = conf.get("COMMUNICATIONS_DELIVERY_TIME_LIMIT")
    timeout = conf.get("COMMUNICATIONS_CLAIM_TIMEOUT")
    if not isinstance(limit, int) or not isinstance(timeout, int):
        return []  # a configuration without the communications app
    if limit >= timeout:
        return [
            f"COMMUNICATIONS_CLAIM_TIMEOUT ({timeout} s) is not longer than "
            f"COMMUNICATIONS_DELIVERY_TIME_LIMIT ({limit} s): a message a live worker is still "
            "sending would be taken for a dead worker's and sent twice. Make the claim "
            "timeout longer than the time limit."
        ]
    return []


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

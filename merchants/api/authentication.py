"""``Authorization: Bearer gk_live_<prefix>_<secret>``: merchant API key authentication.

The prefix finds the row through a unique index; the secret is compared as a SHA-256
digest in constant time. ``last_used_at`` is written at most once a minute per key so
the hot path stays read-only.

Every API request needs its key and merchant, so each worker process keeps the row it
read for ``API_KEY_CACHE_SECONDS`` (default 5; 0 reads the database every time). The
row is the cached thing, never a model instance: each request builds its own objects
from it. A change to a key or a merchant saved through the ORM (revoking or expiring a
key, suspending a merchant) is forgotten at once in the process that made it; every
other worker stops using the old row within ``API_KEY_CACHE_SECONDS``. That is the
bound on how long a revoked key or a suspended merchant may still be answered. The
secret is checked against the digest on every request, cached row or not.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta
from functools import cache

from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from core.sql import RowMapper
from core.sql import cursor as sql_cursor
from merchants.keys import digest_matches, parse_key
from merchants.models import ApiKey, Merchant, MerchantStatus

LAST_USED_RESOLUTION = timedelta(minutes=1)

# Every API request runs this lookup, so its SQL is written once (see core.sql).
_keys = RowMapper(ApiKey)
_merchants = RowMapper(Merchant)


@cache
def _key_sql() -> str:
    # Built from model metadata only, never from input.
    return (
        f"SELECT {_keys.columns('k')}, {_merchants.columns('m')} "  # noqa: S608
        "FROM merchants_apikey k JOIN merchants_merchant m ON m.id = k.merchant_id "
        "WHERE k.prefix = %s LIMIT 1"
    )


# prefix -> (monotonic time it was read, the row). Bounded: cleared when it grows past
# _ROWS_MAX, which no real set of keys reaches within one cache period.
_rows: dict[str, tuple[float, tuple[object, ...]]] = {}
_ROWS_MAX = 4096


def forget_keys(prefix: str | None = None) -> None:
    """Drop this process's cached row for ``prefix`` (every row when ``None``)."""
    if prefix is None:
        _rows.clear()
    else:
        _rows.pop(prefix, None)


def _row(prefix: str) -> tuple[object, ...] | None:
    ttl: float = settings.API_KEY_CACHE_SECONDS
    now = time.monotonic()
    cached = _rows.get(prefix)
    if cached is not None and now - cached[0] < ttl:
        return cached[1]
    with sql_cursor() as cursor:
        cursor.execute(_key_sql(), [prefix])
        row: tuple[object, ...] | None = cursor.fetchone()
    if row is not None and ttl > 0:
        if len(_rows) >= _ROWS_MAX:
            _rows.clear()
        _rows[prefix] = (now, tuple(row))
    return row


def _remember_last_used(prefix: str, when: object) -> None:
    """Keep the cached row's ``last_used_at`` in step with the write just made, so the
    next requests do not write it again (the row's age is kept: the bound holds)."""
    cached = _rows.get(prefix)
    if cached is not None:
        row = list(cached[1])
        row[_keys.attnames.index("last_used_at")] = when
        _rows[prefix] = (cached[0], tuple(row))


def _key_with_merchant(prefix: str) -> ApiKey | None:
    row = _row(prefix)
    if row is None:
        return None
    key = _keys.load(row)
    ApiKey.merchant.field.set_cached_value(key, _merchants.load(row, len(_keys.fields)))
    return key


@dataclass(frozen=True)
class ApiClient:
    """The principal of an API request: a merchant acting through one of its keys."""

    api_key: ApiKey

    is_authenticated = True
    is_anonymous = False
    is_staff = False

    @property
    def merchant(self) -> Merchant:
        return self.api_key.merchant

    @property
    def pk(self) -> int:
        return self.api_key.pk

    def has_scope(self, scope: str) -> bool:
        scopes = self.api_key.scopes or []
        return not scopes or scope in scopes or scope.split(":", 1)[0] + ":*" in scopes

    def __str__(self) -> str:
        return f"api-key {self.api_key.display_prefix}"


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[ApiClient, ApiKey] | None:
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        scheme, _, credential = header.partition(" ")
        if scheme.lower() != "bearer" or not credential.strip():
            raise exceptions.AuthenticationFailed(
                "Send the API key as 'Authorization: Bearer <key>'."
            )
        parsed = parse_key(credential.strip())
        if parsed is None:
            raise exceptions.AuthenticationFailed("Invalid API key.")
        prefix, secret = parsed
        key = _key_with_merchant(prefix)
        if key is None or not digest_matches(secret, key.secret_hash):
            raise exceptions.AuthenticationFailed("Invalid API key.")
        now = timezone.now()
        if not key.is_usable(now):
            raise exceptions.AuthenticationFailed("This API key has been revoked or has expired.")
        if key.merchant.status != MerchantStatus.ACTIVE:
            raise exceptions.AuthenticationFailed("This merchant account is not active.")
        if key.last_used_at is None or now - key.last_used_at > LAST_USED_RESOLUTION:
            ApiKey.objects.filter(pk=key.pk).filter(
                Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_RESOLUTION)
            ).update(last_used_at=now)
            key.last_used_at = now
            _remember_last_used(prefix, now)
        return ApiClient(key), key

    def authenticate_header(self, request: Request) -> str:
        return f'{self.keyword} realm="api"'


__all__ = ["ApiClient", "ApiKeyAuthentication", "forget_keys"]

"""``Authorization: Bearer gk_live_<prefix>_<secret>``: merchant API key authentication.

The prefix finds the row through a unique index; the secret is compared as a SHA-256
digest in constant time. ``last_used_at`` is written at most once a minute per key so
the hot path stays read-only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from functools import cache

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


def _key_with_merchant(prefix: str) -> ApiKey | None:
    with sql_cursor() as cursor:
        cursor.execute(_key_sql(), [prefix])
        row = cursor.fetchone()
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
        return ApiClient(key), key

    def authenticate_header(self, request: Request) -> str:
        return f'{self.keyword} realm="api"'


__all__ = ["ApiClient", "ApiKeyAuthentication"]

"""Fixtures every test can use: people, merchants, staff at each role, a product, API clients."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import User
from giftcards.models import Product
from giftcards.tests.factories import ProductFactory
from merchants.models import Membership, Merchant, Role
from tests.factories import (
    PASSWORD,
    ApiKeyFactory,
    MembershipFactory,
    MerchantFactory,
    UserFactory,
)
from tests.smtp import Mailbox, running_smtp_server


@pytest.fixture(autouse=True)
def _clear_cache() -> None:
    from giftcards.api.render import _product_public_id
    from merchants.api.authentication import forget_keys

    cache.clear()
    forget_keys()
    # Rolled-back test transactions hand out ids again; production ids never repeat.
    _product_public_id.cache_clear()


@pytest.fixture
def redis_cache(settings: Any, request: pytest.FixtureRequest) -> Any:
    """The default cache on the real Redis (django-redis), as production has it, under a
    key prefix of this test's own; skipped where no Redis is configured."""
    import os

    from django.core.cache import caches

    url = os.environ.get("REDIS_URL")
    if not url:
        pytest.skip("REDIS_URL not set (CI sets it)")
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": url,
            "KEY_PREFIX": f"test-{os.getpid()}-{request.node.name}"[:120],
        }
    }
    backend = caches["default"]
    yield backend
    backend.clear()


@pytest.fixture
def smtp_server(settings: Any) -> Iterator[Mailbox]:
    """A real SMTP server on 127.0.0.1 that the email channel sends to."""
    with running_smtp_server(settings) as mailbox:
        yield mailbox


@pytest.fixture
def password() -> str:
    return PASSWORD


@pytest.fixture
def user(db: None) -> User:
    return UserFactory()


@pytest.fixture
def admin_user(db: None) -> User:
    return UserFactory(email="root@example.com", is_staff=True, is_superuser=True)


@pytest.fixture
def merchant(db: None) -> Merchant:
    return MerchantFactory(name="Bluebird Coffee", slug="bluebird")


@pytest.fixture
def other_merchant(db: None) -> Merchant:
    return MerchantFactory(name="Other Shop", slug="other-shop")


@pytest.fixture
def member_factory(db: None) -> Callable[..., Membership]:
    def make(merchant: Merchant, role: str = Role.OWNER, **user_kwargs: object) -> Membership:
        return MembershipFactory(merchant=merchant, role=role, user=UserFactory(**user_kwargs))

    return make


@pytest.fixture
def owner(merchant: Merchant, member_factory: Callable[..., Membership]) -> User:
    return member_factory(merchant, Role.OWNER).user


@pytest.fixture
def clerk(merchant: Merchant, member_factory: Callable[..., Membership]) -> User:
    return member_factory(merchant, Role.CLERK).user


@pytest.fixture
def owner_client(owner: User) -> Client:
    client = Client()
    client.force_login(owner)
    return client


@pytest.fixture
def product(merchant: Merchant) -> Product:
    """The merchant's "Coffee card", sold at €25 and €50."""
    return ProductFactory(merchant=merchant)


@pytest.fixture
def api_key(merchant: Merchant) -> str:
    return ApiKeyFactory(merchant=merchant).plaintext


@pytest.fixture
def api_client(api_key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key}")
    return client


@pytest.fixture
def other_api_client(other_merchant: Merchant) -> APIClient:
    client = APIClient()
    key = ApiKeyFactory(merchant=other_merchant, name="other").plaintext
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client

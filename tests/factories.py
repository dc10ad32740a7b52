"""factory-boy factories of people and tenants (accounts, merchants), for every app's tests.

They import only the bottom layers, so the tests of any app may use them. The factories of
the apps above (products and cards, orders) live with their app, in
``giftcards/tests/factories.py`` and ``orders/tests/factories.py``.
"""

from __future__ import annotations

from typing import Any

import factory
from allauth.account.models import EmailAddress

from accounts.models import User
from merchants.models import Membership, Merchant, Role
from merchants.services import CreatedApiKey, api_key_create

PASSWORD = "Correct-Horse-9!"


class UserFactory(factory.django.DjangoModelFactory[User]):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"person{n}@example.com")
    full_name = factory.Faker("name")

    @factory.post_generation
    def password(self, create: bool, extracted: str | None, **kwargs: Any) -> None:
        self.set_password(extracted or PASSWORD)
        if create:
            self.save()

    @factory.post_generation
    def verified(self, create: bool, extracted: bool | None, **kwargs: Any) -> None:
        if create and extracted is not False:
            EmailAddress.objects.create(user=self, email=self.email, verified=True, primary=True)


class MerchantFactory(factory.django.DjangoModelFactory[Merchant]):
    class Meta:
        model = Merchant

    name = factory.Sequence(lambda n: f"Shop {n}")
    slug = factory.Sequence(lambda n: f"shop-{n}")
    currency = "EUR"


class MembershipFactory(factory.django.DjangoModelFactory[Membership]):
    class Meta:
        model = Membership

    merchant = factory.SubFactory(MerchantFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.OWNER


class ApiKeyFactory(factory.Factory[CreatedApiKey]):
    """An API key made by ``api_key_create``, so its stored hash is the real one: the
    result carries the ``api_key`` row and the ``plaintext`` a client sends (every scope
    unless ``scopes`` is given)."""

    class Meta:
        model = CreatedApiKey

    merchant = factory.SubFactory(MerchantFactory)
    name = "tests"

    @classmethod
    def _create(cls, model_class: type[CreatedApiKey], *args: Any, **kwargs: Any) -> CreatedApiKey:
        return api_key_create(**kwargs)

    @classmethod
    def _build(cls, model_class: type[CreatedApiKey], *args: Any, **kwargs: Any) -> CreatedApiKey:
        raise TypeError("An API key exists only once api_key_create has stored its hash.")

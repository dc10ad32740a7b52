"""Every write about merchants, memberships and API keys."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from allauth.account.models import EmailAddress
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.text import slugify

from accounts.models import User
from merchants.exceptions import InvalidMerchantData, MerchantSlugTaken
from merchants.keys import generate_key
from merchants.models import ApiKey, Membership, Merchant, Role

API_SCOPES = (
    "cards:read",
    "cards:write",
    "cards:redeem",
    "otp:write",
)


@dataclass(frozen=True)
class CreatedMerchant:
    merchant: Merchant
    owner: User
    owner_created: bool


def _user_for_email(email: str) -> tuple[User, bool]:
    """Find the person by email, or create an account they finish with a password reset.
    The address counts as verified: the operator vouched for it."""
    email = User.objects.normalize_email(email).strip().lower()
    user = User.objects.filter(email__iexact=email).first()
    created = False
    if user is None:
        user = User.objects.create_user(email=email, password=None)
        created = True
    EmailAddress.objects.update_or_create(
        user=user, email=email, defaults={"verified": True, "primary": True}
    )
    return user, created


@transaction.atomic
def merchant_create(
    *, name: str, slug: str | None = None, currency: str = "EUR", owner_email: str
) -> CreatedMerchant:
    slug = slugify(slug or name)
    merchant = Merchant(name=name.strip(), slug=slug, currency=currency.upper())
    try:
        merchant.full_clean()
    except ValidationError as exc:
        if "slug" in exc.message_dict and Merchant.objects.filter(slug=slug).exists():
            raise MerchantSlugTaken(f"The address '{slug}' is already taken.") from exc
        raise InvalidMerchantData(
            "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in exc.message_dict.items())
        ) from exc
    try:
        with transaction.atomic():
            merchant.save()
    except IntegrityError as exc:  # lost a race for the slug
        raise MerchantSlugTaken(f"The address '{slug}' is already taken.") from exc
    owner, created = _user_for_email(owner_email)
    Membership.objects.create(merchant=merchant, user=owner, role=Role.OWNER)
    return CreatedMerchant(merchant=merchant, owner=owner, owner_created=created)


@transaction.atomic
def membership_set(*, merchant: Merchant, email: str, role: str) -> Membership:
    """Give the person at ``email`` the ``role`` at ``merchant`` (creating either)."""
    if role not in Role.values:
        raise InvalidMerchantData(f"Unknown role '{role}'. Use one of: {', '.join(Role.values)}.")
    user, _ = _user_for_email(email)
    membership, _ = Membership.objects.update_or_create(
        merchant=merchant, user=user, defaults={"role": role}
    )
    return membership


@dataclass(frozen=True)
class CreatedApiKey:
    api_key: ApiKey
    plaintext: str


def api_key_create(
    *,
    merchant: Merchant,
    name: str,
    scopes: list[str] | None = None,
    expires_at: datetime | None = None,
    actor: User | None = None,
) -> CreatedApiKey:
    scopes = sorted(set(scopes or API_SCOPES))
    unknown = [s for s in scopes if s not in API_SCOPES]
    if unknown:
        raise InvalidMerchantData(
            f"Unknown scope(s): {', '.join(unknown)}. Known: {', '.join(API_SCOPES)}."
        )
    plaintext, prefix, secret_hash = generate_key()
    api_key = ApiKey.objects.create(
        merchant=merchant,
        name=name.strip() or "API key",
        prefix=prefix,
        secret_hash=secret_hash,
        scopes=scopes,
        expires_at=expires_at,
        created_by=actor,
    )
    return CreatedApiKey(api_key=api_key, plaintext=plaintext)

"""Every write about merchants, memberships, invitations and API keys."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.utils.text import slugify

from accounts.models import User
from accounts.selectors import verified_emails
from core.contact import InvalidEmail, normalise_email
from core.signing import TokenInvalid, TokenSigner
from core.site import site_url
from merchants.exceptions import (
    InvalidInvitation,
    InvalidMerchantData,
    InvitationNotOpen,
    InvitationWrongAccount,
    MerchantSlugTaken,
)
from merchants.keys import generate_key
from merchants.models import (
    ROLE_RANK,
    ApiKey,
    Invitation,
    Membership,
    Merchant,
    Role,
)
from merchants.notifications import send_invitation

logger = structlog.get_logger(__name__)

API_SCOPES = (
    "cards:read",
    "cards:write",
    "cards:redeem",
    "otp:write",
)


@dataclass(frozen=True)
class CreatedMerchant:
    merchant: Merchant
    invitation: IssuedInvitation


@transaction.atomic
def merchant_create(
    *,
    name: str,
    slug: str | None = None,
    currency: str = "EUR",
    owner_email: str,
    actor: User | None = None,
) -> CreatedMerchant:
    """A new merchant, and an invitation for its owner.

    Nobody owns the merchant until the invitation is accepted by whoever proves they hold
    ``owner_email``: an account that merely claims the address (signed up, never
    confirmed) gains nothing."""
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
    invitation = invitation_send(merchant=merchant, email=owner_email, role=Role.OWNER, actor=actor)
    return CreatedMerchant(merchant=merchant, invitation=invitation)


# --- Invitations --------------------------------------------------------------------

# Open until the invitation itself closes (expiry, acceptance, revocation, resend).
_INVITATION_TOKENS = TokenSigner(salt="merchants.invitation")


@dataclass(frozen=True)
class IssuedInvitation:
    invitation: Invitation
    url: str
    # True when the invitation already existed and was sent again with a new link.
    resent: bool = False


def _normalise_email(email: str) -> str:
    try:
        return normalise_email(email)
    except InvalidEmail as exc:
        raise InvalidInvitation(f"'{email}' is not a valid email address.") from exc


def invitation_token(invitation: Invitation) -> str:
    """The token in the invitation's link: signed, naming the invitation and its current
    nonce, so a resend (new nonce) makes every earlier link useless."""
    return _INVITATION_TOKENS.dumps({"i": invitation.public_id, "n": invitation.nonce})


def invitation_url(invitation: Invitation) -> str:
    path = reverse("invitations:open", kwargs={"token": invitation_token(invitation)})
    return site_url() + path


def _account_for_invitation(email: str) -> None:
    """Where nobody has an account with ``email`` yet, make one with no usable password
    and the address taken on the inviter's word: nobody can sign in to it until the
    address's holder sets a password (from the invitation or a password reset). An
    existing account is left exactly as it is: it proves nothing by existing."""
    if User.objects.filter(email__iexact=email).exists():
        return
    try:
        with transaction.atomic():
            user = User.objects.create_user(email=email, password=None)
    except IntegrityError:  # created meanwhile by a sign-up: theirs to prove
        return
    EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)


@transaction.atomic
def invitation_send(
    *, merchant: Merchant, email: str, role: str, actor: User | None = None
) -> IssuedInvitation:
    """Invite the holder of ``email`` to ``merchant`` as ``role`` and email them the link.

    Inviting an address that already has an open invitation sends that one again with a
    new link (and the new role); the old link stops working."""
    if role not in Role.values:
        raise InvalidInvitation(f"Unknown role '{role}'. Use one of: {', '.join(Role.values)}.")
    email = _normalise_email(email)
    now = timezone.now()
    # Production refuses other values (config.settings.guards); elsewhere, held to 1..3650.
    days = min(max(int(settings.MERCHANT_INVITATION_DAYS), 1), 3650)
    expires_at = now + timedelta(days=days)
    _account_for_invitation(email)
    open_invitation = (
        Invitation.objects.select_for_update()
        .filter(merchant=merchant, email=email, accepted_at__isnull=True, revoked_at__isnull=True)
        .first()
    )
    resent = open_invitation is not None
    if open_invitation is None:
        try:
            with transaction.atomic():
                invitation = Invitation.objects.create(
                    merchant=merchant,
                    email=email,
                    role=role,
                    nonce=secrets.token_urlsafe(16),
                    invited_by=actor,
                    sent_at=now,
                    expires_at=expires_at,
                )
        except IntegrityError:  # a parallel invite of the same address won: send that one
            return invitation_send(merchant=merchant, email=email, role=role, actor=actor)
    else:
        invitation = open_invitation
        invitation.role = role
        invitation.nonce = secrets.token_urlsafe(16)
        invitation.invited_by = actor or invitation.invited_by
        invitation.sent_at = now
        invitation.expires_at = expires_at
        invitation.save(update_fields=["role", "nonce", "invited_by", "sent_at", "expires_at"])
    url = invitation_url(invitation)
    send_invitation(invitation, url=url)
    logger.info(
        "invitation_sent",
        merchant=merchant.slug,
        invitation=invitation.public_id,
        role=role,
        resent=resent,
    )
    return IssuedInvitation(invitation=invitation, url=url, resent=resent)


def invitation_resend(*, invitation: Invitation, actor: User | None = None) -> IssuedInvitation:
    """Send an open invitation again, with a new link and a new expiry."""
    if invitation.accepted_at is not None or invitation.revoked_at is not None:
        raise InvitationNotOpen(f"This invitation was {invitation.state}: invite them again.")
    return invitation_send(
        merchant=invitation.merchant, email=invitation.email, role=invitation.role, actor=actor
    )


@transaction.atomic
def invitation_revoke(*, invitation: Invitation, actor: User | None = None) -> Invitation:
    locked = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if locked.accepted_at is not None:
        raise InvitationNotOpen("This invitation was already accepted.")
    if locked.revoked_at is None:
        locked.revoked_at = timezone.now()
        locked.save(update_fields=["revoked_at"])
        logger.info(
            "invitation_revoked", invitation=locked.public_id, actor_id=getattr(actor, "pk", None)
        )
    return locked


def invitation_from_token(token: str) -> Invitation:
    """The invitation a link names, open or not; ``InvalidInvitation`` for a forged link or
    one an invitation's later resend replaced."""
    try:
        data = _INVITATION_TOKENS.loads(token)
    except TokenInvalid:
        raise InvalidInvitation("This invitation link is not valid.") from None
    if not isinstance(data, dict):
        raise InvalidInvitation("This invitation link is not valid.")
    invitation = (
        Invitation.objects.select_related("merchant").filter(public_id=str(data.get("i"))).first()
    )
    if invitation is None or not constant_time_compare(invitation.nonce, str(data.get("n"))):
        raise InvalidInvitation(
            "This invitation link was replaced by a newer one, or is not valid. Use the "
            "newest invitation email, or ask for the invitation to be sent again."
        )
    return invitation


def invitation_can_accept(*, invitation: Invitation, user: User) -> bool:
    """Whether ``user`` has proven they hold the invited address."""
    return invitation.email in verified_emails(user)


def _accept_locked(invitation: Invitation, user: User) -> Membership:
    now = timezone.now()
    if not invitation.is_open(now):
        raise InvitationNotOpen(closed_reason(invitation))
    membership = Membership.objects.filter(merchant=invitation.merchant, user=user).first()
    if membership is None:
        membership = Membership.objects.create(
            merchant=invitation.merchant, user=user, role=invitation.role
        )
    elif ROLE_RANK[invitation.role] > ROLE_RANK[membership.role]:
        membership.role = invitation.role
        membership.save(update_fields=["role"])
    invitation.accepted_at = now
    invitation.accepted_by = user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    logger.info(
        "invitation_accepted",
        merchant=invitation.merchant.slug,
        invitation=invitation.public_id,
        user_id=user.pk,
        role=membership.role,
    )
    return membership


def closed_reason(invitation: Invitation) -> str:
    state = invitation.state
    if state == "accepted":
        return "This invitation has already been used."
    if state == "withdrawn":
        return "This invitation was withdrawn."
    return "This invitation has expired: ask for it to be sent again."


def _lock(invitation: Invitation) -> Invitation:
    return Invitation.objects.select_for_update().select_related("merchant").get(pk=invitation.pk)


@transaction.atomic
def invitation_accept(*, invitation: Invitation, user: User) -> Membership:
    """``user`` takes up the invitation, which only works when one of their verified
    addresses is the invited one. Once only: a second acceptance is refused."""
    locked = _lock(invitation)
    if not invitation_can_accept(invitation=locked, user=user):
        raise InvitationWrongAccount(
            "This invitation is for another email address. Sign in with the invited "
            "address (after confirming it) to accept it."
        )
    return _accept_locked(locked, user)


def invitation_needs_password(invitation: Invitation) -> bool:
    """True when accepting from the link means setting the account's password: nobody has
    proven the address yet (no account, one without a usable password, or one whose
    address was never confirmed). Otherwise its holder signs in to accept."""
    user = User.objects.filter(email__iexact=invitation.email).first()
    if user is None or not user.has_usable_password():
        return True
    return invitation.email not in verified_emails(user)


@transaction.atomic
def invitation_accept_with_password(*, invitation: Invitation, password: str) -> Membership:
    """Accept from the link by choosing the account's password. Holding the link proves
    the address (it went only there), so the address becomes verified and any password
    set by someone who merely claimed it is replaced."""
    locked = _lock(invitation)
    if not locked.is_open():
        raise InvitationNotOpen(closed_reason(locked))
    if not invitation_needs_password(locked):
        raise InvitationWrongAccount(
            "This address already has a confirmed account: sign in to accept the invitation."
        )
    user = User.objects.select_for_update().filter(email__iexact=locked.email).first()
    if user is None:
        user = User.objects.create_user(email=locked.email, password=None)
    try:
        validate_password(password, user=user)
    except ValidationError as exc:
        raise InvalidInvitation(" ".join(exc.messages)) from exc
    user.set_password(password)
    user.save(update_fields=["password"])
    # Addresses a claimant added without proving them go; proven ones stay.
    EmailAddress.objects.filter(user=user, verified=False).exclude(
        email__iexact=locked.email
    ).delete()
    EmailAddress.objects.update_or_create(
        user=user, email=locked.email, defaults={"verified": True, "primary": True}
    )
    return _accept_locked(locked, user)


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

"""A merchant is handed only to whoever proves they hold the invited address."""

from __future__ import annotations

import re
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
import time_machine
from allauth.account.models import EmailAddress
from django.core import mail
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.utils import timezone

from accounts.models import User
from communications.models import CommunicationLog, Event
from merchants.models import Invitation, Membership, Merchant, Role
from merchants.services import invitation_send, merchant_create
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

ATTACKER_PASSWORD = "Mallory-Was-Here-1!"
OWNER_PASSWORD = "Rightful-Owner-77!"
LINK = re.compile(r"https?://[^/\s]+(/invitations/[^\s<\"]+/)")


def create_merchant(*extra: str) -> str:
    out = StringIO()
    call_command(
        "create_merchant",
        "initech",
        "--name",
        "Initech",
        "--owner-email",
        "owner@initech.example",
        *extra,
        stdout=out,
        stderr=StringIO(),
    )
    return out.getvalue()


def link_in(text: str) -> str:
    found = LINK.search(text)
    assert found, text
    return found.group(1)


def last_email_link() -> str:
    return link_in(mail.outbox[-1].body)


def signup(client: Client, email: str, password: str) -> None:
    response = client.post(
        "/accounts/signup/", {"email": email, "password1": password, "password2": password}
    )
    assert response.status_code == 302


def owners(slug: str = "initech") -> list[str]:
    return list(
        Membership.objects.filter(merchant__slug=slug, role=Role.OWNER).values_list(
            "user__email", flat=True
        )
    )


def test_an_unverified_signup_does_not_become_the_owner() -> None:
    attacker = Client()
    signup(attacker, "owner@initech.example", ATTACKER_PASSWORD)
    account = User.objects.get(email="owner@initech.example")

    create_merchant()

    assert owners() == []
    assert not EmailAddress.objects.get(user=account).verified
    # The claimant's password opens nothing: the address is still unproven.
    login = Client().post(
        "/accounts/login/", {"login": "owner@initech.example", "password": ATTACKER_PASSWORD}
    )
    assert login["Location"] == "/accounts/confirm-email/"
    assert Client().get("/m/initech/").status_code == 302


def test_the_address_holder_accepts_with_a_password_and_the_claimant_is_out() -> None:
    signup(Client(), "owner@initech.example", ATTACKER_PASSWORD)
    create_merchant()
    link = last_email_link()
    assert mail.outbox[-1].to == ["owner@initech.example"]

    owner = Client()
    page = owner.get(link)
    assert page.status_code == 200
    assert "Choose your password" in page.content.decode()
    assert page["Referrer-Policy"] == "same-origin"
    response = owner.post(link, {"password1": OWNER_PASSWORD, "password2": OWNER_PASSWORD})

    assert response.status_code == 302
    assert response["Location"] == "/m/initech/"
    assert owners() == ["owner@initech.example"]
    account = User.objects.get(email="owner@initech.example")
    assert account.check_password(OWNER_PASSWORD)
    assert not account.check_password(ATTACKER_PASSWORD)
    assert EmailAddress.objects.get(user=account).verified
    assert owner.get("/m/initech/").status_code == 200
    # Single use: the link is spent.
    again = Client().get(link)
    assert again.status_code == 410
    assert "already been used" in again.content.decode()


def test_a_new_address_gets_an_account_without_password_and_the_link(
    django_capture_on_commit_callbacks: Any,
) -> None:
    output = create_merchant()
    account = User.objects.get(email="owner@initech.example")
    assert not account.has_usable_password()
    assert EmailAddress.objects.get(user=account).verified  # the operator's word
    assert owners() == []
    # The operator sees the same link the email carries.
    assert link_in(output) == last_email_link()
    log = CommunicationLog.objects.get(event=Event.MERCHANT_INVITATION)
    assert log.merchant == Merchant.objects.get(slug="initech")
    assert "owner@initech.example" not in log.recipient_masked

    response = Client().post(
        last_email_link(), {"password1": OWNER_PASSWORD, "password2": OWNER_PASSWORD}
    )
    assert response.status_code == 302
    assert owners() == ["owner@initech.example"]


def test_a_confirmed_account_signs_in_to_accept(client: Client) -> None:
    person = UserFactory(email="owner@initech.example")
    before = person.password
    create_merchant()
    link = last_email_link()

    page = client.get(link)
    assert "Sign in to accept" in page.content.decode()
    # Holding the link is not a way to replace a confirmed account's password.
    refused = client.post(link, {"password1": OWNER_PASSWORD, "password2": OWNER_PASSWORD})
    assert refused.status_code == 403
    person.refresh_from_db()
    assert person.password == before
    assert owners() == []

    client.force_login(person)
    assert "Accept and join Initech" in client.get(link).content.decode()
    accepted = client.post(link)
    assert accepted.status_code == 302
    assert owners() == ["owner@initech.example"]


def test_someone_else_signed_in_cannot_accept(client: Client) -> None:
    create_merchant()
    link = last_email_link()
    stranger = UserFactory(email="stranger@example.com")
    client.force_login(stranger)
    page = client.get(link)
    assert "but this invitation is for owner@initech.example" in page.content.decode()
    refused = client.post(link)
    assert refused.status_code == 403
    assert owners() == []
    assert Invitation.objects.get().accepted_at is None


def test_an_unverified_address_on_a_signed_in_account_is_not_enough(client: Client) -> None:
    create_merchant()
    link = last_email_link()
    person = UserFactory(email="person@example.com")
    EmailAddress.objects.create(user=person, email="owner@initech.example", verified=False)
    client.force_login(person)
    assert client.post(link).status_code == 403
    assert owners() == []


def test_a_resend_replaces_the_link(capsys: Any) -> None:
    create_merchant()
    first = last_email_link()
    output = StringIO()
    call_command("create_merchant", "initech", "--resend", stdout=output, stderr=StringIO())
    second = link_in(output.getvalue())
    assert second == last_email_link() != first
    old = Client().get(first)
    assert old.status_code == 404
    assert "replaced by a newer one" in old.content.decode()
    assert Client().post(first, {"password1": OWNER_PASSWORD, "password2": OWNER_PASSWORD})
    assert owners() == []
    assert Client().get(second).status_code == 200


def test_resend_needs_an_open_invitation() -> None:
    Merchant.objects.create(name="Bare", slug="bare")
    with pytest.raises(CommandError, match="no open owner invitation"):
        call_command("create_merchant", "bare", "--resend", stdout=StringIO())
    with pytest.raises(CommandError, match="No merchant"):
        call_command("create_merchant", "nope", "--resend", stdout=StringIO())


def test_an_expired_link_changes_nothing() -> None:
    create_merchant()
    link = last_email_link()
    with time_machine.travel(timezone.now() + timedelta(days=8)):
        page = Client().get(link)
        assert page.status_code == 410
        assert "expired" in page.content.decode()
        Client().post(link, {"password1": OWNER_PASSWORD, "password2": OWNER_PASSWORD})
    assert owners() == []
    assert not User.objects.get(email="owner@initech.example").has_usable_password()


@pytest.mark.parametrize("token", ["nonsense", "a" * 500, "eyJpIjoiaW52XzEifQ:1abc:zzz"])
def test_a_forged_link_is_a_clear_404(token: str) -> None:
    create_merchant()
    response = Client().get(f"/invitations/{token}/")
    assert response.status_code == 404
    assert "not valid" in response.content.decode()


def test_a_weak_password_changes_nothing() -> None:
    signup(Client(), "owner@initech.example", ATTACKER_PASSWORD)
    create_merchant()
    link = last_email_link()
    account = User.objects.get(email="owner@initech.example")
    before = account.password

    for fields in (
        {"password1": "short", "password2": "short"},
        {"password1": OWNER_PASSWORD, "password2": OWNER_PASSWORD + "x"},
        {},
    ):
        response = Client().post(link, fields)
        assert response.status_code == 400
        assert 'class="errorlist' in response.content.decode()

    account.refresh_from_db()
    assert account.password == before
    assert not EmailAddress.objects.get(user=account).verified
    assert owners() == []
    assert Invitation.objects.get().accepted_at is None


def test_after_a_password_reset_the_invitation_waits_on_the_start_page(client: Client) -> None:
    create_merchant()
    account = User.objects.get(email="owner@initech.example")
    account.set_password(OWNER_PASSWORD)  # as a password reset would
    account.save()
    response = client.post(
        "/accounts/login/", {"login": "owner@initech.example", "password": OWNER_PASSWORD}
    )
    start = client.get(response["Location"])
    assert start["Location"] == "/m/"
    chooser = client.get("/m/").content.decode()
    assert "Initech" in chooser
    invitation = Invitation.objects.get()
    accepted = client.post(f"/invitations/accept/{invitation.public_id}/")
    assert accepted["Location"] == "/m/initech/"
    assert owners() == ["owner@initech.example"]


def test_accepting_by_id_needs_the_invited_address(client: Client) -> None:
    create_merchant()
    invitation = Invitation.objects.get()
    client.force_login(UserFactory(email="other@example.com"))
    assert client.post(f"/invitations/accept/{invitation.public_id}/").status_code == 404
    assert owners() == []


def test_inviting_again_resends_the_open_invitation_with_the_new_role(merchant: Merchant) -> None:
    first = invitation_send(merchant=merchant, email="Pat@Example.com", role=Role.CLERK)
    second = invitation_send(merchant=merchant, email="pat@example.com", role=Role.MANAGER)
    assert second.resent
    assert second.invitation.pk == first.invitation.pk
    assert Invitation.objects.get().role == Role.MANAGER
    assert Client().get(link_in(first.url)).status_code == 404


def test_an_accepted_invitation_never_lowers_a_role(merchant: Merchant) -> None:
    person = UserFactory(email="pat@example.com")
    Membership.objects.create(merchant=merchant, user=person, role=Role.OWNER)
    issued = invitation_send(merchant=merchant, email=person.email, role=Role.CLERK)
    client = Client()
    client.force_login(person)
    client.post(link_in(issued.url))
    assert Membership.objects.get(user=person).role == Role.OWNER


def test_merchant_create_refuses_a_bad_owner_address_and_changes_nothing() -> None:
    from merchants.exceptions import InvalidInvitation

    with pytest.raises(InvalidInvitation):
        merchant_create(name="Initech", slug="initech", owner_email="not an address")
    assert not Merchant.objects.exists()
    assert not Invitation.objects.exists()
    assert not User.objects.exists()
    assert mail.outbox == []


def test_the_admin_invites_the_owner_of_a_new_merchant(admin_user: User) -> None:
    client = Client()
    client.force_login(admin_user)
    response = client.post(
        "/admin/merchants/merchant/add/",
        {
            "name": "Initech",
            "slug": "initech",
            "currency": "EUR",
            "status": "active",
            "brand_colour": "#1f4f8a",
            "owner_email": "owner@initech.example",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert owners() == []
    assert Invitation.objects.get().role == Role.OWNER
    assert mail.outbox[-1].to == ["owner@initech.example"]


def test_the_admin_refuses_a_membership_for_an_unconfirmed_address(
    admin_user: User, merchant: Merchant
) -> None:
    claimant = UserFactory(email="claimant@example.com", verified=False)
    client = Client()
    client.force_login(admin_user)
    response = client.post(
        "/admin/merchants/membership/add/",
        {"merchant": merchant.pk, "user": claimant.pk, "role": Role.OWNER},
    )
    assert response.status_code == 200
    assert "has not confirmed their email address" in response.content.decode()
    assert not Membership.objects.exists()


def test_the_admin_can_invite_resend_and_withdraw(admin_user: User, merchant: Merchant) -> None:
    client = Client()
    client.force_login(admin_user)
    response = client.post(
        "/admin/merchants/invitation/add/",
        {"merchant": merchant.pk, "email": "pat@example.com", "role": Role.MANAGER},
    )
    assert response.status_code == 302
    invitation = Invitation.objects.get()
    first = last_email_link()
    client.post(
        "/admin/merchants/invitation/",
        {"action": "resend", "_selected_action": [invitation.pk]},
    )
    assert last_email_link() != first
    client.post(
        "/admin/merchants/invitation/",
        {"action": "withdraw", "_selected_action": [invitation.pk]},
    )
    invitation.refresh_from_db()
    assert invitation.revoked_at is not None
    gone = Client().post(last_email_link(), {"password1": PASSWORD, "password2": PASSWORD})
    assert gone.status_code == 410
    assert not Membership.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_parallel_acceptances_make_one_membership(settings: Any) -> None:
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        pytest.skip("needs PostgreSQL row locks")
    from tests.concurrency import in_threads

    merchant_create(name="Initech", slug="initech", owner_email="owner@initech.example")
    link = last_email_link()

    def accept(_: int) -> int:
        response = Client().post(link, {"password1": OWNER_PASSWORD, "password2": OWNER_PASSWORD})
        return response.status_code

    statuses = sorted(in_threads(6, accept))
    assert statuses.count(302) == 1
    assert set(statuses) - {302} <= {403, 409, 410}
    assert owners() == ["owner@initech.example"]
    assert Membership.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_parallel_invitations_of_one_address_leave_one_open(settings: Any) -> None:
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        pytest.skip("needs PostgreSQL row locks")
    from tests.concurrency import in_threads

    shop = Merchant.objects.create(name="Deli", slug="deli")
    in_threads(6, lambda _: invitation_send(merchant=shop, email="pat@example.com", role="clerk"))
    assert Invitation.objects.filter(merchant=shop).count() == 1
    assert User.objects.filter(email="pat@example.com").count() == 1

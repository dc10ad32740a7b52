"""Sign-up, verification, login by email, password rules and lockout (SE-1)."""

from __future__ import annotations

import re

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth.password_validation import validate_password
from django.core import mail
from django.core.exceptions import ValidationError
from django.test import Client

from accounts.models import User
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

STRONG = "Tulip-Garden-42!"


def signup(client: Client, email: str, password: str = STRONG, password2: str | None = None):
    return client.post(
        "/accounts/signup/",
        {"email": email, "password1": password, "password2": password2 or password},
    )


def test_signup_creates_an_unverified_user_and_sends_a_confirmation(client: Client) -> None:
    response = signup(client, "New.Person@Example.com")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/confirm-email/"
    user = User.objects.get()
    assert user.email == "new.person@example.com"
    assert not EmailAddress.objects.get(user=user).verified
    assert len(mail.outbox) == 1
    assert "confirm-email" in mail.outbox[0].body


def test_confirming_the_email_logs_the_user_in(client: Client) -> None:
    signup(client, "new@example.com")
    link = re.search(r"https?://[^/]+(/accounts/confirm-email/[^\s]+/)", mail.outbox[0].body)
    assert link
    page = client.get(link.group(1))
    assert page.status_code == 200
    response = client.post(link.group(1))
    assert response.status_code == 302
    assert EmailAddress.objects.get(email="new@example.com").verified
    assert client.get("/account/").status_code == 200


def test_an_unverified_user_cannot_sign_in(client: Client) -> None:
    signup(client, "new@example.com")
    Client().logout()
    fresh = Client()
    response = fresh.post("/accounts/login/", {"login": "new@example.com", "password": STRONG})
    assert response.status_code == 302
    assert response["Location"] == "/accounts/confirm-email/"
    assert fresh.get("/account/").status_code == 302


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("Ab1!", "too short"),
        ("alllowercase1!", "upper-case letter"),
        ("ALLUPPERCASE1!", "lower-case letter"),
        ("NoDigitsHere!", "a digit"),
        ("NoSymbols123", "a symbol"),
        ("Password1!", "too common"),
        ("12345678901", "entirely numeric"),
    ],
)
def test_weak_passwords_are_refused_with_a_clear_reason(
    client: Client, password: str, message: str
) -> None:
    response = signup(client, "new@example.com", password)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not User.objects.exists()
    assert mail.outbox == []


def test_mismatched_passwords_are_refused(client: Client) -> None:
    response = signup(client, "new@example.com", STRONG, "Other-Garden-42!")
    assert "You must type the same password each time" in response.content.decode()
    assert not User.objects.exists()


def test_duplicate_signup_changes_nothing_and_tells_the_owner(client: Client) -> None:
    existing = UserFactory(email="taken@example.com")
    before = existing.password
    response = signup(client, "TAKEN@example.com")
    assert response.status_code == 302
    page = client.get(response["Location"])
    assert "If this address already has an account" in page.content.decode()
    assert User.objects.count() == 1
    existing.refresh_from_db()
    assert existing.password == before
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["taken@example.com"]
    assert "already" in mail.outbox[0].body.lower()


def test_login_by_email_is_case_insensitive(client: Client) -> None:
    UserFactory(email="cas@example.com")
    response = client.post("/accounts/login/", {"login": "CAS@example.com", "password": PASSWORD})
    assert response.status_code == 302
    assert client.get("/account/").status_code == 200


def test_wrong_password_gets_a_clear_message(client: Client) -> None:
    UserFactory(email="cas@example.com")
    response = client.post("/accounts/login/", {"login": "cas@example.com", "password": "nope"})
    assert response.status_code == 200
    assert "The email address and/or password you specified are not correct." in (
        response.content.decode()
    )


def test_five_failures_lock_the_account_for_that_client(client: Client) -> None:
    UserFactory(email="cas@example.com")
    for _ in range(5):
        client.post("/accounts/login/", {"login": "cas@example.com", "password": "wrong"})
    locked = client.post("/accounts/login/", {"login": "cas@example.com", "password": PASSWORD})
    assert locked.status_code == 429
    assert "Sign-in paused" in locked.content.decode()
    assert "30 minutes" in locked.content.decode()
    assert locked["Retry-After"] == "1800"
    assert client.get("/account/").status_code == 302  # still signed out


def test_lockout_is_per_user_and_ip(client: Client) -> None:
    UserFactory(email="cas@example.com")
    UserFactory(email="bo@example.com")
    for _ in range(5):
        client.post("/accounts/login/", {"login": "cas@example.com", "password": "wrong"})
    other_user = client.post("/accounts/login/", {"login": "bo@example.com", "password": PASSWORD})
    assert other_user.status_code == 302
    other_ip = Client(REMOTE_ADDR="10.9.8.7")
    ok = other_ip.post("/accounts/login/", {"login": "cas@example.com", "password": PASSWORD})
    assert ok.status_code == 302


def test_lockout_covers_the_admin_login(client: Client) -> None:
    UserFactory(email="root@example.com", is_staff=True, is_superuser=True)
    for _ in range(5):
        client.post("/admin/login/", {"username": "root@example.com", "password": "wrong"})
    locked = client.post("/admin/login/", {"username": "root@example.com", "password": PASSWORD})
    assert locked.status_code == 429


def test_password_reset_sends_a_link_to_a_known_address_only(client: Client) -> None:
    UserFactory(email="cas@example.com")
    client.post("/accounts/password/reset/", {"email": "cas@example.com"})
    client.post("/accounts/password/reset/", {"email": "nobody@example.com"})
    known = [m for m in mail.outbox if m.to == ["cas@example.com"]]
    assert len(known) == 1
    assert "/accounts/password/reset/key/" in known[0].body


def test_logout_needs_a_post(client: Client) -> None:
    user = UserFactory()
    client.force_login(user)
    client.post("/accounts/logout/")
    assert client.get("/account/").status_code == 302


def test_validators_accept_a_strong_password() -> None:
    validate_password(STRONG)
    with pytest.raises(ValidationError):
        validate_password("weak")


def test_user_manager_normalises_and_requires_email() -> None:
    user = User.objects.create_user("Mixed@Example.COM", password=STRONG)
    assert user.email == "mixed@example.com"
    assert user.check_password(STRONG)
    with pytest.raises(ValueError, match="email address is required"):
        User.objects.create_user("", password=STRONG)
    admin = User.objects.create_superuser("boss@example.com", password=STRONG)
    assert admin.is_staff
    assert admin.is_superuser
    with pytest.raises(ValueError, match="is_staff"):
        User.objects.create_superuser("x@example.com", password=STRONG, is_staff=False)
    assert str(user) == "mixed@example.com"
    assert user.get_short_name() == "mixed@example.com"


def test_emails_are_unique_regardless_of_case() -> None:
    User.objects.create_user("a@example.com")
    with pytest.raises(ValidationError):
        User.objects.create_user("A@EXAMPLE.com")


def _signup_page(email: str) -> tuple[str, list[str]]:
    from django.contrib.messages import get_messages

    fresh = Client()
    response = signup(fresh, email)
    said = [str(m).replace(email, "<address>") for m in get_messages(response.wsgi_request)]
    return response["Location"], said


def test_signup_answers_a_known_and_an_unknown_address_alike() -> None:
    """A known address whose mail is limited this hour must not show a warning that an
    unknown address would not: that would reveal the account."""
    from communications.models import CommunicationLog, Event, MessageStatus
    from communications.services import Recipient, send, settings_update

    settings_update(actor=None, per_recipient_hourly_limit=1)
    UserFactory(email="known@example.com")
    send(Event.PASSWORD_CHANGED, Recipient(email="known@example.com"), {"user_email": "x"})

    known = _signup_page("known@example.com")
    unknown = _signup_page("unknown@example.com")

    assert CommunicationLog.objects.filter(
        event=Event.ACCOUNT_ALREADY_EXISTS, status=MessageStatus.RATE_LIMITED
    ).exists()
    assert known == unknown
    assert not any("could not send" in m for m in known[1])

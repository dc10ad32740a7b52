"""Sign-in brakes behind a proxy count the address our proxy saw, never one the client
wrote, and one address's flood never stops anyone else."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

PROXY = "10.0.0.2"


def behind_proxy(client_address: str, spoofed: str = "") -> Client:
    """A browser at ``client_address`` reaching us through one proxy, which appends the
    address it saw to whatever X-Forwarded-For the client sent."""
    header = f"{spoofed}, {client_address}" if spoofed else client_address
    return Client(REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=header)


def sign_in(client: Client, email: str, password: str) -> Any:
    return client.post("/accounts/login/", {"login": email, "password": password})


@pytest.fixture(autouse=True)
def one_proxy(settings: Any) -> None:
    settings.TRUSTED_PROXY_COUNT = 1


def test_rotating_the_left_most_entry_does_not_dodge_the_lockout() -> None:
    UserFactory(email="cas@example.com")
    for attempt in range(5):
        sign_in(behind_proxy("203.0.113.5", f"198.51.100.{attempt}"), "cas@example.com", "wrong")
    locked = sign_in(behind_proxy("203.0.113.5", "198.51.100.99"), "cas@example.com", PASSWORD)
    assert locked.status_code == 429


def test_the_lockout_is_per_account_and_true_address() -> None:
    UserFactory(email="cas@example.com")
    for _ in range(5):
        sign_in(behind_proxy("203.0.113.5"), "cas@example.com", "wrong")
    assert sign_in(behind_proxy("203.0.113.5"), "cas@example.com", PASSWORD).status_code == 429
    # The same account from another true address, even one that claims to be the locked
    # address in the part of the header the client writes, signs in.
    elsewhere = sign_in(behind_proxy("192.0.2.44", "203.0.113.5"), "cas@example.com", PASSWORD)
    assert elsewhere.status_code == 302


def test_a_flood_of_made_up_emails_from_one_address_stops_nobody_else() -> None:
    UserFactory(email="bo@example.com")
    flood = behind_proxy("203.0.113.5")
    answers = [sign_in(flood, f"nobody{n}@example.com", "wrong").status_code for n in range(30)]
    assert 200 in answers  # the flood is answered (form errors, then the rate limit)
    ok = behind_proxy("192.0.2.44")
    assert sign_in(ok, "bo@example.com", PASSWORD).status_code == 302
    assert ok.get("/account/").status_code == 200


def test_the_flooding_address_is_slowed_down() -> None:
    UserFactory(email="bo@example.com")
    flood = behind_proxy("203.0.113.5")
    for n in range(25):
        sign_in(flood, f"nobody{n}@example.com", "wrong")
    # Rotating what the client writes does not reset allauth's brake either.
    late = sign_in(behind_proxy("203.0.113.5", "1.2.3.4"), "nobody99@example.com", "wrong")
    assert "Too many failed login attempts" in late.content.decode()

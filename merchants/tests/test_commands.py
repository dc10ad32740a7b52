"""The operator commands of API.md, exactly as documented."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from rest_framework.test import APIClient

from accounts.models import User
from merchants.models import ApiKey, Invitation, Membership, Merchant

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_create_merchant_creates_the_merchant_and_invites_its_owner() -> None:
    output = run(
        "create_merchant",
        "corner-deli",
        "--name",
        "Corner Deli",
        "--owner-email",
        "Dee@Example.com",
    )
    merchant = Merchant.objects.get(slug="corner-deli")
    owner = User.objects.get(email="dee@example.com")
    # The owner is invited; the membership comes when they accept.
    assert not Membership.objects.filter(merchant=merchant).exists()
    assert Invitation.objects.get(merchant=merchant).email == "dee@example.com"
    assert "Corner Deli" in output
    assert output.strip().splitlines()[-1].startswith("http")
    assert not owner.has_usable_password()


def test_create_merchant_refuses_a_taken_slug_and_changes_nothing() -> None:
    run("create_merchant", "deli", "--name", "Deli", "--owner-email", "a@example.com")
    with pytest.raises(CommandError, match="already taken"):
        run("create_merchant", "deli", "--name", "Deli 2", "--owner-email", "b@example.com")
    assert Merchant.objects.count() == 1
    assert not User.objects.filter(email="b@example.com").exists()


def test_create_api_key_prints_a_working_key_alone_on_the_last_line(merchant: Merchant) -> None:
    output = run(
        "create_api_key", merchant.slug, "--name", "POS", "--scopes", "cards:read", "cards:redeem"
    )
    key = output.strip().splitlines()[-1]
    assert key.startswith("gk_live_")
    assert " " not in key
    row = ApiKey.objects.get()
    assert row.name == "POS"
    assert row.scopes == ["cards:read", "cards:redeem"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    assert client.get("/api/v1/merchant/").status_code == 200


def test_create_api_key_refuses_unknown_merchants_and_scopes(merchant: Merchant) -> None:
    with pytest.raises(CommandError, match="No merchant"):
        run("create_api_key", "nope")
    with pytest.raises(CommandError, match="Unknown scope"):
        run("create_api_key", merchant.slug, "--scopes", "root")
    assert not ApiKey.objects.exists()


def test_seed_demo_is_idempotent_and_prints_logins() -> None:
    first = run("seed_demo")
    counts = (User.objects.count(), Merchant.objects.count(), Membership.objects.count())
    second = run("seed_demo")
    assert counts == (User.objects.count(), Merchant.objects.count(), Membership.objects.count())
    assert counts[1] == 2
    for login in ("admin@example.com", "owner@bluebird.example", "customer@example.com"):
        assert login in first
        assert login in second
    admin = User.objects.get(email="admin@example.com")
    assert admin.is_staff
    assert admin.is_superuser


def test_seed_demo_refuses_production_without_the_flag(settings) -> None:
    settings.DEMO_DATA_ALLOWED = False
    with pytest.raises(CommandError, match="well-known passwords"):
        run("seed_demo")

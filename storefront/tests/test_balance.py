"""The public balance check (SF-7): answers by code, shows only the last 4, and is
throttled per visitor and per merchant like every other code lookup (GC-5)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from pytest_django.fixtures import Settings

from giftcards import codes, services
from giftcards.models import FailedCodeLookup, LookupChannel
from giftcards.tests.factories import IssuedCardFactory
from merchants.models import Merchant

pytestmark = pytest.mark.django_db


def url(merchant: Merchant) -> str:
    return f"/s/{merchant.slug}/balance/"


def unknown_code() -> str:
    return codes.generate()  # well formed, with a valid check symbol, matching no card


def test_the_page_offers_a_form_that_posts(client: Client, merchant: Merchant) -> None:
    response = client.get(url(merchant))

    assert response.status_code == 200
    page = response.content.decode()
    assert 'method="post"' in page
    assert 'name="csrfmiddlewaretoken"' in page
    assert '<label for="id_code">Gift card code</label>' in page
    assert "no-store" in response["Cache-Control"]


def test_a_card_shows_its_balance_and_expiry_but_never_its_code(
    client: Client, merchant: Merchant
) -> None:
    expires = timezone.now() + timedelta(days=400)
    issued = IssuedCardFactory(merchant=merchant, amount=4250, currency="EUR", expires_at=expires)

    response = client.post(url(merchant), {"code": issued.formatted_code.lower()})

    assert response.status_code == 200
    page = response.content.decode()
    assert "€42.50" in page
    assert f"Card ending {issued.card.last4}" in page
    assert expires.strftime("%-d %B %Y") in page
    squashed = re.sub(r"[^A-Z0-9]", "", page.upper())
    assert issued.code not in squashed  # neither whole nor with its dashes
    assert issued.formatted_code.lower() not in page
    assert "no-store" in response["Cache-Control"]
    assert not FailedCodeLookup.objects.exists()


def test_a_spent_card_says_so(client: Client, merchant: Merchant) -> None:
    issued = IssuedCardFactory(merchant=merchant, amount=1000, currency="EUR")
    services.giftcard_redeem(merchant=merchant, card_id=issued.card.pk, amount=1000, currency="EUR")

    page = client.post(url(merchant), {"code": issued.code}).content.decode()

    assert "€0.00" in page
    assert "spent in full" in page


def test_an_unknown_code_is_refused_and_counted(client: Client, merchant: Merchant) -> None:
    code = unknown_code()

    response = client.post(url(merchant), {"code": code})

    assert response.status_code == 404
    page = response.content.decode()
    assert "No Bluebird Coffee gift card has this code" in page
    assert code not in page.upper()
    failure = FailedCodeLookup.objects.get()
    assert failure.merchant == merchant
    assert failure.channel == LookupChannel.STOREFRONT
    assert failure.ip_address == "127.0.0.1"


def test_a_typo_is_caught_without_a_lookup(client: Client, merchant: Merchant) -> None:
    code = unknown_code()
    typo = code[:-1] + ("0" if code[-1] != "0" else "1")

    response = client.post(url(merchant), {"code": typo})

    assert response.status_code == 422
    assert "check it for typos" in response.content.decode()
    assert not FailedCodeLookup.objects.exists()


def test_another_merchants_card_is_not_found_here(
    client: Client, merchant: Merchant, other_merchant: Merchant
) -> None:
    theirs = IssuedCardFactory(merchant=other_merchant, amount=1000, currency="EUR")

    response = client.post(url(merchant), {"code": theirs.code})

    assert response.status_code == 404
    assert "€10.00" not in response.content.decode()
    # Counted against this storefront; their card is untouched.
    assert FailedCodeLookup.objects.get().merchant == merchant
    theirs.card.refresh_from_db()
    assert theirs.card.balance == 1000


def test_after_the_limit_a_visitor_gets_429_even_for_a_real_code(
    client: Client, merchant: Merchant, settings: Settings
) -> None:
    settings.GIFTCARD_LOOKUP_FAILURES_PER_CLIENT = 3
    settings.GIFTCARD_LOOKUP_WINDOW_SECONDS = 600
    real = IssuedCardFactory(merchant=merchant, amount=1000, currency="EUR")
    for _ in range(3):
        assert client.post(url(merchant), {"code": unknown_code()}).status_code == 404
    assert FailedCodeLookup.objects.filter(merchant=merchant).count() == 3

    response = client.post(url(merchant), {"code": real.code})

    assert response.status_code == 429
    page = response.content.decode()
    assert re.search(r"Too many attempts, try again in \d+ minutes?", page)
    assert "€10.00" not in page
    assert 1 <= int(response["Retry-After"]) <= 600
    assert "no-store" in response["Cache-Control"]
    # Refused before any lookup: nothing more is recorded.
    assert FailedCodeLookup.objects.filter(merchant=merchant).count() == 3


def test_guessing_from_many_addresses_trips_the_merchant_limit(
    client: Client, merchant: Merchant, settings: Settings
) -> None:
    settings.GIFTCARD_LOOKUP_FAILURES_PER_CLIENT = 100
    settings.GIFTCARD_LOOKUP_FAILURES_PER_MERCHANT = 4
    for n in range(4):
        client.post(url(merchant), {"code": unknown_code()}, REMOTE_ADDR=f"10.1.0.{n}")

    response = client.post(url(merchant), {"code": unknown_code()}, REMOTE_ADDR="10.9.9.9")

    assert response.status_code == 429
    assert FailedCodeLookup.objects.count() == 4  # refused before any lookup


def test_the_limit_of_one_merchant_does_not_close_another(
    client: Client, merchant: Merchant, other_merchant: Merchant, settings: Settings
) -> None:
    settings.GIFTCARD_LOOKUP_FAILURES_PER_MERCHANT = 2
    settings.GIFTCARD_LOOKUP_FAILURES_PER_CLIENT = 100
    for _ in range(2):
        client.post(url(merchant), {"code": unknown_code()})
    theirs = IssuedCardFactory(merchant=other_merchant, amount=700, currency="EUR")

    assert client.post(url(merchant), {"code": unknown_code()}).status_code == 429
    assert FailedCodeLookup.objects.count() == 2
    assert client.post(url(other_merchant), {"code": theirs.code}).status_code == 200
    assert FailedCodeLookup.objects.count() == 2


def test_an_empty_code_is_asked_for(client: Client, merchant: Merchant) -> None:
    response = client.post(url(merchant), {"code": ""})

    assert response.status_code == 422
    page = response.content.decode()
    assert "Enter the code on your gift card." in page
    assert 'href="#id_code"' in page  # the error summary links to the field
    assert not FailedCodeLookup.objects.exists()
    assert 'aria-invalid="true"' in page
    assert "autofocus" in page


def test_the_balance_check_needs_the_csrf_token(merchant: Merchant) -> None:
    strict = Client(enforce_csrf_checks=True)
    assert strict.post(url(merchant), {"code": unknown_code()}).status_code == 403
    assert not FailedCodeLookup.objects.exists()

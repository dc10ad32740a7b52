"""The till: look a card up by code, redeem part of it once, print the receipt. Every
refusal changes nothing, and the code never comes back in a page."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection, connections
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from giftcards import codes, services
from giftcards.models import FailedCodeLookup, GiftCard, Transaction, TransactionKind
from giftcards.tests.helpers import issue, ledger_sum, snapshot
from merchants.models import Membership, Merchant, Role

pytestmark = pytest.mark.django_db

TOKEN = re.compile(r'name="token" value="([^"]+)"')


def url(merchant: Merchant, name: str, *args: str) -> str:
    return reverse(f"giftcards:{name}", args=[merchant.slug, *args])


@pytest.fixture
def clerk_client(clerk: User) -> Client:
    client = Client()
    client.force_login(clerk)
    return client


@pytest.fixture
def issued(merchant: Merchant, owner: User) -> services.IssuedCard:
    return issue(merchant, 5000, actor=owner, expires_at=timezone.now() + timedelta(days=400))


def html(response: Any) -> str:
    return response.content.decode()


def assert_no_code(response: Any, code: str) -> None:
    """Neither the code nor any more of it than its last 4 symbols is in the page."""
    page = html(response).upper()
    for secret in (code, codes.format_code(code), code[:-4], codes.format_code(code)[:-5]):
        assert secret not in page


def lookup(client: Client, merchant: Merchant, code: str) -> Any:
    return client.post(url(merchant, "till"), {"code": code})


def enter_amount(
    client: Client, merchant: Merchant, card: GiftCard, amount: str, reference: str = ""
) -> Any:
    return client.post(
        url(merchant, "till-amount"),
        {"card": card.public_id, "amount": amount, "reference": reference},
    )


def confirm_token(response: Any) -> str:
    match = TOKEN.search(html(response))
    assert match, "no confirm form in the page"
    return match.group(1)


def redeem(client: Client, merchant: Merchant, card: GiftCard, token: str, **extra: Any) -> Any:
    return client.post(
        url(merchant, "till-redeem"), {"card": card.public_id, "token": token}, **extra
    )


# --- The happy path --------------------------------------------------------------------


def test_clerk_looks_up_redeems_part_and_gets_a_receipt(
    clerk_client: Client, clerk: User, merchant: Merchant, issued: services.IssuedCard
) -> None:
    card = issued.card
    start = clerk_client.get(url(merchant, "till"))
    assert start.status_code == 200
    assert "Gift card code" in html(start)

    # Scanners and people type codes in every shape: lower case, spaces, no dashes.
    typed = " ".join(issued.code[i : i + 4] for i in range(0, 16, 4)).lower()
    found = lookup(clerk_client, merchant, typed)
    assert found.status_code == 200
    page = html(found)
    assert f"Card …{card.last4}" in page
    assert card.masked_code in page
    assert "€50.00" in page
    assert "Active" in page
    assert card.expires_at is not None
    assert f"{card.expires_at:%-d %b %Y}" in page
    assert f'value="{card.public_id}"' in page
    assert_no_code(found, issued.code)

    confirm = enter_amount(clerk_client, merchant, card, "12.50", reference="POS-77")
    assert confirm.status_code == 200
    assert f"Redeem €12.50 from card …{card.last4}?" in html(confirm)
    assert "€37.50" in html(confirm)  # the balance after, said before confirming
    assert_no_code(confirm, issued.code)
    assert snapshot(card) == (5000, "active", 1)  # nothing spent before the confirmation

    done = redeem(clerk_client, merchant, card, confirm_token(confirm))
    txn = Transaction.objects.get(gift_card=card, kind=TransactionKind.REDEEM)
    assert done.status_code == 303
    assert done["Location"] == url(merchant, "till-receipt", txn.public_id)

    receipt = clerk_client.get(done["Location"])
    assert receipt.status_code == 200
    page = html(receipt)
    for text in ("€12.50", "€37.50", f"…{card.last4}", txn.public_id, merchant.name, "POS-77"):
        assert text in page
    assert "Next customer" in page
    assert_no_code(receipt, issued.code)

    assert snapshot(card) == (3750, "active", 2)
    assert ledger_sum(card) == 3750
    assert (txn.amount, txn.balance_after, txn.actor_user, txn.reference) == (
        -1250,
        3750,
        clerk,
        "POS-77",
    )
    assert txn.idempotency_key.startswith("till:")


def test_redeeming_the_whole_balance_marks_the_card_redeemed(
    clerk_client: Client, merchant: Merchant, issued: services.IssuedCard
) -> None:
    card = issued.card
    confirm = enter_amount(clerk_client, merchant, card, "50")
    redeem(clerk_client, merchant, card, confirm_token(confirm))
    assert snapshot(card) == (0, "redeemed", 2)
    again = lookup(clerk_client, merchant, issued.code)
    assert "spent in full" in html(again)
    assert 'name="amount"' not in html(again)


def test_a_decimal_comma_is_read_as_a_decimal_point(
    clerk_client: Client, merchant: Merchant, issued: services.IssuedCard
) -> None:
    confirm = enter_amount(clerk_client, merchant, issued.card, "12,50")
    assert confirm.status_code == 200
    assert "Redeem €12.50 from card" in html(confirm)


def test_till_pages_are_never_cached(
    clerk_client: Client, merchant: Merchant, issued: services.IssuedCard
) -> None:
    response = lookup(clerk_client, merchant, issued.code)
    assert "no-store" in response["Cache-Control"]


def test_htmx_confirmation_sends_the_browser_to_the_receipt(
    clerk_client: Client, merchant: Merchant, issued: services.IssuedCard
) -> None:
    panel = clerk_client.post(
        url(merchant, "till"), {"code": issued.code}, headers={"HX-Request": "true"}
    )
    assert 'id="till-panel"' in html(panel)
    confirm = enter_amount(clerk_client, merchant, issued.card, "5")
    done = redeem(
        clerk_client, merchant, issued.card, confirm_token(confirm), headers={"HX-Request": "true"}
    )
    txn = Transaction.objects.get(gift_card=issued.card, kind=TransactionKind.REDEEM)
    assert done.status_code == 204
    assert done["HX-Redirect"] == url(merchant, "till-receipt", txn.public_id)


# --- Lookups that find nothing ---------------------------------------------------------


def test_a_typo_is_caught_by_the_check_character_without_counting_a_failure(
    clerk_client: Client, merchant: Merchant, issued: services.IssuedCard
) -> None:
    last = issued.code[-1]
    typo = issued.code[:-1] + ("0" if last != "0" else "1")
    response = lookup(clerk_client, merchant, typo)
    assert response.status_code == 422
    assert "check it for typos" in html(response)
    assert_no_code(response, typo)
    assert_no_code(response, issued.code)
    assert FailedCodeLookup.objects.count() == 0


def test_an_unknown_code_says_so_and_is_recorded(
    clerk_client: Client, clerk: User, merchant: Merchant
) -> None:
    unknown = codes.generate()
    response = lookup(clerk_client, merchant, unknown)
    assert response.status_code == 404
    assert f"No {merchant.name} gift card has this code" in html(response)
    assert_no_code(response, unknown)
    failure = FailedCodeLookup.objects.get()
    assert (failure.channel, failure.user, failure.merchant) == ("till", clerk, merchant)
    assert failure.ip_address == "127.0.0.1"


def test_another_merchants_code_is_unknown_here(
    clerk_client: Client, merchant: Merchant, other_merchant: Merchant
) -> None:
    theirs = issue(other_merchant, 1000)
    response = lookup(clerk_client, merchant, theirs.code)
    assert response.status_code == 404
    assert theirs.card.last4 not in html(response)


def test_too_many_unknown_codes_pause_the_till_with_429(
    clerk_client: Client, merchant: Merchant, issued: services.IssuedCard, settings: Any
) -> None:
    limit = settings.GIFTCARD_LOOKUP_FAILURES_PER_CLIENT
    for _ in range(limit):
        assert lookup(clerk_client, merchant, codes.generate()).status_code == 404

    refused = lookup(clerk_client, merchant, codes.generate())
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 0
    # It says who is paused (this clerk, not the till or the shop) and until when.
    assert "You have tried too many unknown codes" in html(refused)
    assert "your colleagues can go on" in html(refused)
    assert re.search(r"paused for about \d+ minutes?; .*\(Until \d\d:\d\d\.\)", html(refused))
    # Even a real code waits: the brake is applied before the database is asked.
    real = lookup(clerk_client, merchant, issued.code)
    assert real.status_code == 429
    assert issued.card.last4 not in html(real)
    assert FailedCodeLookup.objects.count() == limit
    assert snapshot(issued.card) == (5000, "active", 1)


def test_the_throttle_limit_follows_the_setting(
    clerk_client: Client, merchant: Merchant, settings: Any
) -> None:
    settings.GIFTCARD_LOOKUP_FAILURES_PER_CLIENT = 2
    assert lookup(clerk_client, merchant, codes.generate()).status_code == 404
    assert lookup(clerk_client, merchant, codes.generate()).status_code == 404
    assert lookup(clerk_client, merchant, codes.generate()).status_code == 429


def test_an_empty_code_is_asked_for(clerk_client: Client, merchant: Merchant) -> None:
    response = lookup(clerk_client, merchant, "   ")
    assert response.status_code == 422
    assert "Enter or scan the card&#x27;s code." in html(response)


# --- Refused amounts change nothing ----------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("", "Enter the amount to redeem."),
        ("0", "The amount must be more than 0."),
        ("0.00", "The amount must be more than 0."),
        ("-5", "The amount must be more than 0."),
        ("12.505", "EUR amounts have at most 2 decimal places."),
        ("abc", "Type the amount as a number"),
        ("NaN", "Type the amount as a number"),
        ("1e3", "Type the amount as a number"),
        ("1,250", "without thousands separators"),
        ("50.01", "The card holds €50.00: you cannot redeem €50.01 from it."),
        ("99999999.99", "The card holds €50.00"),
        ("99999999999999", "larger than the platform allows"),
    ],
)
def test_a_refused_amount_is_explained_before_confirming_and_changes_nothing(
    clerk_client: Client,
    merchant: Merchant,
    issued: services.IssuedCard,
    amount: str,
    message: str,
) -> None:
    before = snapshot(issued.card)
    response = enter_amount(clerk_client, merchant, issued.card, amount)
    assert response.status_code == 422
    assert message in html(response)
    assert not TOKEN.search(html(response)), "a refused amount must not reach the confirm step"
    assert snapshot(issued.card) == before


@pytest.mark.parametrize("change", ["void", "expire"])
def test_a_card_that_cannot_be_spent_shows_why_and_offers_no_amount(
    clerk_client: Client,
    merchant: Merchant,
    issued: services.IssuedCard,
    change: str,
) -> None:
    card = issued.card
    if change == "void":
        services.giftcard_void(merchant=merchant, card_id=card.pk, reason="lost")
        why = "voided"
    else:
        GiftCard.objects.filter(pk=card.pk).update(expires_at=timezone.now() - timedelta(days=1))
        why = "expired"
    before = snapshot(card)
    found = lookup(clerk_client, merchant, issued.code)
    assert found.status_code == 200
    assert why in html(found)
    assert 'name="amount"' not in html(found)
    forced = enter_amount(clerk_client, merchant, card, "1.00")
    assert forced.status_code == 422
    assert not TOKEN.search(html(forced))
    assert snapshot(card) == before


def test_a_balance_spent_elsewhere_after_confirming_is_refused_at_redeem(
    clerk_client: Client, merchant: Merchant, issued: services.IssuedCard
) -> None:
    card = issued.card
    confirm = enter_amount(clerk_client, merchant, card, "40.00")
    services.giftcard_redeem(merchant=merchant, card_id=card.pk, amount=2000)  # another till
    before = snapshot(card)
    response = redeem(clerk_client, merchant, card, confirm_token(confirm))
    assert response.status_code == 422
    assert "The card now holds €30.00" in html(response)
    assert "Nothing was redeemed" in html(response)
    assert snapshot(card) == before


# --- Exactly once ----------------------------------------------------------------------


def test_submitting_the_confirmation_twice_redeems_once_and_shows_the_same_receipt(
    clerk_client: Client, clerk: User, merchant: Merchant, issued: services.IssuedCard
) -> None:
    card = issued.card
    token = confirm_token(enter_amount(clerk_client, merchant, card, "10.00"))
    first = redeem(clerk_client, merchant, card, token)
    second = redeem(clerk_client, merchant, card, token)
    assert first.status_code == second.status_code == 303
    assert first["Location"] == second["Location"]
    assert snapshot(card) == (4000, "active", 2)

    # Another session of the same clerk (a second tab, a retry from another process)
    # replays it from the ledger, where the token is the idempotency key.
    other_tab = Client()
    other_tab.force_login(clerk)
    third = redeem(other_tab, merchant, card, token)
    assert third.status_code == 303
    assert third["Location"] == first["Location"]
    assert snapshot(card) == (4000, "active", 2)


def test_each_confirmation_is_its_own_redemption(
    clerk_client: Client, merchant: Merchant, issued: services.IssuedCard
) -> None:
    card = issued.card
    one = confirm_token(enter_amount(clerk_client, merchant, card, "10.00"))
    two = confirm_token(enter_amount(clerk_client, merchant, card, "10.00"))
    assert one != two
    redeem(clerk_client, merchant, card, one)
    redeem(clerk_client, merchant, card, two)
    assert snapshot(card) == (3000, "active", 3)


def test_an_unknown_or_mismatched_confirmation_redeems_nothing(
    clerk_client: Client, merchant: Merchant, issued: services.IssuedCard
) -> None:
    card = issued.card
    other = issue(merchant, 2000).card
    token = confirm_token(enter_amount(clerk_client, merchant, card, "10.00"))
    before = (snapshot(card), snapshot(other))

    mismatched = redeem(clerk_client, merchant, other, token)
    assert mismatched.status_code == 409
    assert "Nothing was redeemed" in html(mismatched)
    made_up = redeem(clerk_client, merchant, card, "x" * 32)
    assert made_up.status_code == 409
    malformed = redeem(clerk_client, merchant, card, "<script>")
    assert malformed.status_code == 404
    assert (snapshot(card), snapshot(other)) == before


def test_a_stale_confirmation_redeems_nothing(
    clerk_client: Client, merchant: Merchant, issued: services.IssuedCard
) -> None:
    import time_machine

    token = confirm_token(enter_amount(clerk_client, merchant, issued.card, "10.00"))
    with time_machine.travel(timezone.now() + timedelta(minutes=16)):
        response = redeem(clerk_client, merchant, issued.card, token)
    assert response.status_code == 409
    assert snapshot(issued.card) == (5000, "active", 1)


# --- Tenancy and roles -----------------------------------------------------------------


def test_another_merchants_card_id_is_404_at_every_step(
    clerk_client: Client, merchant: Merchant, other_merchant: Merchant
) -> None:
    theirs = issue(other_merchant, 1000).card
    before = snapshot(theirs)
    assert enter_amount(clerk_client, merchant, theirs, "1.00").status_code == 404
    assert redeem(clerk_client, merchant, theirs, "a" * 32).status_code == 404
    not_an_id = clerk_client.post(url(merchant, "till-amount"), {"card": "1", "amount": "1"})
    assert not_an_id.status_code == 404
    theirs_txn = services.giftcard_redeem(merchant=other_merchant, card_id=theirs.pk, amount=100)
    assert clerk_client.get(url(merchant, "till-receipt", theirs_txn.public_id)).status_code == 404
    assert snapshot(theirs) == (before[0] - 100, "active", 2)


def test_another_merchants_till_does_not_exist(
    clerk_client: Client, other_merchant: Merchant
) -> None:
    assert clerk_client.get(url(other_merchant, "till")).status_code == 404


def test_only_redemptions_have_receipts(
    clerk_client: Client, merchant: Merchant, issued: services.IssuedCard
) -> None:
    issue_txn = Transaction.objects.get(gift_card=issued.card)
    assert clerk_client.get(url(merchant, "till-receipt", issue_txn.public_id)).status_code == 404


@pytest.mark.parametrize("role", [Role.CLERK, Role.MANAGER, Role.OWNER])
def test_every_role_works_the_till(
    merchant: Merchant, member_factory: Callable[..., Membership], role: str
) -> None:
    client = Client()
    client.force_login(member_factory(merchant, role).user)
    assert client.get(url(merchant, "till")).status_code == 200


def test_signed_out_people_are_sent_to_sign_in(client: Client, merchant: Merchant) -> None:
    response = client.get(url(merchant, "till"))
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_get_on_the_post_steps_goes_back_to_the_start(
    clerk_client: Client, merchant: Merchant
) -> None:
    for name in ("till-amount", "till-redeem"):
        response = clerk_client.get(url(merchant, name))
        assert response.status_code == 302
        assert response["Location"] == url(merchant, "till")


# --- Concurrency (PostgreSQL) ----------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL row locks")
def test_parallel_posts_of_one_confirmation_redeem_once(
    merchant: Merchant, clerk: User, owner: User
) -> None:
    issued = issue(merchant, 5000, actor=owner)
    client = Client()
    client.force_login(clerk)
    token = confirm_token(enter_amount(client, merchant, issued.card, "10.00"))
    cookies = client.cookies
    count = 6
    barrier = threading.Barrier(count)

    def post(_: int) -> tuple[int, str]:
        tab = Client()
        tab.cookies = cookies  # the same session, as a double click sends it
        try:
            barrier.wait(timeout=30)
            response = redeem(tab, merchant, issued.card, token)
            return response.status_code, response["Location"]
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=count) as pool:
        outcomes = set(pool.map(post, range(count)))
    assert len(outcomes) == 1
    assert next(iter(outcomes))[0] == 303
    assert snapshot(issued.card) == (4000, "active", 2)

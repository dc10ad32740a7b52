"""``manage.py verify_ledger``: every card's balance against its ledger (GC-2, API.md)."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import ManagementUtility, call_command
from django.core.management.base import CommandError
from pytest_django import DjangoAssertNumQueries

from giftcards import services
from giftcards.models import GiftCard, Transaction, TransactionKind
from giftcards.tests.factories import IssuedCardFactory
from merchants.models import Merchant

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command("verify_ledger", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def run_failing(*args: str) -> tuple[CommandError, str]:
    out = StringIO()
    with pytest.raises(CommandError) as excinfo:
        call_command("verify_ledger", *args, stdout=out, stderr=StringIO())
    return excinfo.value, out.getvalue()


def issue(merchant: Merchant, amount: int = 1000) -> GiftCard:
    return IssuedCardFactory(merchant=merchant, amount=amount).card


def test_an_empty_database_passes() -> None:
    assert "Checked 0 cards: 0 mismatches." in run()


def test_cards_moved_only_by_services_pass(merchant: Merchant, other_merchant: Merchant) -> None:
    spent = issue(merchant, 5000)
    services.giftcard_redeem(merchant=merchant, card_id=spent.pk, amount=1200)
    refunded = services.giftcard_redeem(merchant=merchant, card_id=spent.pk, amount=300)
    services.transaction_refund(merchant=merchant, transaction_id=refunded.pk, amount=100)
    reloaded = issue(merchant, 1000)
    services.giftcard_reload(merchant=merchant, card_id=reloaded.pk, amount=2500)
    voided = issue(other_merchant, 700)
    services.giftcard_void(merchant=other_merchant, card_id=voided.pk, reason="test")

    # A chunk of 2 makes the three cards span two chunks.
    output = run("--chunk-size", "2")

    assert "Checked 3 cards: 0 mismatches." in output
    assert "MISMATCH" not in output


def test_a_balance_changed_behind_the_ledgers_back_fails(
    merchant: Merchant, other_merchant: Merchant
) -> None:
    good = issue(other_merchant, 1000)
    bad = issue(merchant, 1000)
    services.giftcard_redeem(merchant=merchant, card_id=bad.pk, amount=300)
    # The corruption: a balance written without a ledger entry.
    GiftCard.objects.filter(pk=bad.pk).update(balance=900)

    error, output = run_failing("--chunk-size", "1")

    assert error.returncode != 0
    assert "Checked 2 cards: 1 mismatches." in output
    [line] = [line for line in output.splitlines() if line.startswith("MISMATCH")]
    assert bad.public_id in line
    assert f"merchant={merchant.slug}" in line
    assert "balance=900" in line
    assert "ledger_sum=700" in line
    assert "latest_balance_after=700" in line
    assert good.public_id not in output


def test_a_latest_balance_after_that_disagrees_with_the_balance_fails(merchant: Merchant) -> None:
    card = issue(merchant, 1000)
    # The corruption: a ledger row whose running balance is wrong, though the sum agrees.
    Transaction.objects.create(
        merchant=merchant,
        gift_card=card,
        kind=TransactionKind.ADJUST,
        amount=0,
        balance_after=400,
        currency=card.currency,
    )

    error, output = run_failing()

    assert error.returncode != 0
    assert card.public_id in output
    assert "balance=1000 ledger_sum=1000 latest_balance_after=400" in output
    assert "latest balance_after differs from balance" in output


def test_a_card_without_any_ledger_entry_fails(merchant: Merchant) -> None:
    card = GiftCard.objects.create(
        merchant=merchant,
        currency="EUR",
        initial_amount=1000,
        balance=0,
        code_digest="x" * 64,
        code_encrypted="x",
        last4="XXXX",
    )

    error, output = run_failing()

    assert error.returncode != 0
    assert f"MISMATCH {card.public_id}" in output
    assert "no ledger entries" in output


def test_merchant_option_checks_only_that_merchants_cards(
    merchant: Merchant, other_merchant: Merchant
) -> None:
    issue(merchant)
    broken = issue(other_merchant)
    GiftCard.objects.filter(pk=broken.pk).update(balance=1)

    assert "Checked 1 cards: 0 mismatches." in run("--merchant", merchant.slug)
    _, output = run_failing("--merchant", other_merchant.slug)
    assert "Checked 1 cards: 1 mismatches." in output
    assert broken.public_id in output


def test_an_unknown_merchant_is_refused() -> None:
    with pytest.raises(CommandError, match="No merchant"):
        run("--merchant", "nobody")


def test_the_ledger_is_read_with_a_query_per_chunk_not_per_card(
    merchant: Merchant, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    for _ in range(5):
        issue(merchant)
    # One query for the chunk of five cards, one that finds no more.
    with django_assert_num_queries(2):
        output = run()
    assert "Checked 5 cards: 0 mismatches." in output


@pytest.mark.django_db(transaction=True)
def test_exit_status_from_the_command_line(
    merchant: Merchant, capsys: pytest.CaptureFixture[str]
) -> None:
    card = issue(merchant)
    ManagementUtility(["manage.py", "verify_ledger"]).execute()  # no SystemExit: status 0
    assert "Checked 1 cards: 0 mismatches." in capsys.readouterr().out

    GiftCard.objects.filter(pk=card.pk).update(balance=5)
    with pytest.raises(SystemExit) as exit_info:
        ManagementUtility(["manage.py", "verify_ledger"]).execute()
    assert exit_info.value.code == 1
    captured = capsys.readouterr()
    assert card.public_id in captured.out
    assert "does not match 1 card balance" in captured.err

"""``seed_demo`` adds products and cards once, and prints a till card code that works."""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.core.management import call_command

from giftcards import codes
from giftcards.models import CardStatus, GiftCard, Product, Transaction, TransactionKind
from merchants.models import Merchant

pytestmark = pytest.mark.django_db

CODE = re.compile(r"\b[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}\b")


def seed() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out, stderr=StringIO())
    return out.getvalue()


def counts() -> tuple[int, int, int]:
    return Product.objects.count(), GiftCard.objects.count(), Transaction.objects.count()


def test_seed_demo_twice_creates_products_and_cards_once_and_prints_the_same_code() -> None:
    first = seed()
    after_first = counts()
    second = seed()

    assert counts() == after_first
    for slug in ("bluebird-coffee", "northwind-books"):
        merchant = Merchant.objects.get(slug=slug)
        products = Product.objects.filter(merchant=merchant)
        assert products.count() == 3
        assert {p.currency for p in products} == {merchant.currency}
        assert products.filter(reloadable=True).count() == 1
        classic = products.get(name="Classic card")
        assert classic.denominations == [1000, 2500, 5000]
        cards = GiftCard.objects.filter(merchant=merchant)
        assert cards.count() == 4
        assert all(card.metadata.get("demo") is True for card in cards)
        # One partial redemption so the ledger shows more than issues.
        redeemed = Transaction.objects.get(merchant=merchant, kind=TransactionKind.REDEEM)
        assert redeemed.amount == -1500
        assert redeemed.gift_card.balance == 2500

    [code] = CODE.findall(first)
    assert CODE.findall(second) == [code]
    till_card = GiftCard.objects.get(code_digest=codes.digest(codes.normalise(code)))
    assert till_card.merchant.slug == "bluebird-coffee"
    assert till_card.metadata == {"demo": True, "demo_till": True}
    assert (till_card.status, till_card.balance, till_card.currency) == (
        CardStatus.ACTIVE,
        5000,
        "EUR",
    )
    assert "Demo gift card for Bluebird Coffee (€50.00)" in first


def test_the_demo_ledger_agrees_with_the_balances() -> None:
    seed()
    out = StringIO()
    call_command("verify_ledger", stdout=out)
    assert "0 mismatches" in out.getvalue()

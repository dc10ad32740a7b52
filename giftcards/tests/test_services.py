"""The one module that changes balances: every operation, every refusal (GC-2, GC-7)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from giftcards import services
from giftcards.exceptions import (
    CardNotActive,
    CardNotReloadable,
    CurrencyMismatch,
    InsufficientFunds,
    InvalidAmount,
    InvalidExpiry,
    NotRefundable,
    ProductUnavailable,
    ReasonRequired,
    RefundExceedsRedemption,
)
from giftcards.models import CardStatus, GiftCard, Product, Transaction, TransactionKind
from giftcards.tests.factories import ProductFactory
from giftcards.tests.helpers import issue, ledger_sum, snapshot
from merchants.models import Merchant

pytestmark = pytest.mark.django_db


def test_issue_writes_the_card_and_its_issue_entry(merchant: Merchant, owner) -> None:
    issued = issue(merchant, 2500, actor=owner, metadata={"order": "A1"}, reference="R1")
    card = GiftCard.objects.get()
    assert (card.balance, card.initial_amount, card.status) == (2500, 2500, CardStatus.ACTIVE)
    assert card.last4 == issued.code[-4:]
    assert issued.code not in (card.code_digest + card.code_encrypted)
    txn = Transaction.objects.get()
    assert (txn.kind, txn.amount, txn.balance_after, txn.actor_user) == ("issue", 2500, 2500, owner)
    assert txn.reference == "R1"
    assert card.metadata == {"order": "A1"}


def test_issue_from_a_product_takes_its_rules(merchant: Merchant) -> None:
    product = ProductFactory(merchant=merchant, validity_days=730, reloadable=False)
    card = issue(merchant, 5000, product=product).card
    assert card.reloadable is False
    assert card.expires_at is not None
    assert card.expires_at - card.created_at == timedelta(days=730)


@pytest.mark.parametrize("amount", [0, -1, 1.5, True, 10**13])
def test_issue_refuses_bad_amounts(merchant: Merchant, amount) -> None:
    with pytest.raises(InvalidAmount):
        issue(merchant, amount)
    assert not GiftCard.objects.exists()
    assert not Transaction.objects.exists()


def test_issue_refuses_what_the_product_does_not_sell(merchant: Merchant, product: Product):
    with pytest.raises(InvalidAmount, match=r"€25\.00, €50\.00"):
        issue(merchant, 3000, product=product)
    with pytest.raises(CurrencyMismatch):
        issue(merchant, 2500, product=product, currency="GBP")
    product.is_active = False
    product.save()
    with pytest.raises(ProductUnavailable):
        issue(merchant, 2500, product=product)
    assert not GiftCard.objects.exists()


def test_issue_refuses_another_merchants_product(other_merchant, product: Product) -> None:
    with pytest.raises(ProductUnavailable):
        issue(other_merchant, 2500, product=product, currency="EUR")


def test_custom_amount_products_enforce_min_and_max(merchant: Merchant) -> None:
    custom = ProductFactory(merchant=merchant, min_amount=500, max_amount=50000)
    issue(merchant, 500, product=custom)
    with pytest.raises(InvalidAmount, match="smallest"):
        issue(merchant, 499, product=custom)
    with pytest.raises(InvalidAmount, match="largest"):
        issue(merchant, 50001, product=custom)


def test_expiry_must_respect_the_platform_floor(merchant: Merchant, settings) -> None:
    settings.GIFTCARD_MIN_VALIDITY_DAYS = 365
    now = timezone.now()
    with pytest.raises(InvalidExpiry, match="365 days"):
        issue(merchant, expires_at=now + timedelta(days=30))
    with pytest.raises(InvalidExpiry, match="future"):
        issue(merchant, expires_at=now - timedelta(days=1))
    card = issue(merchant, expires_at=now + timedelta(days=400)).card
    assert card.expires_at is not None
    assert not GiftCard.objects.exclude(pk=card.pk).exists()


def test_redeem_spends_and_records(merchant: Merchant) -> None:
    card = issue(merchant, 1000).card
    txn = services.giftcard_redeem(merchant=merchant, card_id=card.pk, amount=400, reference="T9")
    card.refresh_from_db()
    assert (card.balance, card.status) == (600, CardStatus.ACTIVE)
    assert (txn.kind, txn.amount, txn.balance_after, txn.reference) == ("redeem", -400, 600, "T9")
    services.giftcard_redeem(merchant=merchant, card_id=card.pk, amount=600)
    card.refresh_from_db()
    assert (card.balance, card.status) == (0, CardStatus.REDEEMED)
    assert ledger_sum(card) == 0


def test_redeem_refusals_change_nothing(merchant: Merchant) -> None:
    card = issue(merchant, 1000).card
    before = snapshot(card)
    with pytest.raises(InsufficientFunds) as excinfo:
        services.giftcard_redeem(merchant=merchant, card_id=card.pk, amount=1001)
    assert excinfo.value.extra == {"balance": 1000, "currency": "EUR"}
    with pytest.raises(CurrencyMismatch):
        services.giftcard_redeem(merchant=merchant, card_id=card.pk, amount=1, currency="GBP")
    with pytest.raises(InvalidAmount):
        services.giftcard_redeem(merchant=merchant, card_id=card.pk, amount=0)
    assert snapshot(card) == before


def test_void_and_expired_cards_cannot_be_spent(merchant: Merchant) -> None:
    voided = issue(merchant, 1000).card
    services.giftcard_void(merchant=merchant, card_id=voided.pk, reason="fraud")
    before = snapshot(voided)
    with pytest.raises(CardNotActive):
        services.giftcard_redeem(merchant=merchant, card_id=voided.pk, amount=1)
    assert snapshot(voided) == before

    expiring = issue(merchant, 1000, expires_at=timezone.now() + timedelta(days=400)).card
    later = timezone.now() + timedelta(days=401)
    with time_machine.travel(later), pytest.raises(CardNotActive, match="expired"):
        services.giftcard_redeem(merchant=merchant, card_id=expiring.pk, amount=1)


def test_pending_cards_activate_then_spend(merchant: Merchant) -> None:
    card = issue(merchant, 1000, status=CardStatus.PENDING).card
    with pytest.raises(CardNotActive):
        services.giftcard_redeem(merchant=merchant, card_id=card.pk, amount=1)
    services.giftcard_activate(merchant=merchant, card_id=card.pk)
    services.giftcard_redeem(merchant=merchant, card_id=card.pk, amount=1)
    with pytest.raises(CardNotActive):
        services.giftcard_activate(merchant=merchant, card_id=card.pk)


def test_reload_only_reloadable_cards(merchant: Merchant, product: Product) -> None:
    card = issue(merchant, 1000).card
    services.giftcard_redeem(merchant=merchant, card_id=card.pk, amount=1000)
    services.giftcard_reload(merchant=merchant, card_id=card.pk, amount=500)
    card.refresh_from_db()
    assert (card.balance, card.status) == (500, CardStatus.ACTIVE)
    fixed = issue(merchant, 2500, product=product).card
    before = snapshot(fixed)
    with pytest.raises(CardNotReloadable):
        services.giftcard_reload(merchant=merchant, card_id=fixed.pk, amount=500)
    assert snapshot(fixed) == before


def test_refunds_never_exceed_the_redemption(merchant: Merchant) -> None:
    card = issue(merchant, 1000).card
    spend = services.giftcard_redeem(merchant=merchant, card_id=card.pk, amount=700)
    services.transaction_refund(merchant=merchant, transaction_id=spend.pk, amount=300)
    before = snapshot(card)
    with pytest.raises(RefundExceedsRedemption) as excinfo:
        services.transaction_refund(merchant=merchant, transaction_id=spend.pk, amount=401)
    assert excinfo.value.extra == {"refundable": 400}
    assert snapshot(card) == before
    rest = services.transaction_refund(merchant=merchant, transaction_id=spend.pk)
    assert (rest.amount, rest.related_id) == (400, spend.pk)
    with pytest.raises(RefundExceedsRedemption, match="in full"):
        services.transaction_refund(merchant=merchant, transaction_id=spend.pk)
    card.refresh_from_db()
    assert card.balance == 1000
    assert ledger_sum(card) == 1000


def test_only_redemptions_can_be_refunded(merchant: Merchant) -> None:
    issued = issue(merchant, 1000)
    with pytest.raises(NotRefundable):
        services.transaction_refund(merchant=merchant, transaction_id=issued.transaction.pk)


def test_adjust_needs_a_reason_and_keeps_balance_non_negative(merchant: Merchant, owner):
    card = issue(merchant, 1000).card
    with pytest.raises(ReasonRequired):
        services.giftcard_adjust(merchant=merchant, card_id=card.pk, amount=-10, reason=" ")
    with pytest.raises(InsufficientFunds):
        services.giftcard_adjust(merchant=merchant, card_id=card.pk, amount=-1001, reason="x")
    txn = services.giftcard_adjust(
        merchant=merchant, card_id=card.pk, amount=-250, reason="Till error", actor=owner
    )
    assert (txn.kind, txn.amount, txn.balance_after, txn.reason) == (
        "adjust",
        -250,
        750,
        "Till error",
    )


def test_void_moves_the_rest_out_through_the_ledger(merchant: Merchant) -> None:
    card = issue(merchant, 1000).card
    services.giftcard_redeem(merchant=merchant, card_id=card.pk, amount=100)
    txn = services.giftcard_void(merchant=merchant, card_id=card.pk, reason="Lost")
    card.refresh_from_db()
    assert (card.status, card.balance, txn.amount, txn.reason) == ("void", 0, -900, "Lost")
    assert ledger_sum(card) == 0
    with pytest.raises(CardNotActive):
        services.giftcard_void(merchant=merchant, card_id=card.pk)


def test_expire_books_breakage_and_is_idempotent(merchant: Merchant) -> None:
    card = issue(merchant, 1000, expires_at=timezone.now() + timedelta(days=400)).card
    assert services.giftcard_expire(merchant=merchant, card_id=card.pk) is None
    with time_machine.travel(timezone.now() + timedelta(days=401)):
        txn = services.giftcard_expire(merchant=merchant, card_id=card.pk)
        assert txn is not None
        assert (txn.kind, txn.amount, txn.balance_after) == (TransactionKind.EXPIRE, -1000, 0)
        assert services.giftcard_expire(merchant=merchant, card_id=card.pk) is None
    card.refresh_from_db()
    assert (card.status, card.balance) == ("expired", 0)
    assert ledger_sum(card) == 0


def test_another_merchants_card_does_not_exist(merchant: Merchant, other_merchant) -> None:
    from giftcards.exceptions import CardNotFound

    card = issue(merchant, 1000).card
    with pytest.raises(CardNotFound):
        services.giftcard_redeem(merchant=other_merchant, card_id=card.pk, amount=1)
    assert snapshot(card)[0] == 1000


def test_the_ledger_is_append_only_in_code(merchant: Merchant) -> None:
    txn = issue(merchant).transaction
    with pytest.raises(TypeError, match="append-only"):
        txn.save()
    with pytest.raises(TypeError, match="append-only"):
        txn.delete()
    with pytest.raises(TypeError, match="append-only"):
        Transaction.objects.filter(pk=txn.pk).update(amount=5)
    with pytest.raises(TypeError, match="append-only"):
        Transaction.objects.all().delete()


def test_the_database_refuses_a_negative_balance(merchant: Merchant) -> None:
    card = issue(merchant).card
    with pytest.raises(IntegrityError), transaction.atomic():
        GiftCard.objects.filter(pk=card.pk).update(balance=-1)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="trigger exists on PostgreSQL")
def test_postgresql_refuses_ledger_updates_and_deletes(merchant: Merchant) -> None:
    txn = issue(merchant).transaction
    with (
        pytest.raises(IntegrityError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("UPDATE giftcards_transaction SET amount = 1 WHERE id = %s", [txn.pk])
    with (
        pytest.raises(IntegrityError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("DELETE FROM giftcards_transaction WHERE id = %s", [txn.pk])


def test_changes_invalidate_the_read_cache_on_commit(
    merchant: Merchant, django_capture_on_commit_callbacks
) -> None:
    from django.core.cache import cache

    from giftcards import cache as card_cache

    card = issue(merchant).card
    key = card_cache.card_key(merchant.pk, card.public_id)
    cache.set(key, {"balance": 1000})
    version = card_cache.list_version(merchant.pk)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        services.giftcard_redeem(merchant=merchant, card_id=card.pk, amount=10)
    assert len(callbacks) == 1
    assert cache.get(key) is None
    assert card_cache.list_version(merchant.pk) != version

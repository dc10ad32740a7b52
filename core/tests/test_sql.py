"""The hand-written hot-path SQL loads and saves rows exactly as the ORM does."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import Model
from django.utils import timezone

from core.sql import RowMapper
from giftcards.models import GiftCard, Transaction
from giftcards.tests.helpers import issue
from merchants.models import ApiKey, IdempotencyRecord, Merchant
from merchants.services import api_key_create

pytestmark = pytest.mark.django_db


def _values(obj: Model) -> dict[str, object]:
    return {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields}


def _load(model: type[Model], pk: int) -> Model:
    mapper = RowMapper(model)
    table = model._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {mapper.columns('t')} FROM {table} t WHERE t.id = %s", [pk])  # noqa: S608
        return mapper.load(cursor.fetchone())


def test_loading_matches_the_orm_for_every_field(merchant: Merchant) -> None:
    card = issue(
        merchant,
        1234,
        metadata={"order": "A-1", "n": 3, "ok": True},
        expires_at=timezone.now() + timedelta(days=400),
        recipient_email="a@example.com",
    ).card
    key = api_key_create(merchant=merchant, name="k", scopes=["cards:read"]).api_key
    for model, pk in ((GiftCard, card.pk), (ApiKey, key.pk), (Merchant, merchant.pk)):
        loaded = _load(model, pk)
        assert _values(loaded) == _values(model._default_manager.get(pk=pk))
        assert loaded._state.adding is False


def test_inserting_matches_the_orm(merchant: Merchant) -> None:
    card = issue(merchant, 500).card
    now = timezone.now()
    txn = Transaction(
        merchant_id=merchant.pk,
        gift_card_id=card.pk,
        kind="adjust",
        amount=0,
        balance_after=500,
        currency="EUR",
        reason="check",
        created_at=now,
    )
    RowMapper(Transaction).insert(txn)
    assert txn.pk is not None
    assert _values(Transaction.objects.get(pk=txn.pk)) == _values(txn)
    record = IdempotencyRecord(
        merchant=merchant,
        key="k",
        fingerprint="f" * 64,
        method="POST",
        path="/x",
        response_status=201,
        response_body={"a": [1, 2], "b": {"c": None}},
    )
    RowMapper(IdempotencyRecord).insert(record)
    assert IdempotencyRecord.objects.get(pk=record.pk).response_body == record.response_body

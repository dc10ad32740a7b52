"""Many people claiming one card at the same moment: exactly one of them gets it."""

from __future__ import annotations

import pytest
from django.db import connection

from giftcards.tests.factories import IssuedCardFactory, ProductFactory
from merchants.models import Merchant
from orders.services import card_link_token
from tests.concurrency import in_threads
from tests.factories import UserFactory
from wallet import services
from wallet.exceptions import CardAlreadyClaimed
from wallet.models import WalletCard

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL row locks"),
]


def test_parallel_claims_of_one_card_give_it_to_exactly_one_account(merchant: Merchant) -> None:
    card = IssuedCardFactory(merchant=merchant, amount=2500, currency="EUR").card
    token = card_link_token(card)
    people = [UserFactory() for _ in range(6)]

    def claim(index: int) -> str:
        try:
            services.wallet_claim_by_link(user=people[index], token=token)
        except CardAlreadyClaimed:
            return "refused"
        return "added"

    outcomes = in_threads(len(people), claim)

    assert sorted(outcomes) == ["added"] + ["refused"] * 5
    assert WalletCard.objects.filter(gift_card=card).count() == 1


def test_a_claim_and_resends_at_once_leave_working_only_a_link_sent_after_the_claim(
    merchant: Merchant,
) -> None:
    import re

    from django.core import mail
    from django.test import Client

    from giftcards import codes
    from giftcards.lookups import LookupClient
    from giftcards.models import GiftCard, LookupChannel
    from orders.models import CardDelivery
    from orders.services import LineRequest, delivery_resend
    from orders.tests.factories import OrderFactory, order_pay

    product = ProductFactory(merchant=merchant, name="Card", denominations=[2500])
    order = OrderFactory(
        merchant=merchant,
        buyer=None,
        buyer_email="b@example.com",
        buyer_name="",
        lines=[LineRequest(product, 2500, is_gift=True, recipient_email="a@example.com")],
    )
    order_pay(order)
    delivery = CardDelivery.objects.get(order=order)
    card = GiftCard.objects.get()
    code = codes.decrypt(card.code_encrypted)
    claimer = UserFactory()

    def work(index: int) -> object:
        if index == 0:
            client = LookupClient(
                merchant=merchant,
                channel=LookupChannel.STOREFRONT,
                ip_address="10.0.0.1",
                user=claimer,
            )
            return services.wallet_claim_by_code(user=claimer, code=code, client=client)
        return delivery_resend(delivery_id=delivery.pk, actor=None)

    in_threads(4, work)

    links = [
        match.group()
        for message in mail.outbox
        if message.to == ["a@example.com"]
        and (match := re.search(r"/gift/t/[^\s\"'<>]+/", message.body))
    ]
    versions = [int(link.split(":")[1]) for link in links]
    assert len(links) == 4
    assert len(set(versions)) == 4
    # Three resends and one claim, each counted: no change of version was lost.
    current = GiftCard.objects.get().link_version
    assert current == 4
    client = Client()
    opening = [link for link in links if client.get(link).status_code == 200]
    assert opening == [link for link in links if int(link.split(":")[1]) == current]
    assert WalletCard.objects.filter(gift_card=card, user=claimer).exists()

"""A claim into a wallet, by code or by the card's link, revokes the card's links: the link
in the message stops showing the code of a card now kept in an account. Refused claims,
and claims that add nothing, revoke nothing."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.core import mail
from django.test import Client
from django.utils import timezone

from accounts.models import User
from giftcards import codes
from giftcards.lookups import LookupClient
from giftcards.models import GiftCard, LookupChannel, Product
from orders.models import CardDelivery, Order
from orders.services import LineRequest, delivery_resend
from tests.factories import UserFactory
from wallet import services
from wallet.exceptions import CardAlreadyClaimed, InvalidCardLink
from wallet.models import WalletCard

pytestmark = pytest.mark.django_db

CARD_LINK = re.compile(r"/gift/t/[^\s\"'<>]+/")


@pytest.fixture
def gift(paid_order: Callable[..., Order], product: Product, user: User) -> GiftCard:
    """A card Ben bought for Bea and that was emailed to her with its link."""
    order = paid_order(
        LineRequest(product, 2500, is_gift=True, recipient_email="bea@example.com"), buyer=user
    )
    return order.cards.get().gift_card


def emailed_link() -> str:
    [message] = [m for m in mail.outbox if m.to == ["bea@example.com"]]
    match = CARD_LINK.search(message.body)
    assert match
    return match.group()


def token_of(link: str) -> str:
    return link.removeprefix("/gift/t/").removesuffix("/")


def code_of(card: GiftCard) -> str:
    return codes.format_code(codes.decrypt(card.code_encrypted))


def link_version(card: GiftCard) -> int:
    return GiftCard.objects.get(pk=card.pk).link_version


def by_code(user: User, card: GiftCard) -> services.ClaimResult:
    client = LookupClient(
        merchant=card.merchant, channel=LookupChannel.STOREFRONT, ip_address="10.0.0.1", user=user
    )
    return services.wallet_claim_by_code(user=user, code=code_of(card), client=client)


def by_link(user: User, card: GiftCard) -> services.ClaimResult:
    return services.wallet_claim_by_link(user=user, token=token_of(emailed_link()))


@pytest.mark.parametrize("claim", [by_code, by_link])
def test_a_claim_revokes_the_link_in_the_message(
    claim: Callable[[User, GiftCard], services.ClaimResult], client: Client, gift: GiftCard
) -> None:
    link = emailed_link()
    assert client.get(link).status_code == 200
    bea = UserFactory(email="bea@example.com")

    result = claim(bea, gift)

    assert result.added
    response = client.get(link)
    assert response.status_code == 404
    page = response.content.decode()
    assert "This card link has been replaced" in page
    assert code_of(gift) not in page
    assert "sign in" in page
    assert client.get(f"{link}card.pdf").status_code == 404


def test_a_claim_through_the_page_revokes_the_link(client: Client, gift: GiftCard) -> None:
    link = emailed_link()
    bea = UserFactory(email="bea@example.com")
    client.force_login(bea)

    response = client.post("/account/cards/claim-link/", {"token": token_of(link)})

    assert response.status_code == 302
    assert WalletCard.objects.filter(user=bea, gift_card=gift).exists()
    page = client.get(link)
    assert page.status_code == 404
    assert code_of(gift) not in page.content.decode()
    assert 'href="/account/cards/"' in page.content.decode()


def test_a_link_revoked_by_a_resend_cannot_claim_the_card_and_nothing_changes(
    gift: GiftCard,
) -> None:
    token = token_of(emailed_link())
    delivery_resend(delivery_id=CardDelivery.objects.get(card__gift_card=gift).pk, actor=None)
    version = link_version(gift)
    held = list(WalletCard.objects.values_list("pk", flat=True))
    bea = UserFactory()

    with pytest.raises(InvalidCardLink, match="replaced by a newer one"):
        services.wallet_claim_by_link(user=bea, token=token)

    assert list(WalletCard.objects.values_list("pk", flat=True)) == held
    assert not WalletCard.objects.filter(user=bea).exists()
    assert link_version(gift) == version


def test_a_refused_claim_revokes_nothing(gift: GiftCard) -> None:
    by_code(UserFactory(), gift)
    version = link_version(gift)

    with pytest.raises(CardAlreadyClaimed):
        by_code(UserFactory(), gift)

    assert link_version(gift) == version


def test_claiming_a_card_one_already_holds_revokes_nothing(gift: GiftCard, user: User) -> None:
    link = emailed_link()
    version = link_version(gift)

    again = by_code(user, gift)  # the buyer holds it already

    assert not again.added
    assert link_version(gift) == version
    assert Client().get(link).status_code == 200


def test_signed_out_a_revoked_link_sends_sign_in_back_to_the_cards_not_the_card(
    client: Client, gift: GiftCard
) -> None:
    token = token_of(emailed_link())
    response = client.post("/account/cards/claim-link/", {"token": token})
    assert "next=/gift/t/" in response.content.decode()
    by_code(UserFactory(), gift)

    response = client.post("/account/cards/claim-link/", {"token": token})

    assert response.status_code == 200
    page = response.content.decode()
    assert "next=/account/cards/" in page
    assert "next=/gift/t/" not in page


def test_an_expired_link_cannot_claim_the_card(gift: GiftCard, settings: Any) -> None:
    token = token_of(emailed_link())
    settings.CARD_LINK_MAX_AGE_DAYS = 10

    with (
        time_machine.travel(timezone.now() + timedelta(days=11)),
        pytest.raises(InvalidCardLink, match="expired"),
    ):
        services.wallet_claim_by_link(user=UserFactory(), token=token)

    assert not WalletCard.objects.filter(source="claimed").exists()

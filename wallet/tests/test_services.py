"""Cards come into a wallet when bought, when sent to a verified address (on sign-in and
on confirming an address), and when claimed; a card has one buyer and one recipient."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from allauth.account.models import EmailAddress, EmailConfirmationHMAC
from django.contrib.messages.storage.fallback import FallbackStorage
from django.contrib.sessions.middleware import SessionMiddleware
from django.test import Client, RequestFactory

from accounts.models import User
from giftcards import services as giftcard_services
from giftcards.models import CardStatus, FailedCodeLookup, GiftCard, LookupChannel
from giftcards.services import IssuedCard
from merchants.models import Merchant
from orders.models import Order
from orders.services import LineRequest, card_link_token, order_fulfil
from orders.tests.factories import OrderFactory, order_pay
from tests.factories import PASSWORD, UserFactory
from wallet import services
from wallet.exceptions import CardAlreadyClaimed, CardNotClaimable, InvalidCardLink
from wallet.models import WalletCard, WalletSource

pytestmark = pytest.mark.django_db


def holdings(user: User) -> list[tuple[str, str]]:
    return sorted(
        WalletCard.objects.filter(user=user).values_list("gift_card__public_id", "source")
    )


def sign_in(email: str) -> Client:
    client = Client()
    response = client.post("/accounts/login/", {"login": email, "password": PASSWORD})
    assert response.status_code == 302, response.content.decode()[:500]
    return client


# --- Bought -------------------------------------------------------------------------


def test_the_cards_of_a_fulfilled_order_go_to_the_buyers_wallet(
    user: User, paid_order: Callable[..., Order], product: Any
) -> None:
    order = paid_order(
        LineRequest(product, 2500, quantity=2),
        LineRequest(product, 5000, is_gift=True, recipient_email="bea@example.com"),
        buyer=user,
    )

    cards = list(order.cards.values_list("gift_card__public_id", flat=True))
    assert len(cards) == 3
    assert holdings(user) == sorted((public_id, WalletSource.BOUGHT) for public_id in cards)


def test_fulfilling_again_adds_nothing(user: User, paid_order: Callable[..., Order]) -> None:
    order = paid_order(buyer=user)

    order_fulfil(order_id=order.pk)
    services.wallet_add_bought(order)

    assert WalletCard.objects.filter(user=user).count() == 1


def test_an_order_without_an_account_goes_to_no_wallet(
    user: User, paid_order: Callable[..., Order]
) -> None:
    paid_order(buyer=None, buyer_email="someone-else@example.com")

    assert not WalletCard.objects.exists()


def test_a_fulfilment_rolled_back_adds_nothing(
    user: User, merchant: Merchant, product: Any
) -> None:
    order = OrderFactory(
        merchant=merchant,
        buyer=user,
        buyer_email=user.email,
        buyer_name="",
        lines=[LineRequest(product, 2500)],
    )
    # Without the commit (the test's transaction never commits), the wallet waits.
    order_pay(order)

    assert not WalletCard.objects.exists()
    # ... and signing in catches up on what is missing.
    services.wallet_sync_for_user(user)
    assert [s for _, s in holdings(user)] == [WalletSource.BOUGHT]


# --- Received ------------------------------------------------------------------------


def test_a_card_sent_to_a_verified_address_appears_on_sign_in(
    issue: Callable[..., IssuedCard],
) -> None:
    ana = UserFactory(email="ana@example.com")
    sent = issue(recipient_email="Ana@Example.com")
    issue(recipient_email="someone@example.com")

    sign_in("ana@example.com")

    assert holdings(ana) == [(sent.card.public_id, WalletSource.RECEIVED)]


def test_a_card_sent_to_an_unverified_address_does_not_appear(
    issue: Callable[..., IssuedCard],
) -> None:
    ana = UserFactory(email="ana@example.com")
    address = EmailAddress.objects.create(user=ana, email="ana@work.example", verified=False)
    sent = issue(recipient_email="ana@work.example")

    sign_in("ana@example.com")

    assert holdings(ana) == []

    # Confirming the address brings it in.
    request = RequestFactory().get("/")
    SessionMiddleware(lambda r: None).process_request(request)  # type: ignore[arg-type,return-value]
    request._messages = FallbackStorage(request)
    request.user = ana
    EmailConfirmationHMAC(address).confirm(request)

    assert holdings(ana) == [(sent.card.public_id, WalletSource.RECEIVED)]


def test_receiving_skips_void_cards_and_cards_someone_else_claimed(
    merchant: Merchant, issue: Callable[..., IssuedCard]
) -> None:
    ana = UserFactory(email="ana@example.com")
    other = UserFactory()
    voided = issue(recipient_email="ana@example.com")
    giftcard_services.giftcard_void(merchant=merchant, card_id=voided.card.pk, reason="test")
    taken = issue(recipient_email="ana@example.com")
    services.wallet_claim_by_link(user=other, token=card_link_token(taken.card))

    assert services.wallet_receive_for_user(ana) == 0
    assert holdings(ana) == []
    assert services.wallet_receive_for_user(ana) == 0


def test_receiving_twice_adds_each_card_once(issue: Callable[..., IssuedCard]) -> None:
    ana = UserFactory(email="ana@example.com")
    issue(recipient_email="ana@example.com")

    assert services.wallet_receive_for_user(ana) == 1
    assert services.wallet_receive_for_user(ana) == 0


def test_a_card_bought_for_oneself_is_held_once(
    user: User, paid_order: Callable[..., Order]
) -> None:
    paid_order(buyer=user)  # the card is sent to the buyer's own (verified) address

    services.wallet_receive_for_user(user)

    assert [s for _, s in holdings(user)] == [WalletSource.BOUGHT]


# --- Claims --------------------------------------------------------------------------


def client_for(merchant: Merchant, user: User) -> Any:
    from giftcards.lookups import LookupClient

    return LookupClient(
        merchant=merchant, channel=LookupChannel.STOREFRONT, ip_address="10.0.0.1", user=user
    )


def test_claim_by_code_adds_the_card(
    user: User, merchant: Merchant, issue: Callable[..., IssuedCard]
) -> None:
    issued = issue()

    result = services.wallet_claim_by_code(
        user=user, code=issued.formatted_code, client=client_for(merchant, user)
    )

    assert result.added
    assert holdings(user) == [(issued.card.public_id, WalletSource.CLAIMED)]


def test_a_gift_is_held_by_its_buyer_and_by_the_recipient_who_claims_it(
    user: User, paid_order: Callable[..., Order], product: Any
) -> None:
    order = paid_order(
        LineRequest(product, 2500, is_gift=True, recipient_email="bea@example.com"), buyer=user
    )
    card = order.cards.get().gift_card
    bea = UserFactory()

    services.wallet_claim_by_link(user=bea, token=card_link_token(card))

    assert holdings(user) == [(card.public_id, WalletSource.BOUGHT)]
    assert holdings(bea) == [(card.public_id, WalletSource.CLAIMED)]


def test_a_card_claimed_by_one_account_is_refused_to_another_and_nothing_changes(
    user: User, merchant: Merchant, issue: Callable[..., IssuedCard]
) -> None:
    issued = issue()
    services.wallet_claim_by_code(user=user, code=issued.code, client=client_for(merchant, user))
    other = UserFactory()

    with pytest.raises(CardAlreadyClaimed) as refused:
        services.wallet_claim_by_code(
            user=other, code=issued.code, client=client_for(merchant, other)
        )

    assert refused.value.status == 409
    assert issued.card.last4 in refused.value.detail
    assert issued.code not in refused.value.detail
    assert holdings(other) == []
    assert holdings(user) == [(issued.card.public_id, WalletSource.CLAIMED)]


def test_claiming_a_card_one_holds_changes_nothing(
    user: User, merchant: Merchant, issue: Callable[..., IssuedCard]
) -> None:
    issued = issue()
    first = services.wallet_claim_by_code(
        user=user, code=issued.code, client=client_for(merchant, user)
    )

    again = services.wallet_claim_by_link(user=user, token=card_link_token(issued.card))

    assert not again.added
    assert again.wallet_card.pk == first.wallet_card.pk
    assert WalletCard.objects.count() == 1


def test_a_void_card_cannot_be_claimed(
    user: User, merchant: Merchant, issue: Callable[..., IssuedCard]
) -> None:
    issued = issue()
    giftcard_services.giftcard_void(merchant=merchant, card_id=issued.card.pk, reason="test")

    with pytest.raises(CardNotClaimable):
        services.wallet_claim_by_code(
            user=user, code=issued.code, client=client_for(merchant, user)
        )

    assert not WalletCard.objects.exists()
    assert GiftCard.objects.get(pk=issued.card.pk).status == CardStatus.VOID


def test_an_unknown_code_is_counted_as_a_failed_lookup(user: User, merchant: Merchant) -> None:
    from giftcards import codes
    from giftcards.exceptions import CardNotFound

    with pytest.raises(CardNotFound):
        services.wallet_claim_by_code(
            user=user, code=codes.generate(), client=client_for(merchant, user)
        )

    failed = FailedCodeLookup.objects.get()
    assert (failed.merchant, failed.user, failed.channel) == (
        merchant,
        user,
        LookupChannel.STOREFRONT,
    )
    assert not WalletCard.objects.exists()


def test_a_forged_or_altered_link_is_refused(user: User, issue: Callable[..., IssuedCard]) -> None:
    token = card_link_token(issue().card)

    for bad in ("nonsense", token[:-2] + "xx", ""):
        with pytest.raises(InvalidCardLink):
            services.wallet_claim_by_link(user=user, token=bad)

    assert not WalletCard.objects.exists()


def test_deleting_the_account_removes_its_wallet_but_not_the_cards(
    user: User, issue: Callable[..., IssuedCard]
) -> None:
    issued = issue()
    services.wallet_claim_by_link(user=user, token=card_link_token(issued.card))

    user.delete()

    assert not WalletCard.objects.exists()
    assert GiftCard.objects.filter(pk=issued.card.pk).exists()

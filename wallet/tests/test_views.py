"""The wallet pages: My cards, claiming by code and by link, a card's ledger (its holder
only), My orders (the person's only), and the links to them."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from django.db import connection
from django.template.loader import render_to_string
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from pytest_django.fixtures import Settings

from accounts.models import User
from giftcards import codes
from giftcards import services as giftcard_services
from giftcards.models import FailedCodeLookup, Transaction
from giftcards.services import IssuedCard
from merchants.models import Merchant
from orders.models import Order
from orders.services import card_link_token, order_access_token_valid
from tests.factories import MerchantFactory, UserFactory
from wallet import services
from wallet.models import WalletCard, WalletSource

pytestmark = pytest.mark.django_db

CARDS = "/account/cards/"
CLAIM = "/account/cards/claim/"
CLAIM_LINK = "/account/cards/claim-link/"
ORDERS = "/account/orders/"


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def no_code_in(page: str, issued: IssuedCard) -> bool:
    squashed = re.sub(r"[^A-Z0-9]", "", page.upper())
    return issued.code not in squashed


def hold(user: User, issued: IssuedCard) -> WalletCard:
    return services.wallet_claim_by_link(user=user, token=card_link_token(issued.card)).wallet_card


# --- My cards ------------------------------------------------------------------------


def test_my_cards_needs_sign_in(client: Client) -> None:
    response = client.get(CARDS)

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/account/cards/")


def test_my_cards_groups_bought_and_received_cards_with_live_balances(
    user: User,
    merchant: Merchant,
    paid_order: Callable[..., Order],
    issue: Callable[..., IssuedCard],
) -> None:
    order = paid_order(buyer=user)
    bought = order.cards.get().gift_card
    received = issue(amount=4000)
    hold(user, received)
    giftcard_services.giftcard_redeem(merchant=merchant, card_id=received.card.pk, amount=1250)

    response = signed_in(user).get(CARDS)

    assert response.status_code == 200
    page = response.content.decode()
    assert "no-store" in response["Cache-Control"]
    bought_part = page.split('id="bought-heading"')[1]
    received_part = page.split('id="received-heading"')[1].split('id="bought-heading"')[0]
    assert f"card ending {bought.last4}" in bought_part
    assert f"card ending {received.card.last4}" in received_part
    assert "€27.50" in received_part  # 40.00 - 12.50, read live from the card
    assert f'href="/account/cards/{received.card.public_id}/"' in page
    assert "Bluebird Coffee" in page
    assert no_code_in(page, received)


def test_my_cards_takes_the_same_number_of_queries_for_one_card_or_many(
    user: User, issue: Callable[..., IssuedCard]
) -> None:
    client = signed_in(user)
    hold(user, issue())
    client.get(CARDS)  # warm up: session, first-time caches
    with CaptureQueriesContext(connection) as one:
        assert client.get(CARDS).status_code == 200
    for _ in range(5):
        hold(user, issue(merchant=MerchantFactory()))
    with CaptureQueriesContext(connection) as six:
        assert client.get(CARDS).status_code == 200

    assert WalletCard.objects.filter(user=user).count() == 6
    assert len(six) == len(one)


def test_an_empty_wallet_explains_how_cards_arrive(user: User) -> None:
    page = signed_in(user).get(CARDS).content.decode()

    assert "No cards yet" in page
    assert 'action="/account/cards/claim/"' in page


# --- Claim by code -------------------------------------------------------------------


def test_claiming_by_code_adds_the_card_and_shows_only_its_last_4(
    user: User, merchant: Merchant, issue: Callable[..., IssuedCard]
) -> None:
    issued = issue()
    client = signed_in(user)

    response = client.post(CLAIM, {"merchant": merchant.slug, "code": issued.formatted_code})

    assert response.status_code == 302
    assert response["Location"] == f"/account/cards/{issued.card.public_id}/"
    assert WalletCard.objects.get(user=user).source == WalletSource.CLAIMED
    page = client.get(response["Location"]).content.decode()
    assert f"Bluebird Coffee card ending {issued.card.last4} is now in your cards" in page
    assert no_code_in(page, issued)


def test_an_unknown_code_is_counted_and_changes_nothing(user: User, merchant: Merchant) -> None:
    response = signed_in(user).post(CLAIM, {"merchant": merchant.slug, "code": codes.generate()})

    assert response.status_code == 404
    assert "No Bluebird Coffee gift card has this code" in response.content.decode()
    assert FailedCodeLookup.objects.filter(merchant=merchant, user=user).count() == 1
    assert not WalletCard.objects.exists()


def test_a_typo_is_caught_without_a_lookup(user: User, merchant: Merchant) -> None:
    code = codes.format_code(codes.generate())
    typo = code[:-1] + ("A" if code[-1] != "A" else "B")

    response = signed_in(user).post(CLAIM, {"merchant": merchant.slug, "code": typo})

    assert response.status_code == 422
    assert "check it for typos" in response.content.decode()
    assert not FailedCodeLookup.objects.exists()
    assert not WalletCard.objects.exists()


def test_claims_are_throttled_like_the_balance_check(
    user: User, merchant: Merchant, issue: Callable[..., IssuedCard], settings: Settings
) -> None:
    settings.GIFTCARD_LOOKUP_FAILURES_PER_CLIENT = 2
    issued = issue()
    client = signed_in(user)
    for _ in range(2):
        unknown = client.post(CLAIM, {"merchant": merchant.slug, "code": codes.generate()})
        assert unknown.status_code == 404

    # Past the limit even a right code is refused, before any lookup.
    response = client.post(CLAIM, {"merchant": merchant.slug, "code": issued.code})

    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert "Too many attempts" in response.content.decode()
    assert FailedCodeLookup.objects.count() == 2
    assert not WalletCard.objects.exists()


def test_a_card_claimed_by_another_account_is_refused_and_nothing_changes(
    user: User, merchant: Merchant, issue: Callable[..., IssuedCard]
) -> None:
    issued = issue()
    other = UserFactory()
    hold(other, issued)

    response = signed_in(user).post(CLAIM, {"merchant": merchant.slug, "code": issued.code})

    assert response.status_code == 409
    page = response.content.decode()
    assert "already in another account" in page
    assert no_code_in(page, issued)
    assert not FailedCodeLookup.objects.exists()
    assert list(WalletCard.objects.values_list("user_id", flat=True)) == [other.pk]


def test_a_void_card_is_refused_and_nothing_changes(
    user: User, merchant: Merchant, issue: Callable[..., IssuedCard]
) -> None:
    issued = issue()
    giftcard_services.giftcard_void(merchant=merchant, card_id=issued.card.pk, reason="test")
    ledger_before = Transaction.objects.count()

    response = signed_in(user).post(CLAIM, {"merchant": merchant.slug, "code": issued.code})

    assert response.status_code == 422
    assert "has been cancelled" in response.content.decode()
    assert not WalletCard.objects.exists()
    assert Transaction.objects.count() == ledger_before


def test_a_code_is_looked_up_only_at_the_chosen_shop(
    user: User, issue: Callable[..., IssuedCard]
) -> None:
    issued = issue()
    elsewhere = MerchantFactory(name="Elsewhere")

    response = signed_in(user).post(CLAIM, {"merchant": elsewhere.slug, "code": issued.code})

    assert response.status_code == 404
    assert not WalletCard.objects.exists()
    assert FailedCodeLookup.objects.get().merchant == elsewhere


def test_claim_needs_a_post_and_a_sign_in(client: Client, user: User, merchant: Merchant) -> None:
    assert signed_in(user).get(CLAIM).status_code == 405
    response = client.post(CLAIM, {"merchant": merchant.slug, "code": codes.generate()})
    assert response.status_code == 302
    assert not FailedCodeLookup.objects.exists()


# --- Claim from a card link ----------------------------------------------------------


def test_claiming_from_a_card_link_adds_the_card(
    user: User, issue: Callable[..., IssuedCard]
) -> None:
    issued = issue()

    response = signed_in(user).post(CLAIM_LINK, {"token": card_link_token(issued.card)})

    assert response.status_code == 302
    assert response["Location"] == f"/account/cards/{issued.card.public_id}/"
    assert WalletCard.objects.get(user=user).gift_card_id == issued.card.pk


def test_a_bad_card_link_is_explained_and_changes_nothing(user: User) -> None:
    client = signed_in(user)

    response = client.post(CLAIM_LINK, {"token": "not-a-token"}, follow=True)

    assert response.redirect_chain[-1][0] == CARDS
    assert "This card link is not valid" in response.content.decode()
    assert not WalletCard.objects.exists()


def test_signed_out_the_claim_explains_and_links_to_sign_in_and_back(
    client: Client, issue: Callable[..., IssuedCard]
) -> None:
    token = card_link_token(issue().card)

    response = client.post(CLAIM_LINK, {"token": token})

    assert response.status_code == 200
    page = response.content.decode()
    assert "Sign in to keep this card" in page
    assert f'href="/accounts/login/?next=/gift/t/{token.replace(":", "%3A")}/"' in page
    assert not WalletCard.objects.exists()


def test_the_claim_snippet_posts_the_token_for_a_signed_in_person(user: User) -> None:
    request = RequestFactory().get("/gift/t/abc:def/")
    request.user = user

    html = render_to_string("wallet/_claim_from_link.html", {"token": "abc:def"}, request=request)

    assert 'action="/account/cards/claim-link/"' in html
    assert 'name="token" value="abc:def"' in html
    assert 'name="csrfmiddlewaretoken"' in html


def test_the_claim_snippet_offers_sign_in_when_signed_out() -> None:
    from django.contrib.auth.models import AnonymousUser

    request = RequestFactory().get("/gift/t/abc:def/")
    request.user = AnonymousUser()

    html = render_to_string("wallet/_claim_from_link.html", {"token": "abc:def"}, request=request)

    assert "/accounts/login/?next=/gift/t/abc%3Adef/" in html
    assert "<form" not in html


# --- A card's ledger -----------------------------------------------------------------


def test_the_holder_sees_the_ledger_but_never_the_code(
    user: User, merchant: Merchant, issue: Callable[..., IssuedCard]
) -> None:
    issued = issue(amount=5000)
    hold(user, issued)
    giftcard_services.giftcard_redeem(merchant=merchant, card_id=issued.card.pk, amount=1999)

    response = signed_in(user).get(f"/account/cards/{issued.card.public_id}/")

    assert response.status_code == 200
    page = response.content.decode()
    assert "Issue" in page
    assert "+€50.00" in page
    assert "Redeem" in page
    assert "-€19.99" in page
    assert "Balance after: €30.01" in page
    assert no_code_in(page, issued)
    assert "no-store" in response["Cache-Control"]


def test_a_card_one_does_not_hold_is_not_found(
    user: User, issue: Callable[..., IssuedCard]
) -> None:
    issued = issue()
    hold(UserFactory(), issued)
    url = f"/account/cards/{issued.card.public_id}/"

    assert signed_in(user).get(url).status_code == 404
    assert signed_in(user).get("/account/cards/gc_nonexistent/").status_code == 404
    assert Client().get(url).status_code == 302


# --- My orders -----------------------------------------------------------------------


def test_my_orders_lists_only_the_persons_orders_newest_first(
    user: User, paid_order: Callable[..., Order]
) -> None:
    first = paid_order(buyer=user)
    as_guest = paid_order(buyer=None, buyer_email=user.email.upper())
    someone = UserFactory()
    theirs = paid_order(buyer=someone)
    theirs_with_my_address = paid_order(buyer=someone, buyer_email=user.email)
    stranger = paid_order(buyer=None, buyer_email="stranger@example.com")

    response = signed_in(user).get(ORDERS)

    assert response.status_code == 200
    page = response.content.decode()
    listed = re.findall(r"/orders/(ord_[A-Za-z0-9]+)/\?t=([^\"]+)\"", page)
    assert [public_id for public_id, _ in listed] == [as_guest.public_id, first.public_id]
    for public_id, token in listed:
        assert order_access_token_valid(Order.objects.get(public_id=public_id), token)
    for hidden in (theirs, theirs_with_my_address, stranger):
        assert hidden.public_id not in page
    assert "Fulfilled" in page
    assert "€25.00" in page


def test_an_unverified_address_does_not_bring_guest_orders(
    paid_order: Callable[..., Order],
) -> None:
    person = UserFactory(verified=False)
    paid_order(buyer=None, buyer_email=person.email)

    page = signed_in(person).get(ORDERS).content.decode()

    assert "No orders yet" in page


# --- Links ---------------------------------------------------------------------------


def test_the_account_home_and_the_menu_link_to_the_wallet(user: User) -> None:
    page = signed_in(user).get("/account/").content.decode()

    assert page.count('href="/account/cards/"') == 2  # the menu and the account page
    assert 'href="/account/orders/"' in page


def test_signed_out_the_menu_has_no_wallet_link(client: Client) -> None:
    page = client.get("/").content.decode()

    assert 'href="/account/cards/"' not in page

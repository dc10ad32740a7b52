"""The platform admin for cards, the ledger, products and failed lookups: read-only
views, actions through services, and never a code on the page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from accounts.models import User
from giftcards import services
from giftcards.models import (
    CardStatus,
    FailedCodeLookup,
    GiftCard,
    LookupChannel,
    Transaction,
    TransactionKind,
)
from giftcards.services import IssuedCard
from giftcards.tests.factories import IssuedCardFactory, ProductFactory
from merchants.models import Merchant

pytestmark = pytest.mark.django_db

CARDS = reverse("admin:giftcards_giftcard_changelist")
LEDGER = reverse("admin:giftcards_transaction_changelist")


def issue(merchant: Merchant, amount: int = 2500, **kwargs: Any) -> IssuedCard:
    return IssuedCardFactory(merchant=merchant, amount=amount, **kwargs)


def assert_no_code(html: str, *issued: IssuedCard) -> None:
    assert "code_digest" not in html
    assert "code_encrypted" not in html
    for item in issued:
        card = GiftCard.objects.get(pk=item.card.pk)
        for secret in (item.code, item.formatted_code, card.code_digest, card.code_encrypted):
            assert secret not in html


def test_card_list_shows_masked_last4_and_formatted_balance_never_the_code(
    admin_client: Client, merchant: Merchant
) -> None:
    issued = issue(merchant, 2550)

    response = admin_client.get(CARDS)

    assert response.status_code == 200
    html = response.content.decode()
    assert issued.card.public_id in html
    assert f"····-····-····-{issued.card.last4}" in html
    assert "€25.50" in html
    assert_no_code(html, issued)


def test_card_page_is_read_only_with_the_ledger_newest_first(
    admin_client: Client, merchant: Merchant
) -> None:
    issued = issue(merchant, 2500)
    services.giftcard_redeem(merchant=merchant, card_id=issued.card.pk, amount=700)

    response = admin_client.get(reverse("admin:giftcards_giftcard_change", args=[issued.card.pk]))

    assert response.status_code == 200
    html = response.content.decode()
    assert_no_code(html, issued)
    assert 'name="balance"' not in html
    assert 'name="status"' not in html
    assert 'name="_save"' not in html
    assert "€18.00" in html  # balance
    assert "-€7.00" in html
    entries = Transaction.objects.filter(gift_card=issued.card).order_by("-created_at", "-id")
    assert html.index(entries[0].public_id) < html.index(entries[1].public_id)


def test_cards_cannot_be_added_changed_or_deleted_in_the_admin(
    admin_client: Client, merchant: Merchant
) -> None:
    card = issue(merchant).card
    change = reverse("admin:giftcards_giftcard_change", args=[card.pk])

    assert admin_client.get(reverse("admin:giftcards_giftcard_add")).status_code == 403
    assert admin_client.post(change, {"balance": "999999"}).status_code == 403
    assert (
        admin_client.post(
            reverse("admin:giftcards_giftcard_delete", args=[card.pk]), {"post": "yes"}
        ).status_code
        == 403
    )
    card.refresh_from_db()
    assert (card.balance, card.status) == (2500, CardStatus.ACTIVE)
    assert Transaction.objects.filter(gift_card=card).count() == 1


def test_search_finds_last4_any_case_card_id_and_email_but_not_a_full_code(
    admin_client: Client, merchant: Merchant
) -> None:
    target = issue(merchant, recipient_email="gift@example.com")
    other = issue(merchant)
    while other.card.last4 == target.card.last4:  # pragma: no cover - 1 in a million
        other = issue(merchant)

    def found(term: str) -> set[str]:
        html = admin_client.get(CARDS, {"q": term}).content.decode()
        return {c.card.public_id for c in (target, other) if c.card.public_id in html}

    assert found(target.card.last4.lower()) == {target.card.public_id}
    assert found(target.card.public_id) == {target.card.public_id}
    assert found("GIFT@example.com") == {target.card.public_id}
    assert found(target.code) == set()
    assert found(target.formatted_code) == set()


def test_void_action_asks_for_a_reason_then_voids_through_the_service(
    admin_client: Client, admin_user: User, merchant: Merchant, other_merchant: Merchant
) -> None:
    first = issue(merchant, 2500)
    second = issue(other_merchant, 1000)
    selected = [first.card.pk, second.card.pk]

    confirm = admin_client.post(
        CARDS, {"action": "void_selected", "index": 0, "_selected_action": selected}
    )

    assert confirm.status_code == 200
    html = confirm.content.decode()
    assert "Void 2 cards?" in html
    assert "Voided by platform admin" in html  # the suggested reason
    assert_no_code(html, first, second)
    assert GiftCard.objects.filter(pk__in=selected, status=CardStatus.ACTIVE).count() == 2

    done = admin_client.post(
        CARDS,
        {
            "action": "void_selected",
            "_selected_action": selected,
            "post": "yes",
            "reason": "Fraud report 42",
        },
        follow=True,
    )

    assert "Voided 2 card(s)." in done.content.decode()
    for issued in (first, second):
        card = GiftCard.objects.get(pk=issued.card.pk)
        assert (card.status, card.balance) == (CardStatus.VOID, 0)
        entry = Transaction.objects.get(gift_card=card, kind=TransactionKind.VOID)
        assert entry.amount == -issued.card.initial_amount
        assert entry.reason == "Fraud report 42"
        assert entry.actor_user == admin_user


def test_void_action_without_a_reason_changes_nothing(
    admin_client: Client, merchant: Merchant
) -> None:
    card = issue(merchant).card

    response = admin_client.post(
        CARDS,
        {"action": "void_selected", "_selected_action": [card.pk], "post": "yes", "reason": ""},
    )

    assert response.status_code == 200
    assert "This field is required." in response.content.decode()
    card.refresh_from_db()
    assert card.status == CardStatus.ACTIVE
    assert Transaction.objects.filter(gift_card=card).count() == 1


def test_void_action_reports_cards_the_service_refuses(
    admin_client: Client, merchant: Merchant
) -> None:
    already = issue(merchant).card
    services.giftcard_void(merchant=merchant, card_id=already.pk, reason="earlier")
    live = issue(merchant).card

    response = admin_client.post(
        CARDS,
        {
            "action": "void_selected",
            "_selected_action": [already.pk, live.pk],
            "post": "yes",
            "reason": "Closing",
        },
        follow=True,
    )

    html = response.content.decode()
    assert f"Card {already.public_id}: This card is already void." in html
    assert "Voided 1 card(s)." in html
    assert Transaction.objects.filter(gift_card=already, kind=TransactionKind.VOID).count() == 1
    live.refresh_from_db()
    assert live.status == CardStatus.VOID


def test_expire_action_expires_only_cards_past_their_date(
    admin_client: Client, admin_user: User, merchant: Merchant
) -> None:
    start = datetime(2026, 3, 1, tzinfo=UTC)
    with time_machine.travel(start, tick=False):
        due = issue(merchant, 1000, expires_at=start + timedelta(days=366)).card
        undated = issue(merchant, 1000).card

    with time_machine.travel(start + timedelta(days=367), tick=False):
        admin_client.force_login(admin_user)  # the earlier session has expired by then
        response = admin_client.post(
            CARDS,
            {"action": "expire_selected", "index": 0, "_selected_action": [due.pk, undated.pk]},
            follow=True,
        )

    assert "Expired 1 card(s); 1 not past their date or already final." in (
        response.content.decode()
    )
    due.refresh_from_db()
    undated.refresh_from_db()
    assert (due.status, due.balance) == (CardStatus.EXPIRED, 0)
    entry = Transaction.objects.get(gift_card=due, kind=TransactionKind.EXPIRE)
    assert (entry.amount, entry.actor_user) == (-1000, admin_user)
    assert (undated.status, undated.balance) == (CardStatus.ACTIVE, 1000)


def test_ledger_admin_is_read_only_and_searchable_by_card(
    admin_client: Client, merchant: Merchant
) -> None:
    issued = issue(merchant, 2500)
    other = issue(merchant, 1000)
    redeem = services.giftcard_redeem(merchant=merchant, card_id=issued.card.pk, amount=250)

    listing = admin_client.get(LEDGER, {"q": issued.card.public_id}).content.decode()
    assert redeem.public_id in listing
    assert "-€2.50" in listing
    assert other.transaction.public_id not in listing
    assert_no_code(listing, issued, other)

    change = reverse("admin:giftcards_transaction_change", args=[redeem.pk])
    page = admin_client.get(change)
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    assert_no_code(page.content.decode(), issued)
    assert admin_client.post(change, {"amount": "-1"}).status_code == 403
    assert admin_client.get(reverse("admin:giftcards_transaction_add")).status_code == 403
    delete = reverse("admin:giftcards_transaction_delete", args=[redeem.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    assert Transaction.objects.filter(pk=redeem.pk, amount=-250).exists()


def test_product_admin_lists_and_takes_products_off_sale(
    admin_client: Client, merchant: Merchant
) -> None:
    product = ProductFactory(merchant=merchant, name="Classic card", denominations=[1000, 2500])
    url = reverse("admin:giftcards_product_changelist")

    html = admin_client.get(url, {"q": "classic"}).content.decode()
    assert "Classic card" in html
    assert "€10.00, €25.00" in html
    assert admin_client.get(reverse("admin:giftcards_product_add")).status_code == 403

    admin_client.post(
        url, {"action": "deactivate_selected", "index": 0, "_selected_action": [product.pk]}
    )
    product.refresh_from_db()
    assert product.is_active is False


def test_failed_lookups_are_a_read_only_list(admin_client: Client, merchant: Merchant) -> None:
    FailedCodeLookup.objects.create(
        merchant=merchant, channel=LookupChannel.API, ip_address="203.0.113.9"
    )
    url = reverse("admin:giftcards_failedcodelookup_changelist")

    assert "203.0.113.9" in admin_client.get(url).content.decode()
    assert admin_client.get(reverse("admin:giftcards_failedcodelookup_add")).status_code == 403


def test_actions_refuse_more_cards_than_one_request_should_handle(
    admin_client: Client, merchant: Merchant, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("giftcards.admin.MAX_CARDS_PER_ACTION", 1)
    cards = [issue(merchant).card, issue(merchant).card]

    response = admin_client.post(
        CARDS,
        {
            "action": "void_selected",
            "_selected_action": [c.pk for c in cards],
            "post": "yes",
            "reason": "Too many",
        },
        follow=True,
    )

    assert "Select at most 1 cards at a time." in response.content.decode()
    assert GiftCard.objects.filter(status=CardStatus.ACTIVE).count() == 2
    assert not Transaction.objects.filter(kind=TransactionKind.VOID).exists()


def test_void_confirmation_submitted_twice_voids_once(
    admin_client: Client, merchant: Merchant
) -> None:
    card = issue(merchant, 2500).card
    confirm = admin_client.post(
        CARDS, {"action": "void_selected", "index": 0, "_selected_action": [card.pk]}
    )
    token = confirm.context["form"]["token"].value()
    assert len(token) >= 16
    submit = {
        "action": "void_selected",
        "_selected_action": [card.pk],
        "post": "yes",
        "reason": "Fraud report 43",
        "token": token,
    }

    first = admin_client.post(CARDS, submit, follow=True)
    again = admin_client.post(CARDS, submit, follow=True)

    assert "Voided 1 card(s)." in first.content.decode()
    html = again.content.decode()
    assert "already voided by this same confirmation" in html
    assert "This card is already void." not in html
    assert Transaction.objects.filter(gift_card=card, kind=TransactionKind.VOID).count() == 1

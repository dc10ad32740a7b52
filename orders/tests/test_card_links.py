"""Card links (``/gift/t/<token>/``) open the card only while they are the card's newest
link and younger than ``CARD_LINK_MAX_AGE_DAYS``: a resend (from the dashboard or the
buyer's status page) revokes the links sent before it. A refused link answers 404 with a
page that says what to do, and never the code."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.core import mail, signing
from django.test import Client
from django.utils import timezone

from communications.models import CommunicationSettings
from giftcards import codes
from giftcards.models import GiftCard, Product
from orders.models import CardDelivery, DeliveryStatus, Order
from orders.services import LineRequest, order_access_token
from orders.tests.factories import order_pay

pytestmark = pytest.mark.django_db

CARD_LINK = re.compile(r"/gift/t/[^\s\"'<>]+/")


def code_of(card: GiftCard) -> str:
    return codes.format_code(codes.decrypt(card.code_encrypted))


def shows_code(html: str, card: GiftCard) -> bool:
    squashed = re.sub(r"[^A-Z0-9]", "", html.upper())
    return codes.decrypt(card.code_encrypted) in squashed


def card_links() -> list[str]:
    """The card link of each card email sent so far, oldest first."""
    return [
        match.group()
        for message in mail.outbox
        if (match := CARD_LINK.search(message.body)) and message.to == ["ana@example.com"]
    ]


@pytest.fixture
def delivery(
    make_order: Callable[..., Order],
    product: Product,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> CardDelivery:
    """A gift card emailed to Ana, with its card link."""
    order = make_order(
        LineRequest(
            product, 2500, is_gift=True, recipient_name="Ana", recipient_email="ana@example.com"
        )
    )
    with django_capture_on_commit_callbacks(execute=True):
        order_pay(order)
    sent = CardDelivery.objects.select_related("order__merchant", "card__gift_card").get()
    assert sent.status == DeliveryStatus.SENT
    assert len(card_links()) == 1
    return sent


def card_of(delivery: CardDelivery) -> GiftCard:
    return GiftCard.objects.get(pk=delivery.card.gift_card_id)


def dashboard_resend(client: Client, delivery: CardDelivery) -> None:
    order = delivery.order
    url = f"/m/{order.merchant.slug}/orders/{order.public_id}/deliveries/{delivery.pk}/resend/"
    assert client.post(url).status_code == 302


def status_page_resend(client: Client, delivery: CardDelivery) -> None:
    order = delivery.order
    url = f"/orders/{order.public_id}/resend/{delivery.pk}/"
    assert client.post(url, {"t": order_access_token(order)}).status_code == 302


def assert_refused(client: Client, link: str, card: GiftCard, *, says: str) -> str:
    """The link answers 404 with the refusal page, and neither it nor its PDF shows the code."""
    response = client.get(link)
    assert response.status_code == 404
    html = response.content.decode()
    assert says in html
    assert not shows_code(html, card)
    assert "Ask the person who sent you the card" in html
    assert "no-cache" in response["Cache-Control"]
    pdf = client.get(f"{link}card.pdf")
    assert pdf.status_code == 404
    assert pdf["Content-Type"].startswith("text/html")
    assert not shows_code(pdf.content.decode(), card)
    return html


def assert_opens(client: Client, link: str, card: GiftCard) -> None:
    response = client.get(link)
    assert response.status_code == 200
    assert code_of(card) in response.content.decode()


# --- Resends revoke the older links ----------------------------------------------------------


@pytest.mark.parametrize("resend", [dashboard_resend, status_page_resend])
def test_a_resend_revokes_the_older_link_and_the_new_one_opens_the_card(
    resend: Callable[[Client, CardDelivery], None],
    client: Client,
    owner_client: Client,
    delivery: CardDelivery,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    [old] = card_links()
    assert_opens(client, old, card_of(delivery))

    with django_capture_on_commit_callbacks(execute=True):
        resend(owner_client if resend is dashboard_resend else client, delivery)

    first, new = card_links()
    assert first == old
    assert new != old
    card = card_of(delivery)
    assert_refused(client, old, card, says="This card link has been replaced")
    assert_opens(client, new, card)


def test_of_several_resends_only_the_newest_link_works(
    client: Client,
    owner_client: Client,
    delivery: CardDelivery,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        dashboard_resend(owner_client, delivery)
        status_page_resend(client, delivery)

    *older, newest = card_links()
    assert len(older) == 2
    card = card_of(delivery)
    for link in older:
        assert_refused(client, link, card, says="This card link has been replaced")
    assert_opens(client, newest, card)


def test_a_resend_that_went_nowhere_leaves_the_older_link_working(
    client: Client,
    owner_client: Client,
    delivery: CardDelivery,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    [old] = card_links()
    version = card_of(delivery).link_version
    CommunicationSettings.objects.filter(pk=1).update(email_enabled=False)

    with django_capture_on_commit_callbacks(execute=True):
        dashboard_resend(owner_client, delivery)

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED
    assert card_links() == [old]
    assert card_of(delivery).link_version == version
    assert_opens(client, old, card_of(delivery))


def test_a_refused_resend_revokes_nothing(
    client: Client,
    owner_client: Client,
    delivery: CardDelivery,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(3):
            dashboard_resend(owner_client, delivery)
    newest = card_links()[-1]
    version = card_of(delivery).link_version

    with django_capture_on_commit_callbacks(execute=True):
        dashboard_resend(owner_client, delivery)  # the fourth within the hour: refused

    assert card_links()[-1] == newest
    assert len(card_links()) == 4
    assert card_of(delivery).link_version == version
    assert_opens(client, newest, card_of(delivery))


# --- Lifetime -------------------------------------------------------------------------------


def test_a_link_opens_the_card_for_400_days_by_default(
    client: Client, delivery: CardDelivery
) -> None:
    [link] = card_links()
    card = card_of(delivery)
    now = timezone.now()

    with time_machine.travel(now + timedelta(days=399)):
        assert_opens(client, link, card)
    with time_machine.travel(now + timedelta(days=401)):
        html = assert_refused(client, link, card, says="This card link has expired")
    assert "sign in" in html


def test_the_link_lifetime_is_the_setting(
    client: Client, delivery: CardDelivery, settings: Any
) -> None:
    settings.CARD_LINK_MAX_AGE_DAYS = 30
    [link] = card_links()
    card = card_of(delivery)
    now = timezone.now()

    with time_machine.travel(now + timedelta(days=29)):
        assert_opens(client, link, card)
    with time_machine.travel(now + timedelta(days=31)):
        assert_refused(client, link, card, says="This card link has expired")


# --- Forged and altered links ---------------------------------------------------------------


def test_a_link_whose_version_was_altered_is_refused(
    client: Client,
    owner_client: Client,
    delivery: CardDelivery,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    [old] = card_links()
    token = old.removeprefix("/gift/t/").removesuffix("/")
    public_id, version, stamp, signature = token.split(":")
    assert version == "0"
    with django_capture_on_commit_callbacks(execute=True):
        dashboard_resend(owner_client, delivery)  # version 1 is now the current one

    altered = f"/gift/t/{public_id}:1:{stamp}:{signature}/"

    assert_refused(client, altered, card_of(delivery), says="This link does not open a gift card")


def test_a_forged_link_is_refused_with_the_same_page(
    client: Client, delivery: CardDelivery
) -> None:
    card = card_of(delivery)
    for forged in (
        "/gift/t/nonsense/",
        f"/gift/t/{card.public_id}:0/",
        f"/gift/t/{card.public_id}:0:abc:def/",
    ):
        assert_refused(client, forged, card, says="This link does not open a gift card")
    assert client.head(f"/gift/t/{card.public_id}:0:abc:def/").status_code == 404


def test_a_link_signed_before_links_had_versions_works_until_the_card_is_sent_again(
    client: Client,
    owner_client: Client,
    delivery: CardDelivery,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    card = card_of(delivery)
    legacy = signing.TimestampSigner(salt="orders.card-link").sign(card.public_id)
    assert_opens(client, f"/gift/t/{legacy}/", card)

    with django_capture_on_commit_callbacks(execute=True):
        dashboard_resend(owner_client, delivery)

    assert_refused(client, f"/gift/t/{legacy}/", card, says="This card link has been replaced")

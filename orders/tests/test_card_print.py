"""The printable card (SF-5): the card page prints as one card and downloads as a
one-page PDF behind the same token checks; the delivery email carries the card's QR
code as an inline PNG."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from datetime import timedelta
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
import qrcode
import qrcode.constants
import time_machine
from django.contrib.staticfiles import finders
from django.core import mail
from django.test import Client
from django.utils import timezone
from PIL import Image

from giftcards import codes
from giftcards.models import GiftCard, Product
from giftcards.services import giftcard_void
from orders import card_images
from orders.card_images import PrintableCard, card_pdf_bytes
from orders.models import Order
from orders.services import LineRequest, card_link_token
from orders.tests.factories import order_pay

pytestmark = pytest.mark.django_db

MESSAGE = "Happy birthday, Ana! Enjoy a coffee on me."


@pytest.fixture
def gift(
    make_order: Callable[..., Order],
    product: Product,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> GiftCard:
    """A €50 gift card delivered by email to Ana, with a message."""
    with django_capture_on_commit_callbacks(execute=True):
        order = make_order(
            LineRequest(
                product,
                5000,
                is_gift=True,
                recipient_name="Ana",
                recipient_email="ana@example.com",
                message=MESSAGE,
            )
        )
        order_pay(order)
    return GiftCard.objects.get()


def code_of(card: GiftCard) -> str:
    return codes.format_code(codes.decrypt(card.code_encrypted))


def pdf_url(card: GiftCard) -> str:
    return f"/gift/t/{card_link_token(card)}/card.pdf"


def page_count(pdf: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page\b", pdf))


# --- The PDF --------------------------------------------------------------------------------


def test_the_pdf_is_one_a5_page_sent_as_a_private_download(client: Client, gift: GiftCard) -> None:
    response = client.get(pdf_url(gift))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'attachment; filename="bluebird-gift-card.pdf"'
    assert "no-store" in response["Cache-Control"]
    assert response["Referrer-Policy"] == "same-origin"
    pdf = response.content
    assert pdf.startswith(b"%PDF-")
    assert page_count(pdf) == 1
    assert re.search(rb"/Count\s+1\b", pdf)
    # A5 landscape in points (210 x 148 mm), drawn at 150 dpi.
    assert b"/MediaBox [ 0 0 595.2 419.52 ]" in pdf
    assert b"/Width 1240" in pdf
    assert b"/Height 874" in pdf
    assert code_of(gift).encode() not in pdf  # drawn, not stored as text to copy out


def test_the_pdf_page_shows_the_cards_qr_code(gift: GiftCard) -> None:
    """The page's picture holds the same QR modules as the qrcode library draws."""
    code = code_of(gift)
    page = card_images.card_page(
        PrintableCard(
            merchant_name="Bluebird Coffee",
            brand_colour="#0f766e",
            amount="€50.00",
            amount_ascii="50.00 EUR",
            code=code,
            expires_on="1 Jan 2030",
            message=MESSAGE,
        )
    )
    assert page.size == card_images.PAGE
    expected = card_images.qr_image(code, pixels=360, at_most=True)
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4)
    qr.add_data(code)
    qr.make(fit=True)
    quiet = qr.border * expected.width // (qr.modules_count + 2 * qr.border)
    # The first dark pixel right of the text column is the corner of the QR's finder mark.
    grey = page.convert("L")
    corner = next(
        (x, y)
        for y in range(160, page.height)
        for x in range(card_images.PAGE[0] // 2, page.width)
        if grey.getpixel((x, y)) < 100
    )
    left, top = corner[0] - quiet, corner[1] - quiet
    drawn = grey.crop((left, top, left + expected.width, top + expected.height))
    assert drawn.tobytes() == expected.tobytes()


def test_a_forged_token_gets_no_pdf(client: Client, gift: GiftCard) -> None:
    token = card_link_token(gift)
    assert client.get(f"/gift/t/{gift.public_id}:forged/card.pdf").status_code == 404
    assert client.get(f"/gift/t/{token}x/card.pdf").status_code == 404


def test_an_expired_link_gets_no_pdf(client: Client, gift: GiftCard) -> None:
    url = pdf_url(gift)
    with time_machine.travel(timezone.now() + timedelta(days=401)):
        assert client.get(url).status_code == 404


def test_a_void_card_gets_no_pdf(client: Client, gift: GiftCard) -> None:
    giftcard_void(merchant=gift.merchant, card_id=gift.pk, reason="Refunded")
    page = client.get(f"/gift/t/{card_link_token(gift)}/")

    assert client.get(pdf_url(gift)).status_code == 404
    assert page.status_code == 200
    html = page.content.decode()
    assert "can no longer be used" in html
    assert "card.pdf" not in html
    assert code_of(gift) not in html


def test_a_system_without_dejavu_still_prints_the_card(monkeypatch, gift: GiftCard) -> None:
    monkeypatch.setattr(
        card_images, "FONT_FILES", dict.fromkeys(card_images.FONT_FILES, "no-such-font.ttf")
    )
    card_images._font.cache_clear()
    try:
        pdf = card_pdf_bytes(
            PrintableCard(
                merchant_name="Café Zoë",
                brand_colour="#f5d000",
                amount="€50.00",
                amount_ascii="50.00 EUR",
                code=code_of(gift),
                expires_on="",
                message="Crème brûlée for you ☕",
            )
        )
    finally:
        card_images._font.cache_clear()
    assert pdf.startswith(b"%PDF-")
    assert page_count(pdf) == 1
    assert card_images._fold("Café Zoë ☕", False) == "Cafe Zoe ?"


# --- The card page --------------------------------------------------------------------------


def test_the_card_page_prints_and_links_its_pdf(client: Client, gift: GiftCard) -> None:
    token = card_link_token(gift)
    response = client.get(f"/gift/t/{token}/")

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    assert response["Referrer-Policy"] == "same-origin"
    html = response.content.decode()
    assert re.search(r'<link rel="stylesheet" href="[^"]*css/card-print\.css" media="print">', html)
    assert re.search(r'<script src="[^"]*js/card-print\.js" defer></script>', html)
    assert '<button type="button" class="button" data-print hidden>Print</button>' in html
    assert f'href="/gift/t/{token}/card.pdf" download>Download PDF</a>' in html
    assert "Bluebird Coffee" in html
    assert "€50.00" in html
    assert code_of(gift) in html
    assert MESSAGE in html
    assert "onclick" not in html  # no inline script: the CSP refuses it
    assert finders.find("css/card-print.css")
    assert finders.find("js/card-print.js")
    assert "window.print()" in Path(finders.find("js/card-print.js")).read_text()


def test_a_card_for_the_buyer_shows_no_message(
    client: Client,
    make_order: Callable[..., Order],
    product: Product,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        order = make_order(LineRequest(product, 2500))
        order_pay(order)
    card = GiftCard.objects.get()
    html = client.get(f"/gift/t/{card_link_token(card)}/").content.decode()
    assert 'class="gift-message"' not in html
    assert client.get(pdf_url(card)).status_code == 200


# --- The delivery email ---------------------------------------------------------------------


def inline_part(message: Message, content_id: str) -> Message:
    [part] = [p for p in message.walk() if p["Content-ID"] == f"<{content_id}>"]
    return part


def test_the_delivery_email_carries_the_qr_code_of_the_card_inline(gift: GiftCard) -> None:
    [email] = [m for m in mail.outbox if m.to == ["ana@example.com"]]
    built = email.message()
    related = next(p for p in built.walk() if p.get_content_type() == "multipart/related")
    html_part, image_part = related.get_payload()
    assert image_part is inline_part(built, "card-qr")
    assert image_part.get_content_type() == "image/png"
    assert image_part.get_content_disposition() == "inline"
    assert 'src="cid:card-qr"' in html_part.get_payload(decode=True).decode()

    png = image_part.get_payload(decode=True)
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    assert image.width == image.height
    assert 140 <= image.width <= 200  # shown at 160 px

    # The same modules the qrcode library draws for the code, at error correction M.
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4)
    qr.add_data(code_of(gift))
    qr.make(fit=True)
    qr.box_size = image.width // (qr.modules_count + 2 * qr.border)
    expected = qr.make_image(fill_color="black", back_color="white").get_image().convert("L")
    assert expected.size == image.size
    assert image.convert("L").tobytes() == expected.tobytes()

"""A delivered card drawn outside its web page: the QR code of its code as a PNG (the
image attached to the delivery email) and the printable one-page PDF.

The PDF is one A5 landscape page drawn with Pillow at 150 dpi, so printing a card needs
no rendering engine. Text uses DejaVu when the system has it (it covers currency symbols
and accented letters); otherwise Pillow's bundled font, which is ASCII only, so text is
folded to ASCII for it rather than printed as empty boxes.
"""

from __future__ import annotations

import io
import unicodedata
from dataclasses import dataclass
from functools import cache
from typing import Any

import qrcode
import qrcode.constants
from PIL import Image, ImageDraw, ImageFont

from merchants.branding import palette_for

QR_EMAIL_PIXELS = 160  # the size the delivery email shows it at
DPI = 150
PAGE = (1240, 874)  # A5 landscape (210 x 148 mm) at 150 dpi
MARGIN = 64
INK = "#1a1a1a"
MUTED = "#555555"
RULE = "#d0d0d0"

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


def _qr(text: str) -> qrcode.QRCode[Any]:
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4)
    qr.add_data(text)
    qr.make(fit=True)
    return qr


def qr_image(text: str, *, pixels: int, at_most: bool = False) -> Image.Image:
    """The QR code of ``text`` (error correction M, quiet zone included) as close to
    ``pixels`` wide as whole modules allow (no wider, with ``at_most``)."""
    qr = _qr(text)
    modules = qr.modules_count + 2 * qr.border
    qr.box_size = max(1, pixels // modules if at_most else round(pixels / modules))
    image: Image.Image = qr.make_image(fill_color="black", back_color="white").get_image()
    return image.convert("L")


def qr_png(text: str, *, pixels: int = QR_EMAIL_PIXELS) -> bytes:
    buffer = io.BytesIO()
    qr_image(text, pixels=pixels).save(buffer, "PNG", optimize=True)
    return buffer.getvalue()


# --- The printable card ---------------------------------------------------------------


@dataclass(frozen=True)
class PrintableCard:
    merchant_name: str
    brand_colour: str
    amount: str  # formatted with its currency symbol
    amount_ascii: str  # the same with the currency code, for a font without the symbol
    code: str  # formatted, as printed on the card page
    expires_on: str  # "1 Jan 2030"; empty for a card that never expires
    message: str = ""
    site_name: str = ""


# Looked up in the system's font directories too (Debian: fonts-dejavu-core).
FONT_FILES = {
    "": "DejaVuSans.ttf",
    "bold": "DejaVuSans-Bold.ttf",
    "mono": "DejaVuSansMono-Bold.ttf",
    "italic": "DejaVuSans-Oblique.ttf",
}


@cache
def _font(size: int, style: str = "") -> tuple[Font, bool]:
    """A font of ``size`` pixels and whether it covers more than ASCII."""
    try:
        return ImageFont.truetype(FONT_FILES[style], size), True
    except OSError:
        return ImageFont.load_default(size=size), False


def _fold(text: str, unicode_font: bool) -> str:
    if unicode_font:
        return text
    folded = unicodedata.normalize("NFKD", text)
    return "".join(ch if ch.isascii() else "?" for ch in folded if not unicodedata.combining(ch))


def _wrap(draw: ImageDraw.ImageDraw, text: str, font: Font, width: int) -> list[str]:
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        line = ""
        for word in paragraph.split():
            candidate = f"{line} {word}".strip()
            if not line or draw.textlength(candidate, font=font) <= width:
                line = candidate
            else:
                lines.append(line)
                line = word
        lines.append(line)
    return lines


def _fit(
    draw: ImageDraw.ImageDraw, text: str, size: int, style: str, width: int | None
) -> tuple[Font, bool]:
    """The largest font up to ``size`` in which ``text`` fits on one line of ``width``."""
    while True:
        font, unicode_font = _font(size, style)
        if width is None or size <= 12:
            return font, unicode_font
        if draw.textlength(_fold(text, unicode_font), font=font) <= width:
            return font, unicode_font
        size -= 2


def _text(
    draw: ImageDraw.ImageDraw,
    xy: tuple[int, int],
    text: str,
    *,
    size: int,
    style: str = "",
    fill: str = INK,
    width: int | None = None,
) -> int:
    """Draw one line (shrunk to ``width`` when given); returns the y below it."""
    font, unicode_font = _fit(draw, text, size, style, width)
    draw.text(xy, _fold(text, unicode_font), font=font, fill=fill)
    return xy[1] + round(getattr(font, "size", size) * 1.3)


def card_page(card: PrintableCard) -> Image.Image:
    """The card on one A5 landscape page: brand band with the merchant's name, amount,
    code, QR code, the sender's message if any, validity and how to use it."""
    width, height = PAGE
    page = Image.new("RGB", PAGE, "white")
    draw = ImageDraw.Draw(page)
    palette = palette_for(card.brand_colour)

    band = 150
    draw.rectangle((0, 0, width, band), fill=palette.brand)
    _text(
        draw,
        (MARGIN, 48),
        card.merchant_name,
        size=52,
        style="bold",
        fill=palette.brand_ink,
        width=width - 2 * MARGIN - 260,
    )
    label_font = _font(30)[0]
    label = "Gift card"
    draw.text(
        (width - MARGIN - draw.textlength(label, font=label_font), 62),
        label,
        font=label_font,
        fill=palette.brand_ink,
    )

    qr_size = 360
    qr_left = width - MARGIN - qr_size
    qr = qr_image(card.code, pixels=qr_size, at_most=True)
    inset = (qr_size - qr.width) // 2
    page.paste(qr, (qr_left + inset, band + 40 + inset))
    draw.rectangle(
        (qr_left - 1, band + 39, qr_left + qr_size, band + 40 + qr_size), outline=RULE, width=1
    )

    column = qr_left - MARGIN - 40
    _, unicode_font = _font(96, "bold")
    amount = card.amount if unicode_font else card.amount_ascii
    y = _text(draw, (MARGIN, band + 36), amount, size=96, style="bold", width=column)
    y = _text(draw, (MARGIN, y + 10), "Code", size=26, fill=MUTED)
    y = _text(draw, (MARGIN, y), card.code, size=54, style="mono", width=column)
    validity = f"Valid until {card.expires_on}" if card.expires_on else "No expiry"
    y = _text(draw, (MARGIN, y + 6), validity, size=30)

    if card.message:
        message_font, message_unicode = _font(30, "italic")
        lines = _wrap(draw, _fold(card.message, message_unicode), message_font, column - 24)
        shown = lines[:5]
        if len(lines) > 5:
            shown[-1] = shown[-1].rstrip(".") + "..."
        top = y + 24
        for line in shown:
            draw.text((MARGIN + 24, top), line, font=message_font, fill=INK)
            top += 40
        draw.line((MARGIN, y + 24, MARGIN, top), fill=palette.brand, width=6)

    footer_font, _ = _font(24)
    footer = (
        "Show this code at the till or type it at checkout. Keep it private: anyone"
        " with the code can spend the card."
    )
    draw.line((MARGIN, height - 120, width - MARGIN, height - 120), fill=RULE, width=2)
    top = height - 100
    for line in _wrap(draw, footer, footer_font, width - 2 * MARGIN):
        draw.text((MARGIN, top), line, font=footer_font, fill=MUTED)
        top += 32
    if card.site_name:
        _text(draw, (MARGIN, top), card.site_name, size=20, fill=MUTED)

    return page


def card_pdf_bytes(card: PrintableCard) -> bytes:
    """``card_page`` as a one-page PDF at 150 dpi."""
    buffer = io.BytesIO()
    card_page(card).save(
        buffer,
        "PDF",
        resolution=DPI,
        title=f"{card.merchant_name} gift card",
        quality=92,
        subsampling=0,
    )
    return buffer.getvalue()

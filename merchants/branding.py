"""A merchant's brand colour, made safe to use: validated, and paired with text colours
that keep WCAG 2.2 AA contrast (4.5:1) whatever colour the merchant picked.

The colours reach the page through a small per-merchant stylesheet (``brand.css``),
never through inline styles, which the Content Security Policy refuses.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

DEFAULT_COLOUR = "#1f4f8a"
_HEX = re.compile(r"^#[0-9a-fA-F]{6}$")
WHITE = "#ffffff"
BLACK = "#000000"
AA_TEXT = 4.5


def valid_colour(value: str | None) -> str:
    """The colour in lower-case ``#rrggbb``, or the platform default if it is not one."""
    if value and _HEX.match(value):
        return value.lower()
    return DEFAULT_COLOUR


def _channels(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def _linear(channel: int) -> float:
    c = channel / 255
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def luminance(colour: str) -> float:
    r, g, b = (_linear(c) for c in _channels(colour))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    la, lb = luminance(a), luminance(b)
    light, dark = max(la, lb), min(la, lb)
    return (light + 0.05) / (dark + 0.05)


def _darken(colour: str, step: float) -> str:
    r, g, b = (round(c * (1 - step)) for c in _channels(colour))
    return f"#{r:02x}{g:02x}{b:02x}"


@dataclass(frozen=True)
class Palette:
    brand: str  # the merchant's colour, as a background
    brand_ink: str  # text on ``brand``
    accent: str  # links and buttons: the brand colour, darkened until it reads on white
    accent_ink: str  # text on ``accent``

    @property
    def css(self) -> str:
        return (
            "/* Brand colours of one storefront; contrast checked when generated. */\n"
            "body.storefront {\n"
            f"  --brand: {self.brand};\n"
            f"  --brand-ink: {self.brand_ink};\n"
            f"  --accent: {self.accent};\n"
            f"  --accent-ink: {self.accent_ink};\n"
            "}\n"
        )

    @property
    def version(self) -> str:
        """Changes whenever the stylesheet does: part of its URL, and its ETag."""
        return hashlib.sha256(self.css.encode()).hexdigest()[:12]


def palette_for(colour: str | None) -> Palette:
    brand = valid_colour(colour)
    brand_ink = WHITE if contrast(brand, WHITE) >= contrast(brand, BLACK) else BLACK
    accent = brand
    step = 0.0
    while contrast(accent, WHITE) < AA_TEXT:  # black reaches 21:1, so this ends
        step += 0.05
        accent = _darken(brand, min(step, 1.0))
    return Palette(brand=brand, brand_ink=brand_ink, accent=accent, accent_ink=WHITE)

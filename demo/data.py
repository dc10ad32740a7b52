"""The demo products and cards ``seed_demo`` adds after the merchants and people.

Each helper must be idempotent: running ``seed_demo`` twice changes nothing the
second time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.urls import NoReverseMatch, reverse

from core.money import exponent, format_money
from core.site import site_url
from giftcards import codes, services
from giftcards.models import CardStatus, GiftCard, Product
from giftcards.product_services import product_create
from merchants.models import Merchant

# The merchant whose till card ``seed_demo`` prints, to try at the till or the API.
TILL_MERCHANT = "bluebird-coffee"
DEMO_MARK = {"demo": True}
TILL_MARK = {"demo": True, "demo_till": True}


@dataclass(frozen=True)
class _ProductSpec:
    name: str
    description: str
    denominations: tuple[int, ...] = ()  # major units
    min_amount: int | None = None
    max_amount: int | None = None
    validity_days: int | None = None
    reloadable: bool = False


PRODUCTS = (
    _ProductSpec(
        name="Classic card",
        description="Our gift card in three sizes.",
        denominations=(10, 25, 50),
        validity_days=365 * 3,
    ),
    _ProductSpec(
        name="Any amount",
        description="You choose the amount.",
        min_amount=5,
        max_amount=500,
        validity_days=365 * 3,
    ),
    _ProductSpec(
        name="Reloadable card",
        description="Top it up at the counter whenever you like.",
        min_amount=10,
        max_amount=200,
        reloadable=True,
    ),
)


def _minor(major: int, currency: str) -> int:
    return int(major * 10 ** exponent(currency))


def _products(merchant: Merchant) -> dict[str, Product]:
    """The demo catalogue, created once; products an admin or owner changed are left
    as they are."""
    currency = merchant.currency
    existing = {p.name: p for p in Product.objects.filter(merchant=merchant)}
    for spec in PRODUCTS:
        if spec.name in existing:
            continue
        existing[spec.name] = product_create(
            merchant=merchant,
            name=spec.name,
            description=spec.description,
            currency=currency,
            denominations=[_minor(d, currency) for d in spec.denominations],
            min_amount=_minor(spec.min_amount, currency) if spec.min_amount else None,
            max_amount=_minor(spec.max_amount, currency) if spec.max_amount else None,
            validity_days=spec.validity_days,
            reloadable=spec.reloadable,
        )
    return existing


def _issue(
    merchant: Merchant, product: Product, major: int, *, metadata: dict[str, Any], email: str = ""
) -> GiftCard:
    return services.giftcard_issue(
        merchant=merchant,
        product=product,
        amount=_minor(major, merchant.currency),
        recipient_email=email,
        metadata=dict(metadata),
        actor=None,
        reference="demo",
    ).card


def _cards(merchant: Merchant, products: dict[str, Product]) -> None:
    """A few cards through the real issuing service, once per merchant, and one partial
    redemption so the ledger shows more than issues."""
    if GiftCard.objects.filter(merchant=merchant, metadata__demo=True).exists():
        return
    classic = products["Classic card"]
    _issue(merchant, classic, 50, metadata=TILL_MARK)
    _issue(merchant, classic, 25, metadata=DEMO_MARK, email="customer@example.com")
    spent = _issue(merchant, products["Any amount"], 40, metadata=DEMO_MARK)
    _issue(merchant, products["Reloadable card"], 20, metadata=DEMO_MARK)
    services.giftcard_redeem(
        merchant=merchant,
        card_id=spent.pk,
        amount=_minor(15, merchant.currency),
        reference="demo-receipt-1",
    )


def _till_card_line(merchant: Merchant) -> str | None:
    card = (
        GiftCard.objects.filter(merchant=merchant, metadata__demo_till=True)
        .order_by("created_at", "pk")
        .first()
    )
    if card is None:
        return None
    try:
        code = codes.decrypt(card.code_encrypted)
    except codes.InvalidCode:
        return (
            f"Demo gift card for {merchant.name}: {card.public_id} (its code cannot be "
            "decrypted with the current GIFTCARD_CODE_KEY)"
        )
    state = "" if card.status == CardStatus.ACTIVE else f", {card.get_status_display().lower()}"
    try:
        where = site_url() + reverse("giftcards:till", kwargs={"merchant_slug": merchant.slug})
    except NoReverseMatch:
        where = "the till"
    return (
        f"Demo gift card for {merchant.name} ({format_money(card.balance, card.currency)}"
        f"{state}): {codes.format_code(code)}  -> try it at {where} "
        "or with POST /api/v1/gift-cards/redeem/"
    )


def seed_extra(*, merchants: dict[str, Merchant]) -> list[str]:
    """Create feature demo data for ``merchants``; return lines to print."""
    lines: list[str] = []
    for merchant in merchants.values():
        _cards(merchant, _products(merchant))
    if TILL_MERCHANT in merchants:
        line = _till_card_line(merchants[TILL_MERCHANT])
        if line:
            lines.append(line)
    return lines

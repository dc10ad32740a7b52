"""The public storefront of each merchant (SF-1, SF-2, SF-7).

Only active merchants and their active products exist here; everything else is 404.
Pages are server-rendered and work without JavaScript; ``storefront.js`` only fills
in the buyer's time zone and hides the gift fields when the card is for the buyer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_cache_control
from django.views.decorators.cache import never_cache
from django.views.decorators.http import condition, require_http_methods, require_safe

from core.errors import ApplicationError
from core.money import format_money
from core.net import client_ip
from giftcards.exceptions import CardNotFound, TooManyLookups
from giftcards.lookups import LookupClient, find_card_by_code
from giftcards.models import CardStatus, GiftCard, LookupChannel, Product
from giftcards.product_rules import product_validity_days
from merchants import branding
from merchants.models import Merchant
from storefront import checkout, pricing, selectors, seo, throttle
from storefront.forms import BalanceForm, Purchase

ADD_RECIPIENT = "add_recipient"  # the name of the "Add another recipient" button
BRAND_CSS_MAX_AGE = 60 * 60 * 24 * 365  # versioned URL: a new colour is a new URL
BRAND_CSS_UNVERSIONED_MAX_AGE = 60 * 5


def get_merchant(slug: str) -> Merchant:
    merchant = selectors.merchant_public_get(slug=slug)
    if merchant is None:
        raise Http404("No such storefront")
    return merchant


def get_product(merchant: Merchant, public_id: str) -> Product:
    product = selectors.product_public_get(merchant=merchant, public_id=public_id)
    if product is None:
        raise Http404("No such product")
    product.merchant = merchant  # already loaded; saves a query per use
    return product


def _base_context(merchant: Merchant) -> dict[str, Any]:
    palette = branding.palette_for(merchant.brand_colour)
    return {
        "merchant": merchant,
        "brand_version": palette.version,
        "logo_url": seo.image_url(merchant.logo),
    }


@dataclass(frozen=True)
class ProductCard:
    """A product as the storefront lists it."""

    product: Product
    price: str
    image_url: str


# --- Pages -------------------------------------------------------------------------------


@require_safe
def storefront_home(request: HttpRequest, slug: str) -> HttpResponse:
    merchant = get_merchant(slug)
    products = list(selectors.product_public_list(merchant=merchant))
    cards = [
        ProductCard(product=p, price=pricing.price_label(p), image_url=seo.image_url(p.image))
        for p in products
    ]
    context = {
        **_base_context(merchant),
        "cards": cards,
        "meta": seo.storefront_meta(merchant, products),
    }
    return render(request, "storefront/home.html", context)


def _validity(product: Product) -> str:
    days = product_validity_days(product)
    if days is None:
        return "Never expires."
    if days % 365 == 0:
        years = days // 365
        return f"Valid for {years} year{'s' if years != 1 else ''} from purchase."
    return f"Valid for {days} days from purchase."


def _product_page(
    request: HttpRequest, product: Product, purchase: Purchase, *, status: int = 200
) -> HttpResponse:
    purchase.annotate()
    context = {
        **_base_context(product.merchant),
        "product": product,
        "price": pricing.price_label(product),
        "validity": _validity(product),
        "image_url": seo.image_url(product.image),
        "form": purchase.form,
        "recipients": purchase.recipients,
        "can_add_recipient": purchase.can_add_recipient,
        "errors": purchase.error_summary(),
        "meta": seo.product_meta(product),
    }
    return render(request, "storefront/product.html", context, status=status)


def _initial(request: HttpRequest) -> dict[str, Any]:
    user = request.user
    if not user.is_authenticated:
        return {}
    return {"buyer_name": user.full_name, "buyer_email": user.email}


@require_http_methods(["GET", "HEAD", "POST"])
def product_detail(request: HttpRequest, slug: str, public_id: str) -> HttpResponse:
    merchant = get_merchant(slug)
    product = get_product(merchant, public_id)
    if request.method != "POST":
        return _product_page(request, product, Purchase(product=product, initial=_initial(request)))
    if ADD_RECIPIENT in request.POST:
        # Without JavaScript: the same page again with one more empty recipient block.
        adding = Purchase(request.POST, product=product, add_recipient=True)
        return _product_page(request, product, adding)
    purchase = Purchase(request.POST, product=product)
    if not purchase.is_valid():
        return _product_page(request, product, purchase, status=422)
    try:
        payment_url = checkout.place_order(request=request, purchase=purchase)
    except ApplicationError as exc:
        checkout.show_refusal(exc, purchase)
        return _product_page(request, product, purchase, status=422)
    return HttpResponseRedirect(payment_url, status=303)


def _brand_etag(request: HttpRequest, slug: str) -> str | None:
    merchant = selectors.merchant_public_get(slug=slug)
    return None if merchant is None else branding.palette_for(merchant.brand_colour).version


@require_safe
@condition(etag_func=_brand_etag)
def brand_css(request: HttpRequest, slug: str) -> HttpResponse:
    """The merchant's colours as CSS custom properties (inline styles are not allowed)."""
    merchant = get_merchant(slug)
    palette = branding.palette_for(merchant.brand_colour)
    response = HttpResponse(palette.css, content_type="text/css; charset=utf-8")
    if request.GET.get("v") == palette.version:
        patch_cache_control(response, public=True, max_age=BRAND_CSS_MAX_AGE, immutable=True)
    else:
        patch_cache_control(response, public=True, max_age=BRAND_CSS_UNVERSIONED_MAX_AGE)
    return response


# --- Balance check ---------------------------------------------------------------------------


def _card_result(card: GiftCard) -> dict[str, Any]:
    now = timezone.now()
    state = card.current_status(now)
    notes = {
        CardStatus.ACTIVE: "",
        CardStatus.REDEEMED: "This card has been spent in full.",
        CardStatus.EXPIRED: "This card has expired and can no longer be used.",
        CardStatus.VOID: "This card has been cancelled and can no longer be used.",
        CardStatus.PENDING: "This card is not active yet: it becomes usable once paid for "
        "and delivered.",
    }
    return {
        "last4": card.last4,
        "balance": format_money(card.balance, card.currency),
        "status": CardStatus(state).label,
        "note": notes.get(CardStatus(state), ""),
        "expires_at": card.expires_at,
        "usable": card.is_usable(now),
    }


def _throttled_page(
    request: HttpRequest, merchant: Merchant, form: BalanceForm, refusal: TooManyLookups
) -> HttpResponse:
    retry_after = refusal.retry_after
    context = {
        **_base_context(merchant),
        "form": form,
        "errors": [],
        **throttle.throttled_context(retry_after, reason=refusal.detail),
        "meta": _balance_meta(merchant),
    }
    response = render(request, "storefront/balance.html", context, status=429)
    return throttle.set_retry_after(response, retry_after)


def _balance_meta(merchant: Merchant) -> seo.PageMeta:
    return seo.PageMeta(
        title=f"Check a {merchant.name} gift card balance",
        description=seo.describe(
            "", f"Check the balance and expiry date of a {merchant.name} gift card."
        ),
        canonical=seo.absolute(reverse("storefront:balance", args=[merchant.slug])),
    )


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def balance_check(request: HttpRequest, slug: str) -> HttpResponse:
    """Look a card up by its code (POST only: a code never goes into a URL or a log).

    Throttled per visitor and per merchant (GC-5): past the limit, 429 before any lookup.
    The code is never echoed back; the card shows as its last four characters.
    """
    merchant = get_merchant(slug)
    context: dict[str, Any] = {
        **_base_context(merchant),
        "meta": _balance_meta(merchant),
        "errors": [],
    }
    if request.method != "POST":
        form = BalanceForm()
        form.annotate()
        return render(request, "storefront/balance.html", {**context, "form": form})
    form = BalanceForm(request.POST)
    status = 200
    if form.is_valid():
        user = request.user
        if not user.is_authenticated and not request.session.session_key:
            request.session.save()  # a visitor's guesses are counted against their session
        client = LookupClient(
            merchant=merchant,
            channel=LookupChannel.STOREFRONT,
            ip_address=client_ip(request),
            user=user if user.is_authenticated else None,
            session_key=request.session.session_key or "",
        )
        try:
            card = find_card_by_code(client=client, code=form.cleaned_data["code"])
        except TooManyLookups as exc:
            return _throttled_page(request, merchant, BalanceForm(), exc)
        except CardNotFound:
            form.add_error(
                "code",
                f"No {merchant.name} gift card has this code. Check the code and try again.",
            )
            status = 404
        else:
            context["result"] = _card_result(card)
            form = BalanceForm()  # an empty form for the next card
    else:
        status = 422
    form.annotate()
    context.update(form=form, errors=form.error_summary() if form.is_bound else [])
    return render(request, "storefront/balance.html", context, status=status)

"""The person's wallet pages: My cards, one card's ledger, claiming a card (by code or
from a card link) and My orders.

Every page is the signed-in person's own and is never cached. A code is taken only by
POST, never echoed back (the form's input does not keep it) and never logged; a card
shows as its last 4. A card someone does not hold is a 404, as if it did not exist.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from accounts.models import User
from core.errors import ApplicationError
from core.money import format_money
from core.net import client_ip
from giftcards.exceptions import CardNotFound, TooManyLookups
from giftcards.lookups import LookupClient
from giftcards.models import LookupChannel
from orders.card_links import card_link_card
from orders.exceptions import CardLinkRefused
from orders.models import Order
from orders.services import order_access_token
from storefront.throttle import set_retry_after, throttled_context
from wallet import selectors, services
from wallet.forms import ClaimForm

ORDERS_PER_PAGE = 20


def _private(response: HttpResponse) -> HttpResponse:
    add_never_cache_headers(response)
    return response


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


def _cards_page(
    request: HttpRequest, form: ClaimForm, *, status: int = 200, **extra: Any
) -> HttpResponse:
    form.annotate()
    context = {
        "wallet": selectors.wallet_for_user(user=_user(request)),
        "form": form,
        "errors": form.error_summary() if form.is_bound else [],
        **extra,
    }
    return _private(render(request, "wallet/cards.html", context, status=status))


def _card_url(public_id: str) -> str:
    return reverse("wallet:card", kwargs={"public_id": public_id})


def _claimed(request: HttpRequest, result: services.ClaimResult) -> HttpResponse:
    card = result.wallet_card.gift_card
    if result.added:
        messages.success(
            request, f"The {card.merchant.name} card ending {card.last4} is now in your cards."
        )
    else:
        messages.info(
            request, f"The {card.merchant.name} card ending {card.last4} is already in your cards."
        )
    return HttpResponseRedirect(_card_url(card.public_id))


@login_required
@require_safe
def my_cards(request: HttpRequest) -> HttpResponse:
    return _cards_page(request, ClaimForm(initial={"merchant": request.GET.get("shop", "")}))


@login_required
@require_POST
def claim_by_code(request: HttpRequest) -> HttpResponse:
    """Claim a card with its code, throttled like the public balance check (GC-5)."""
    form = ClaimForm(request.POST)
    if not form.is_valid():
        return _cards_page(request, form, status=422)
    merchant = form.cleaned_data["merchant"]
    client = LookupClient(
        merchant=merchant,
        channel=LookupChannel.WALLET,
        ip_address=client_ip(request),
        user=_user(request),
    )
    try:
        result = services.wallet_claim_by_code(
            user=_user(request), code=form.cleaned_data["code"], client=client
        )
    except TooManyLookups as exc:
        response = _cards_page(
            request,
            ClaimForm(),
            status=429,
            **throttled_context(exc.retry_after, reason=exc.detail),
        )
        return set_retry_after(response, exc.retry_after)
    except CardNotFound:
        form.add_error(
            "code", f"No {merchant.name} gift card has this code. Check the code and the shop."
        )
        return _cards_page(request, form, status=404)
    except ApplicationError as exc:
        form.add_error(None, exc.detail)
        return _cards_page(request, form, status=exc.status)
    return _claimed(request, result)


@require_http_methods(["GET", "HEAD", "POST"])
def claim_by_link(request: HttpRequest) -> HttpResponse:
    """Add the card of a recipient's card link. Signed out, the page explains that the
    card is kept in an account and links to sign in (back to the card page after)."""
    token = request.POST.get("token", "") if request.method == "POST" else ""
    if not request.user.is_authenticated:
        back = reverse("wallet:cards")
        if token:
            try:
                card_link_card(token=token)
            except CardLinkRefused:
                pass
            else:
                back = reverse("orders:card", kwargs={"token": token})
        context = {"next": back}
        return _private(render(request, "wallet/claim_link_signin.html", context))
    if request.method != "POST":
        return HttpResponseRedirect(reverse("wallet:cards"))
    try:
        result = services.wallet_claim_by_link(user=_user(request), token=token)
    except ApplicationError as exc:
        messages.error(request, exc.detail)
        return HttpResponseRedirect(reverse("wallet:cards"))
    return _claimed(request, result)


@login_required
@require_safe
def card_ledger(request: HttpRequest, public_id: str) -> HttpResponse:
    entry = selectors.wallet_card_get(user=_user(request), public_id=public_id)
    if entry is None:
        raise Http404("No such card in your wallet.")
    context = {
        "card": selectors.card_row(entry),
        "ledger": selectors.wallet_card_ledger(card=entry.gift_card),
    }
    return _private(render(request, "wallet/card.html", context))


def _order_row(order: Order) -> dict[str, Any]:
    path = reverse("orders:status", kwargs={"public_id": order.public_id})
    return {
        "public_id": order.public_id,
        "merchant_name": order.merchant.name,
        "created_at": order.created_at,
        "status": order.get_status_display(),
        "total": format_money(order.total, order.currency),
        "url": f"{path}?t={order_access_token(order)}",
    }


@login_required
@require_safe
def my_orders(request: HttpRequest) -> HttpResponse:
    page = Paginator(selectors.orders_for_user(user=_user(request)), ORDERS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    orders = [_order_row(order) for order in page.object_list]
    return _private(render(request, "wallet/orders.html", {"orders": orders, "page": page}))

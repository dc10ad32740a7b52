"""The till: a clerk looks a card up by its code, redeems part or all of it, and prints
a receipt.

1. ``till``: POST the code (typed or scanned); the card is shown masked, with its
   status, balance and expiry. The code itself is never echoed back: not in the page,
   a URL, a hidden field, a message or a log. From here on the card travels as its
   ``public_id``, re-checked against the merchant on every step (404 otherwise).
2. ``till-amount``: POST the amount; it is refused before confirming when it cannot be
   spent. Otherwise a confirm page restates it and carries a one-time token, kept in
   the session with the amount the clerk saw (``giftcards.till.confirmations``).
3. ``till-redeem``: POST the confirmation; ``services.giftcard_redeem`` spends it with
   the token as its idempotency key (``giftcards.idempotency.till_key``). A second POST
   of the same confirmation (double click, reload, a retry after a network failure)
   gets the first redemption back from the service and shows its receipt instead of
   spending again.
4. ``till-receipt``: the printable receipt, addressed by the transaction's public id.

Every step works as plain HTML forms (``giftcards.till.forms``); with JavaScript, htmx
swaps the till panel only.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache
from django.views.generic import TemplateView

from core.errors import ApplicationError
from core.money import AmountInvalid, format_money, parse_amount
from core.net import client_ip
from giftcards import idempotency, selectors, services
from giftcards.exceptions import CardNotFound, TooManyLookups, TransactionNotFound
from giftcards.lookups import LookupClient, find_card_by_code
from giftcards.models import GiftCard, LookupChannel, Transaction, TransactionKind
from giftcards.till import confirmations
from giftcards.till.forms import AmountForm, LookupForm
from merchants.models import Role
from merchants.tenancy import MerchantViewMixin

_SPEND_PROBLEMS = {
    "void": "This card has been voided and cannot be used.",
    "expired": "This card has expired and cannot be used.",
    "pending": "This card is not active yet.",
}


def spend_problem(card: GiftCard) -> str:
    """Why nothing can be redeemed from this card now, or "" when something can (the
    card's own answer, ``GiftCard.spend_refusal``, in the clerk's words)."""
    refusal = card.spend_refusal()
    if refusal is not None:
        return _SPEND_PROBLEMS.get(refusal, "This card cannot be used now.")
    if card.balance <= 0:
        return "This card has been spent in full."
    return ""


@method_decorator(never_cache, name="dispatch")
class TillMixin(MerchantViewMixin, TemplateView):
    """All roles work the till. Responses are never cached: they show balances."""

    required_role = Role.CLERK
    template_name = "giftcards/till/till.html"

    def show(self, status: int = 200, **context: Any) -> HttpResponse:
        return self.render_to_response(self.get_context_data(**context), status=status)

    def card_context(self, card: GiftCard) -> dict[str, Any]:
        return {
            "card": card,
            "balance": format_money(card.balance, card.currency),
            "problem": spend_problem(card),
        }

    def get_card(self, public_id: str | None) -> GiftCard:
        """The merchant's card by its public id; anyone else's card does not exist."""
        if not public_id or not public_id.startswith("gc_"):
            raise Http404("No such card")
        try:
            return selectors.giftcard_get(merchant=self.merchant, public_id=public_id)
        except CardNotFound:
            raise Http404("No such card") from None

    def amount_step(
        self, card: GiftCard, form: AmountForm | None = None, *, error: str = "", status: int = 200
    ) -> HttpResponse:
        form = form or AmountForm(initial={"card": card.public_id})
        return self.show(status, step="amount", form=form, error=error, **self.card_context(card))


class TillView(TillMixin):
    """Step 1: the code."""

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return self.show(step="lookup", form=LookupForm())

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        form = LookupForm(request.POST)
        if not form.is_valid():
            return self.show(422, step="lookup", form=form)
        client = LookupClient(
            merchant=self.merchant,
            channel=LookupChannel.TILL,
            ip_address=client_ip(request),
            user=self.user,
        )
        try:
            card = find_card_by_code(client=client, code=form.cleaned_data["code"])
        except TooManyLookups as exc:
            retry_at = timezone.localtime() + timedelta(seconds=exc.retry_after)
            form.add_error(None, f"{exc.detail} (Until {retry_at:%H:%M}.)")
            response = self.show(429, step="lookup", form=form)
            response["Retry-After"] = str(exc.retry_after)
            return response
        except CardNotFound:
            form.add_error(
                "code",
                f"No {self.merchant.name} gift card has this code. Check the code and try "
                "again, or ask the customer for another card.",
            )
            return self.show(404, step="lookup", form=form)
        return self.amount_step(card)


class TillAmountView(TillMixin):
    """Step 2: the amount, refused here when it cannot be spent, then the confirm page."""

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return HttpResponseRedirect(reverse("giftcards:till", args=[self.merchant.slug]))

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        card = self.get_card(request.POST.get("card"))
        if "amount" not in request.POST:  # "Change the amount" from the confirm page
            return self.amount_step(card)
        form = AmountForm(request.POST)
        if not form.is_valid():
            return self.amount_step(card, form, status=422)
        if spend_problem(card):  # the page says why
            return self.amount_step(card, form, status=422)
        try:
            amount = parse_amount(form.cleaned_data["amount"], card.currency)
        except AmountInvalid as exc:
            form.add_error("amount", str(exc))
            return self.amount_step(card, form, status=422)
        if amount > card.balance:
            form.add_error(
                "amount",
                f"The card holds {format_money(card.balance, card.currency)}: you cannot "
                f"redeem {format_money(amount, card.currency)} from it.",
            )
            return self.amount_step(card, form, status=422)
        reference = form.cleaned_data["reference"].strip()
        token = confirmations.confirmation_new(
            request.session,
            merchant_id=self.merchant.pk,
            card_public_id=card.public_id,
            amount=amount,
            reference=reference,
        )
        return self.show(
            step="confirm",
            token=token,
            amount=format_money(amount, card.currency),
            new_balance=format_money(card.balance - amount, card.currency),
            reference=reference,
            **self.card_context(card),
        )


class TillRedeemView(TillMixin):
    """Step 3: spend what was confirmed, once."""

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return HttpResponseRedirect(reverse("giftcards:till", args=[self.merchant.slug]))

    def _receipt(self, request: HttpRequest, txn: Transaction) -> HttpResponse:
        url = reverse("giftcards:till-receipt", args=[self.merchant.slug, txn.public_id])
        if getattr(request, "htmx", False):
            # A full page load, so the receipt has its own address and prints alone.
            response = HttpResponse(status=204)
            response["HX-Redirect"] = url
            return response
        return HttpResponseRedirect(url, status=303)

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        card = self.get_card(request.POST.get("card"))
        token = request.POST.get("token", "")
        if not confirmations.is_token(token):
            raise Http404("No such confirmation")
        done = confirmations.redeemed_as(request.session, token)
        if done:
            txn = Transaction.objects.filter(merchant=self.merchant, public_id=done).first()
            if txn is not None:
                return self._receipt(request, txn)
        confirmed = confirmations.confirmation_get(
            request.session, token, merchant_id=self.merchant.pk, card_public_id=card.public_id
        )
        if confirmed is None:
            # A confirmation redeemed in another tab of this session (its pending entry
            # is gone) still shows its receipt: the ledger row under its key.
            earlier = idempotency.first_use(merchant=self.merchant, key=idempotency.till_key(token))
            if earlier is not None and earlier.kind == TransactionKind.REDEEM:
                return self._receipt(request, earlier)
            return self.amount_step(
                card,
                error="This confirmation has expired or belongs to another card. "
                "Nothing was redeemed: enter the amount again.",
                status=409,
            )
        try:
            # A second POST of this confirmation (a double click, a retry) gets the
            # first one's ledger row back from the service: one redemption per token.
            txn = services.giftcard_redeem(
                merchant=self.merchant,
                card_id=card.pk,
                amount=confirmed.amount,
                currency=card.currency,
                reference=confirmed.reference,
                actor=self.user,
                idempotency_key=idempotency.till_key(token),
            )
        except ApplicationError as exc:
            confirmations.confirmation_close(request.session, token)
            card.refresh_from_db()
            detail = str(exc.detail)
            if exc.code == "insufficient_funds":
                detail = (
                    f"The card now holds {format_money(card.balance, card.currency)}, less "
                    "than the amount confirmed. Nothing was redeemed."
                )
            elif spend_problem(card):
                detail = "Nothing was redeemed."  # the page says why the card is unusable
            return self.amount_step(card, error=detail, status=422)
        confirmations.confirmation_close(request.session, token, redeemed=txn.public_id)
        return self._receipt(request, txn)


class TillReceiptView(TillMixin):
    """Step 4: the receipt of one redemption, for the screen and the printer."""

    template_name = "giftcards/till/receipt.html"

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            txn = selectors.transaction_get(merchant=self.merchant, public_id=kwargs["txn_id"])
        except TransactionNotFound:
            raise Http404("No such receipt") from None
        if txn.kind != TransactionKind.REDEEM:
            raise Http404("No such receipt")
        card = txn.gift_card
        return self.show(
            txn=txn,
            card=card,
            amount=format_money(-txn.amount, txn.currency),
            new_balance=format_money(txn.balance_after, txn.currency),
        )


urlpatterns: list[URLPattern] = [
    path("till/", TillView.as_view(), name="till"),
    path("till/amount/", TillAmountView.as_view(), name="till-amount"),
    path("till/redeem/", TillRedeemView.as_view(), name="till-redeem"),
    path("till/receipt/<str:txn_id>/", TillReceiptView.as_view(), name="till-receipt"),
]

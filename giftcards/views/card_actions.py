"""Dashboard pages: money movements on one card. Reloading, refunding and voiding
(managers) and manual adjustments (owners), each one call to ``giftcards.services``
under the form's idempotency key: a resubmitted form gets the first result back and is
not booked twice. A refusal is shown on the re-rendered form, with nothing changed.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import URLPattern, re_path
from django.views.generic import TemplateView

from core.errors import ApplicationError
from core.money import format_money
from giftcards import selectors, services
from giftcards.exceptions import TransactionNotFound
from giftcards.forms import AdjustForm, RefundForm, ReloadForm, VoidForm, idempotency_key
from giftcards.models import GiftCard, Transaction, TransactionKind
from giftcards.views.card_display import CardRow, explain, refundable_amount
from giftcards.views.cards import CARD_ID, TXN_ID, CardViewMixin
from merchants.models import Role


class CardActionView(CardViewMixin, TemplateView):
    """GET shows the form on its own page; POST performs the action, then redirects to the
    card with a message, or re-renders the form with the refusal (422) having changed
    nothing."""

    required_role = Role.MANAGER
    template_name = "giftcards/cards/action.html"
    form_class: ClassVar[type[forms.Form]]
    title: ClassVar[str]
    submit_label: ClassVar[str]
    danger: ClassVar[bool] = False

    def make_form(self, card: GiftCard, data: Any = None) -> forms.Form:
        return self.form_class(data, currency=card.currency)  # type: ignore[call-arg]

    def render_form(self, card: GiftCard, form: forms.Form, *, status: int = 200) -> HttpResponse:
        context = self.get_context_data(
            card=card,
            row=CardRow(card),
            form=form,
            title=self.title,
            submit_label=self.submit_label,
            danger=self.danger,
            action_url=self.request.path,
        )
        return self.render_to_response(context, status=status)

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        card = self.get_card(kwargs["public_id"])
        return self.render_form(card, self.make_form(card))

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        card = self.get_card(kwargs["public_id"])
        form = self.make_form(card, request.POST)
        if not form.is_valid():
            return self.render_form(card, form, status=422)
        try:
            message = self.perform(card, form)
        except ApplicationError as exc:
            field, text = explain(exc, currency=card.currency)
            form.add_error(field if field in form.fields else None, text)
            return self.render_form(card, form, status=422)
        messages.success(request, message)
        return HttpResponseRedirect(self.detail_url(card))

    def perform(self, card: GiftCard, form: Any) -> str:
        raise NotImplementedError


class CardReloadView(CardActionView):
    form_class = ReloadForm
    title = "Reload card"
    submit_label = "Reload"

    def perform(self, card: GiftCard, form: ReloadForm) -> str:
        txn = services.giftcard_reload(
            merchant=self.merchant,
            card_id=card.pk,
            amount=form.cleaned_data["amount"],
            reference=form.cleaned_data.get("reference") or "",
            actor=self.user,
            idempotency_key=idempotency_key(form.cleaned_data),
        )
        if txn.replayed:
            return "This reload was already recorded; it was not booked twice."
        return (
            f"Reloaded {format_money(txn.amount, txn.currency)}. "
            f"The card now holds {format_money(txn.balance_after, txn.currency)}."
        )


class CardVoidView(CardActionView):
    form_class = VoidForm
    title = "Void card"
    submit_label = "Void this card"
    danger = True

    def perform(self, card: GiftCard, form: VoidForm) -> str:
        txn = services.giftcard_void(
            merchant=self.merchant,
            card_id=card.pk,
            reason=form.cleaned_data["reason"],
            actor=self.user,
            idempotency_key=idempotency_key(form.cleaned_data),
        )
        if txn.replayed:
            return f"Card ending {card.last4} was already voided; nothing changed."
        removed = format_money(-txn.amount, txn.currency)
        return f"Card ending {card.last4} is void; {removed} left its balance."


class CardAdjustView(CardActionView):
    required_role = Role.OWNER
    form_class = AdjustForm
    title = "Adjust balance"
    submit_label = "Adjust balance"

    def perform(self, card: GiftCard, form: AdjustForm) -> str:
        txn = services.giftcard_adjust(
            merchant=self.merchant,
            card_id=card.pk,
            amount=form.signed_amount(),
            reason=form.cleaned_data["reason"],
            actor=self.user,
            idempotency_key=idempotency_key(form.cleaned_data),
        )
        if txn.replayed:
            return "This adjustment was already recorded; it was not booked twice."
        sign = "+" if txn.amount > 0 else ""
        return (
            f"Balance adjusted by {sign}{format_money(txn.amount, txn.currency)}. "
            f"The card now holds {format_money(txn.balance_after, txn.currency)}."
        )


class TransactionRefundView(CardViewMixin, TemplateView):
    """Refund all or part of one redemption, from its ledger row."""

    required_role = Role.MANAGER
    template_name = "giftcards/cards/refund.html"

    def get_transaction(self, public_id: str) -> Transaction:
        try:
            txn = selectors.transaction_get(merchant=self.merchant, public_id=public_id)
        except TransactionNotFound:
            raise Http404("No such transaction") from None
        return txn

    def render_form(self, txn: Transaction, form: RefundForm, *, status: int = 200) -> HttpResponse:
        card = txn.gift_card
        refundable = refundable_amount(merchant=self.merchant, txn=txn)
        context = self.get_context_data(
            txn=txn,
            card=card,
            row=CardRow(card),
            form=form,
            redeemed=format_money(-txn.amount, txn.currency),
            refundable=refundable,
            refundable_label=format_money(refundable, txn.currency),
            is_redemption=txn.kind == TransactionKind.REDEEM,
        )
        return self.render_to_response(context, status=status)

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        txn = self.get_transaction(kwargs["public_id"])
        return self.render_form(txn, RefundForm(currency=txn.currency))

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        txn = self.get_transaction(kwargs["public_id"])
        form = RefundForm(request.POST, currency=txn.currency)
        if not form.is_valid():
            return self.render_form(txn, form, status=422)
        data = form.cleaned_data
        try:
            refund = services.transaction_refund(
                merchant=self.merchant,
                transaction_id=txn.pk,
                amount=data["amount"] or None,
                reason=data.get("reason") or "",
                reference=data.get("reference") or "",
                actor=self.user,
                idempotency_key=idempotency_key(data),
            )
        except ApplicationError as exc:
            field, text = explain(exc, currency=txn.currency)
            form.add_error(field, text)
            return self.render_form(txn, form, status=422)
        if refund.replayed:
            messages.info(request, "This refund was already recorded; it was not booked twice.")
            return HttpResponseRedirect(self.detail_url(txn.gift_card))
        messages.success(
            request,
            f"Refunded {format_money(refund.amount, refund.currency)}. "
            f"The card now holds {format_money(refund.balance_after, refund.currency)}.",
        )
        return HttpResponseRedirect(self.detail_url(txn.gift_card))


urlpatterns: list[URLPattern] = [
    re_path(rf"^cards/{CARD_ID}/reload/$", CardReloadView.as_view(), name="card-reload"),
    re_path(rf"^cards/{CARD_ID}/void/$", CardVoidView.as_view(), name="card-void"),
    re_path(rf"^cards/{CARD_ID}/adjust/$", CardAdjustView.as_view(), name="card-adjust"),
    re_path(
        rf"^transactions/{TXN_ID}/refund/$",
        TransactionRefundView.as_view(),
        name="transaction-refund",
    ),
]

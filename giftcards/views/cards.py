"""Dashboard pages: cards. Finding and viewing cards (every role), issuing, reloading,
refunding and voiding (managers), manual adjustments (owners), CSV exports (managers).

Every money movement goes through ``giftcards.services``; a refusal comes back as a
domain error and is shown on the re-rendered form, with nothing changed. Full codes
appear exactly once, in the response to the issue form, and never in a URL, a message
stored in the session, or a list.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from django import forms
from django.contrib import messages
from django.core.paginator import Page, Paginator
from django.db.models import Sum
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    StreamingHttpResponse,
)
from django.urls import URLPattern, path, re_path, reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.views import View
from django.views.generic import TemplateView

from core.errors import ApplicationError
from core.money import format_money
from core.net import client_ip
from giftcards import exports, selectors, services
from giftcards.exceptions import (
    CardNotFound,
    InsufficientFunds,
    InvalidAmount,
    RefundExceedsRedemption,
    TooManyLookups,
    TransactionNotFound,
)
from giftcards.forms import (
    AdjustForm,
    CardIssueForm,
    CardSearchForm,
    RefundForm,
    ReloadForm,
    VoidForm,
    idempotency_key,
    looks_like_code,
)
from giftcards.lookups import LookupClient, find_card_by_code
from giftcards.models import (
    CardStatus,
    GiftCard,
    LookupChannel,
    Product,
    Transaction,
    TransactionKind,
)
from giftcards.views.products import pricing_label
from merchants.models import Merchant, Role
from merchants.tenancy import MerchantViewMixin, scoped

PAGE_SIZE = 50
CLOSED = (CardStatus.VOID, CardStatus.EXPIRED)


# --- Presentation -----------------------------------------------------------------------


@dataclass(frozen=True)
class CardRow:
    card: GiftCard

    @property
    def balance(self) -> str:
        return format_money(self.card.balance, self.card.currency)

    @property
    def initial(self) -> str:
        return format_money(self.card.initial_amount, self.card.currency)


@dataclass(frozen=True)
class LedgerRow:
    txn: Transaction
    refundable: int  # what of a redemption can still be refunded; 0 for other kinds
    can_refund: bool

    @property
    def amount(self) -> str:
        sign = "+" if self.txn.amount > 0 else ""
        return sign + format_money(self.txn.amount, self.txn.currency)

    @property
    def balance_after(self) -> str:
        return format_money(self.txn.balance_after, self.txn.currency)

    @property
    def size(self) -> str:
        return format_money(abs(self.txn.amount), self.txn.currency)

    @property
    def refundable_label(self) -> str:
        return format_money(self.refundable, self.txn.currency)


def explain(
    exc: ApplicationError, *, currency: str, product: Product | None = None
) -> tuple[str | None, str]:
    """The form field a refusal belongs to (None: the whole form) and a message in money
    a person reads, rather than the minor units the service speaks."""
    if isinstance(exc, InsufficientFunds) and "balance" in exc.extra:
        held = format_money(int(exc.extra["balance"]), currency)
        return "amount", f"Not enough on the card: it holds {held}."
    if isinstance(exc, RefundExceedsRedemption) and "refundable" in exc.extra:
        left = format_money(int(exc.extra["refundable"]), currency)
        return "amount", f"At most {left} of this redemption can still be refunded."
    if isinstance(exc, InvalidAmount):
        if product is not None:
            return "amount", f"{product.name} comes in these amounts: {pricing_label(product)}."
        return "amount", exc.detail
    return None, exc.detail


def refundable_amount(*, merchant: Merchant, txn: Transaction) -> int:
    """What of a redemption has not been refunded yet (refunds are positive rows that
    point at it)."""
    if txn.kind != TransactionKind.REDEEM:
        return 0
    refunded = (
        scoped(Transaction, merchant)
        .filter(related_id=txn.pk)
        .aggregate(total=Sum("amount"))["total"]
        or 0
    )
    return max(0, -txn.amount - refunded)


def card_is_open(card: GiftCard) -> bool:
    """Whether a redemption can still be given back to the card (the card's own answer)."""
    return card.refund_refusal() is None


# --- Base -------------------------------------------------------------------------------


class CardViewMixin(MerchantViewMixin):
    def get_card(self, public_id: str) -> GiftCard:
        try:
            return selectors.giftcard_get(merchant=self.merchant, public_id=public_id)
        except CardNotFound:
            raise Http404("No such card") from None

    def detail_url(self, card: GiftCard) -> str:
        return reverse("giftcards:card-detail", args=[self.merchant.slug, card.public_id])

    @property
    def can_manage(self) -> bool:
        return self.membership.has_role(Role.MANAGER)

    @property
    def can_adjust(self) -> bool:
        return self.membership.has_role(Role.OWNER)


# --- List and detail --------------------------------------------------------------------


class CardListView(CardViewMixin, TemplateView):
    """GET lists and filters by status. Searching is a POST, so that a full code or an
    email typed into the box never lands in a URL, a browser history or an access log."""

    template_name = "giftcards/cards/list.html"
    results_template = "giftcards/cards/_results_htmx.html"

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        # Only the filter and the page come from the URL; search terms never do.
        form = CardSearchForm(
            {"status": request.GET.get("status", ""), "page": request.GET.get("page")}
        )
        form.is_valid()
        status = form.cleaned_data.get("status") or None
        cards = selectors.giftcard_list(merchant=self.merchant, status=status)
        page = Paginator(cards, PAGE_SIZE).get_page(form.cleaned_data.get("page"))
        return self.show(form, page, searching=False, status_filter=status or "")

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        form = CardSearchForm(request.POST)
        if not form.is_valid():
            empty = Paginator(GiftCard.objects.none(), PAGE_SIZE).get_page(1)
            return self.show(form, empty, searching=True)
        term = form.cleaned_data["q"].strip()
        status = form.cleaned_data.get("status") or None
        notice = ""
        found: Any
        if term and looks_like_code(term):
            found, notice = self.find_by_code(term, status)
        else:
            found = selectors.giftcard_list(merchant=self.merchant, status=status, search=term)
        page = Paginator(found, PAGE_SIZE).get_page(form.cleaned_data.get("page"))
        return self.show(
            form,
            page,
            searching=bool(term),
            notice=notice,
            status_filter="" if term else status or "",
        )

    def find_by_code(self, term: str, status: str | None) -> tuple[list[GiftCard], str]:
        """A full code goes through the throttled, audited lookup (GC-5), like the till."""
        client = LookupClient(
            merchant=self.merchant,
            channel=LookupChannel.DASHBOARD,
            ip_address=client_ip(self.request),
            user=self.request.user,  # type: ignore[arg-type]
        )
        try:
            card = find_card_by_code(client=client, code=term)
        except (CardNotFound, TooManyLookups) as exc:
            return [], exc.detail
        if status and card.status != status:
            return [], f"The card with that code is {card.get_status_display().lower()}."
        return [card], ""

    def show(
        self,
        form: CardSearchForm,
        page: Page[Any],
        *,
        searching: bool,
        notice: str = "",
        status_filter: str = "",
    ) -> HttpResponse:
        context = self.get_context_data(
            form=form,
            page_obj=page,
            rows=[CardRow(card) for card in page.object_list],
            searching=searching,
            notice=notice,
            status_filter=status_filter,
            can_manage=self.can_manage,
        )
        if self.request.headers.get("HX-Request") == "true":
            # htmx swaps the results in place; the rest of the page stays as it is.
            return self.response_class(
                request=self.request, template=[self.results_template], context=context
            )
        return self.render_to_response(context)


class CardDetailView(CardViewMixin, TemplateView):
    template_name = "giftcards/cards/detail.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        card = self.get_card(kwargs["public_id"])
        ledger = list(selectors.transaction_list(merchant=self.merchant, gift_card=card))
        refunded: dict[int, int] = {}
        for txn in ledger:
            if txn.kind == TransactionKind.REFUND and txn.related_id is not None:
                refunded[txn.related_id] = refunded.get(txn.related_id, 0) + txn.amount
        is_open = card_is_open(card)
        rows = []
        for txn in ledger:
            left = 0
            if txn.kind == TransactionKind.REDEEM:
                left = max(0, -txn.amount - refunded.get(txn.pk, 0))
            rows.append(
                LedgerRow(
                    txn=txn, refundable=left, can_refund=self.can_manage and is_open and left > 0
                )
            )
        can_reload = self.can_manage and card.reload_refusal() is None
        context.update(
            card=card,
            row=CardRow(card),
            ledger=rows,
            metadata=sorted((str(k), v) for k, v in (card.metadata or {}).items()),
            can_manage=self.can_manage,
            can_adjust=self.can_adjust and card.status not in CLOSED,
            can_void=self.can_manage and card.status not in CLOSED,
            can_reload=can_reload,
            is_expired=card.is_expired(),
            reload_form=ReloadForm(currency=card.currency) if can_reload else None,
            void_form=VoidForm(currency=card.currency),
            adjust_form=AdjustForm(currency=card.currency),
        )
        return context


# --- Issue ------------------------------------------------------------------------------


class CardIssueView(CardViewMixin, TemplateView):
    required_role = Role.MANAGER
    template_name = "giftcards/cards/issue.html"

    def make_form(self, data: Any = None) -> CardIssueForm:
        products = selectors.product_list(merchant=self.merchant, active_only=True)
        return CardIssueForm(data, products=products, currency=self.merchant.currency)

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return self.render_to_response(self.get_context_data(form=self.make_form()))

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        form = self.make_form(request.POST)
        if not form.is_valid():
            return self.render_to_response(self.get_context_data(form=form), status=422)
        data = form.cleaned_data
        key = idempotency_key(data)
        try:
            issued = services.giftcard_issue(
                merchant=self.merchant,
                amount=data["amount"],
                currency=data["currency"],
                product=data.get("product"),
                expires_at=data["expires_at"],
                recipient_email=data.get("recipient_email") or "",
                recipient_phone=data.get("recipient_phone") or "",
                reference=data.get("reference") or "",
                actor=request.user,  # type: ignore[arg-type]
                idempotency_key=key,
            )
        except ApplicationError as exc:
            field, message = explain(exc, currency=data["currency"], product=data.get("product"))
            form.add_error(field, message)
            return self.render_to_response(self.get_context_data(form=form), status=422)
        if issued.replayed:
            # The same form came back (a refresh, a double click): the service returned
            # the card it issued the first time, whose code was shown once already.
            return self.result(issued.card, code=None)
        return self.result(issued.card, code=issued.formatted_code)

    def result(self, card: GiftCard, *, code: str | None) -> HttpResponse:
        """The one page that shows a full code: rendered straight into the POST response,
        never cached, never redirected to."""
        context = self.get_context_data(
            card=card,
            row=CardRow(card),
            code_groups=code.split("-") if code else None,
            code=code,
        )
        response = self.response_class(
            request=self.request, template=["giftcards/cards/issued.html"], context=context
        )
        add_never_cache_headers(response)
        return response


# --- Money movements on one card ----------------------------------------------------------


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
            actor=self.request.user,  # type: ignore[arg-type]
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
            actor=self.request.user,  # type: ignore[arg-type]
        )
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
            actor=self.request.user,  # type: ignore[arg-type]
        )
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
                actor=request.user,  # type: ignore[arg-type]
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


# --- Exports ------------------------------------------------------------------------------


class ExportView(CardViewMixin, View):
    required_role = Role.MANAGER
    http_method_names = ["get"]
    what: ClassVar[str]

    def csv_response(self, lines: Any) -> StreamingHttpResponse:
        stamp = timezone.now().strftime("%Y%m%d-%H%M")
        response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
        name = f"{self.merchant.slug}-{self.what}-{stamp}.csv"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        add_never_cache_headers(response)
        return response


class CardsExportView(ExportView):
    what = "cards"

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> StreamingHttpResponse:
        status = request.GET.get("status") or None
        if status not in (None, *CardStatus.values):
            status = None
        cards = selectors.giftcard_list(merchant=self.merchant, status=status)
        return self.csv_response(exports.card_lines(cards))


class TransactionsExportView(ExportView):
    what = "transactions"

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> StreamingHttpResponse:
        transactions = selectors.transaction_list(merchant=self.merchant)
        return self.csv_response(exports.transaction_lines(transactions))


# Ids are matched exactly, so routes other modules add under cards/ are never taken
# for a card id.
CARD_ID = r"(?P<public_id>gc_[0-9a-z]{26})"
TXN_ID = r"(?P<public_id>txn_[0-9a-z]{26})"

urlpatterns: list[URLPattern] = [
    path("cards/", CardListView.as_view(), name="cards"),
    path("cards/issue/", CardIssueView.as_view(), name="card-issue"),
    path("cards/export.csv", CardsExportView.as_view(), name="cards-export"),
    path("transactions/export.csv", TransactionsExportView.as_view(), name="transactions-export"),
    re_path(rf"^cards/{CARD_ID}/$", CardDetailView.as_view(), name="card-detail"),
    re_path(rf"^cards/{CARD_ID}/reload/$", CardReloadView.as_view(), name="card-reload"),
    re_path(rf"^cards/{CARD_ID}/void/$", CardVoidView.as_view(), name="card-void"),
    re_path(rf"^cards/{CARD_ID}/adjust/$", CardAdjustView.as_view(), name="card-adjust"),
    re_path(
        rf"^transactions/{TXN_ID}/refund/$",
        TransactionRefundView.as_view(),
        name="transaction-refund",
    ),
]

"""Dashboard pages: cards. Finding and viewing cards (every role) and issuing them
(managers). Reloading, refunding, voiding and adjusting are in ``card_actions``, CSV
exports in ``card_exports``, how it all reads in ``card_display``.

Every money movement goes through ``giftcards.services``; a refusal comes back as a
domain error and is shown on the re-rendered form, with nothing changed. Full codes
appear exactly once, in the response to the issue form, and never in a URL, a message
stored in the session, or a list.
"""

from __future__ import annotations

from typing import Any

from django.core.paginator import Page, Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import URLPattern, path, re_path, reverse
from django.utils.cache import add_never_cache_headers
from django.views.generic import TemplateView

from core.errors import ApplicationError
from core.net import client_ip
from giftcards import selectors, services
from giftcards.exceptions import CardNotFound, TooManyLookups
from giftcards.forms import (
    AdjustForm,
    CardIssueForm,
    CardSearchForm,
    ReloadForm,
    VoidForm,
    idempotency_key,
    looks_like_code,
)
from giftcards.lookups import LookupClient, find_card_by_code
from giftcards.models import GiftCard, LookupChannel, TransactionKind
from giftcards.views.card_display import CLOSED, CardRow, LedgerRow, card_is_open, explain
from merchants.models import Role
from merchants.tenancy import MerchantViewMixin

PAGE_SIZE = 50


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
            user=self.user,
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
                actor=self.user,
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
            card=card, row=CardRow(card), code_groups=code.split("-") if code else None, code=code
        )
        response = self.response_class(
            request=self.request, template=["giftcards/cards/issued.html"], context=context
        )
        add_never_cache_headers(response)
        return response


# Ids are matched exactly, so routes other modules add under cards/ are never taken
# for a card id.
CARD_ID = r"(?P<public_id>gc_[0-9a-z]{26})"
TXN_ID = r"(?P<public_id>txn_[0-9a-z]{26})"

urlpatterns: list[URLPattern] = [
    path("cards/", CardListView.as_view(), name="cards"),
    path("cards/issue/", CardIssueView.as_view(), name="card-issue"),
    re_path(rf"^cards/{CARD_ID}/$", CardDetailView.as_view(), name="card-detail"),
]

"""Dashboard pages: the merchant's cards and ledger as CSV files (managers), streamed and
never cached (``giftcards.exports`` writes the lines)."""

from __future__ import annotations

from typing import Any, ClassVar

from django.http import HttpRequest, StreamingHttpResponse
from django.urls import URLPattern, path
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.views import View

from giftcards import exports, selectors
from giftcards.models import CardStatus
from giftcards.views.cards import CardViewMixin
from merchants.models import Role


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


urlpatterns: list[URLPattern] = [
    path("cards/export.csv", CardsExportView.as_view(), name="cards-export"),
    path("transactions/export.csv", TransactionsExportView.as_view(), name="transactions-export"),
]

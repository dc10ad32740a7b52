"""Forms of the merchant's orders pages: the filter and search of the list (and its
export), and the refund confirmation."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.utils import timezone

from orders.models import OrderStatus, PaymentProvider


class DateInput(forms.DateInput):
    input_type = "date"


class OrderFilterForm(forms.Form):
    q = forms.CharField(
        label="Find an order",
        required=False,
        max_length=254,
        help_text="Order id (ord_…), buyer email or recipient email, or a part of one.",
        widget=forms.TextInput(
            attrs={"type": "search", "autocomplete": "off", "spellcheck": "false"}
        ),
    )
    status = forms.ChoiceField(required=False, choices=[("", "Any status"), *OrderStatus.choices])
    provider = forms.ChoiceField(
        label="Paid through",
        required=False,
        choices=[("", "Any provider"), *PaymentProvider.choices],
    )
    date_from = forms.DateField(label="Placed from", required=False, widget=DateInput)
    date_to = forms.DateField(label="Placed until", required=False, widget=DateInput)
    page = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", "The end date is before the start date.")
        return data

    @staticmethod
    def _start_of(day: date) -> datetime:
        return timezone.make_aware(datetime.combine(day, time.min))

    def filters(self) -> dict[str, Any]:
        """The keyword arguments of ``selectors.order_list`` for the valid fields; the
        date range covers whole days, ``date_to`` included."""
        data = getattr(self, "cleaned_data", {})
        start: date | None = data.get("date_from")
        end: date | None = data.get("date_to")
        return {
            "status": data.get("status") or None,
            "provider": data.get("provider") or None,
            "created_from": self._start_of(start) if start else None,
            "created_before": self._start_of(end + timedelta(days=1)) if end else None,
            "search": (data.get("q") or "").strip(),
        }

    def query_string(self) -> str:
        """The filters a link may carry (search terms never go into a URL)."""
        data = getattr(self, "cleaned_data", {})
        pairs = [
            (name, str(data[name]))
            for name in ("status", "provider", "date_from", "date_to")
            if data.get(name)
        ]
        return urlencode(pairs)


class RefundConfirmForm(forms.Form):
    reason = forms.CharField(
        label="Reason (optional)",
        required=False,
        max_length=200,
        help_text="Kept with the void entry of each card.",
    )
    confirm = forms.BooleanField(
        label="I understand that every card of this order is voided and the buyer is paid back.",
        required=True,
        error_messages={"required": "Tick the box to confirm the refund."},
    )

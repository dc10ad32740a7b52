"""Form fields shared by every app's forms, so a value typed into any page is read by
the same rule: amounts by ``core.money.parse_amount``."""

from __future__ import annotations

from typing import Any

from django import forms

from core.money import MAX_INPUT_LENGTH, AmountInvalid, parse_amount


def clean_amount(text: str | None, currency: str) -> int:
    """``core.money.parse_amount`` for a form: its refusal as a ``ValidationError`` with
    the same message and code."""
    try:
        return parse_amount(text, currency)
    except AmountInvalid as exc:
        raise forms.ValidationError(exc.message, code=exc.code) from None


class AmountField(forms.CharField):
    """An amount typed in major units, cleaned to minor units of ``currency``. When the
    currency is only known from another field, leave ``currency`` empty: the field then
    cleans to the stripped text, and the form calls ``clean_amount`` in ``clean()``."""

    def __init__(self, *, currency: str | None = None, **kwargs: Any) -> None:
        self.currency = currency
        kwargs.setdefault("max_length", MAX_INPUT_LENGTH)
        super().__init__(**kwargs)

    def widget_attrs(self, widget: forms.Widget) -> dict[str, Any]:
        attrs = super().widget_attrs(widget)
        attrs.update({"inputmode": "decimal", "autocomplete": "off", "spellcheck": "false"})
        return attrs

    def clean(self, value: Any) -> Any:
        text = super().clean(value)
        if not text or self.currency is None:
            return text
        return clean_amount(text, self.currency)

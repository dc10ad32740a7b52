"""The till's forms: the code (never written back into the page) and the amount."""

from __future__ import annotations

from typing import Any

from django import forms

from giftcards import codes


class CodeInput(forms.TextInput):
    """A text input that never writes what was typed back into the page."""

    def format_value(self, value: Any) -> str | None:
        return None


class LookupForm(forms.Form):
    code = forms.CharField(
        label="Gift card code",
        max_length=64,
        help_text="Type the 16 characters or scan the card. Dashes and spaces are optional.",
        error_messages={"required": "Enter or scan the card's code."},
        widget=CodeInput(
            attrs={
                "autocomplete": "off",
                "autocapitalize": "characters",
                "spellcheck": "false",
                "autofocus": True,
                "class": "till-code",
            }
        ),
    )

    def clean_code(self) -> str:
        raw: str = self.cleaned_data["code"]
        try:
            codes.normalise(raw)
        except codes.InvalidCode:
            raise forms.ValidationError(
                "This is not a valid gift card code: check the code for typos. "
                "A code has 16 characters, like ABCD-EFGH-JKMN-PQRS.",
                code="typo",
            ) from None
        return raw


class AmountForm(forms.Form):
    card = forms.CharField(widget=forms.HiddenInput, max_length=40)
    amount = forms.CharField(
        label="Amount to redeem",
        max_length=24,
        error_messages={"required": "Enter the amount to redeem."},
        widget=forms.TextInput(
            attrs={"inputmode": "decimal", "autocomplete": "off", "autofocus": True}
        ),
    )
    reference = forms.CharField(
        label="Reference (optional)",
        help_text="A receipt or order number from your till, printed on the receipt.",
        max_length=200,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )

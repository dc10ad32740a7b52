"""The till's forms: the code (never written back into the page) and the amount."""

from __future__ import annotations

from django import forms

from giftcards.forms import GiftCardCodeField


class LookupForm(forms.Form):
    code = GiftCardCodeField(
        help_text="Type the 16 characters or scan the card. Dashes and spaces are optional.",
        error_messages={"required": "Enter or scan the card's code."},
        attrs={"autofocus": True, "class": "till-code"},
    )


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

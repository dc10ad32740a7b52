"""The claim form: which shop the card is from, and its code. The code is checked for
typos here (no lookup); everything else is the service's to decide."""

from __future__ import annotations

from typing import Any

from django import forms

from merchants.models import Merchant
from storefront.forms import BalanceForm
from storefront.selectors import merchant_public_list


class ClaimForm(BalanceForm):
    merchant = forms.ModelChoiceField(
        label="Shop",
        queryset=Merchant.objects.none(),
        to_field_name="slug",
        empty_label="Choose the shop",
        help_text="The shop that issued the card.",
        error_messages={
            "required": "Choose the shop that issued the card.",
            "invalid_choice": "Choose the shop that issued the card.",
        },
    )

    field_order = ("merchant", "code")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["merchant"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = merchant_public_list().order_by("name", "slug")

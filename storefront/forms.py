"""The storefront's forms: buying a card, and checking a balance.

Forms only check what was typed; the rules of an order (what may be bought, limits,
delivery) belong to the orders service, whose refusals come back as form errors.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django import forms
from django.forms.utils import ErrorDict
from django.utils import timezone

from core.contact import InvalidPhone, normalise_phone
from core.forms import clean_amount
from core.money import MAX_INPUT_LENGTH, example_amount, format_money
from giftcards.forms import GiftCardCodeField
from giftcards.models import Product
from giftcards.product_rules import product_amount_range, product_amount_refusal
from storefront import delivery, pricing

MAX_QUANTITY = 10
MAX_MESSAGE = 500
# How far ahead a gift can be scheduled.
MAX_SCHEDULE_AHEAD = timedelta(days=365)
# A delivery time a few minutes in the past (the form took a while) means "right away".
PAST_GRACE = timedelta(minutes=10)

FOR_ME = "self"
AS_GIFT = "gift"

_LOCAL_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$")


@dataclass(frozen=True)
class SummaryError:
    """One line of the error summary: the message and the control it links to."""

    anchor: str
    message: str


class StorefrontForm(forms.Form):
    """Renders errors the accessible way: each invalid control points at its message
    (``aria-describedby``), the first one takes focus, and a summary links to all."""

    radio_fields: tuple[str, ...] = ()

    def anchor(self, name: str) -> str:
        bound = self[name]
        return f"{bound.auto_id}_0" if name in self.radio_fields else bound.auto_id

    def error_summary(self) -> list[SummaryError]:
        items = [SummaryError("", str(e)) for e in self.non_field_errors()]
        for bound in self:
            items.extend(SummaryError(self.anchor(bound.name), str(e)) for e in bound.errors)
        return items

    def annotate(self) -> None:
        """Focus the first invalid control. (Django points each control at its help text
        and errors, ``<id>_helptext`` and ``<id>_error``, which the templates render.)"""
        focused = False
        for bound in self:
            attrs = bound.field.widget.attrs
            attrs.pop("autofocus", None)
            if bound.errors and not focused and not bound.is_hidden:
                attrs["autofocus"] = True
                focused = True


MAX_RECIPIENTS = 5
RECIPIENTS_PREFIX = "recipients"


class PurchaseForm(StorefrontForm):
    """One product, bought for oneself or as a gift; the people it is for are in
    ``RecipientFormSet`` (see ``Purchase``)."""

    radio_fields = ("amount", "purpose")

    quantity = forms.IntegerField(
        label="How many cards",
        min_value=1,
        max_value=MAX_QUANTITY,
        initial=1,
        help_text=f"From 1 to {MAX_QUANTITY}. A gift is one card for each person.",
        error_messages={
            "required": "Enter how many cards you want.",
            "invalid": "Enter how many cards as a whole number.",
            "min_value": "Buy at least 1 card.",
            "max_value": f"You can buy up to {MAX_QUANTITY} cards at a time.",
        },
        widget=forms.NumberInput(attrs={"inputmode": "numeric", "class": "sf-quantity"}),
    )
    purpose = forms.ChoiceField(
        label="Who is it for?",
        choices=[(FOR_ME, "For me"), (AS_GIFT, "As a gift")],
        initial=FOR_ME,
        widget=forms.RadioSelect(attrs={"data-purpose": ""}),
        error_messages={"required": "Choose who the card is for."},
    )
    timezone = forms.CharField(
        required=False,
        max_length=64,
        initial=delivery.DEFAULT_TIMEZONE,
        widget=forms.HiddenInput(attrs={"data-timezone": ""}),
    )
    buyer_name = forms.CharField(
        label="Your name",
        max_length=120,
        error_messages={"required": "Enter your name."},
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
    buyer_email = forms.EmailField(
        label="Your email",
        max_length=254,
        help_text="We send the receipt here, and the card too when it is for you.",
        error_messages={
            "required": "Enter your email address.",
            "invalid": "Enter an email address like name@example.com.",
        },
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )

    def __init__(self, *args: Any, product: Product, **kwargs: Any) -> None:
        self.product = product
        super().__init__(*args, **kwargs)
        amount: forms.Field
        if product.denominations:
            amount = forms.ChoiceField(
                label="Amount",
                choices=pricing.denomination_choices(product),
                widget=forms.RadioSelect,
                error_messages={
                    "required": "Choose an amount.",
                    "invalid_choice": "Choose one of the amounts shown.",
                },
            )
        else:
            amount = forms.CharField(
                label=f"Amount ({product.currency})",
                max_length=MAX_INPUT_LENGTH,
                help_text=self._range_help(),
                error_messages={"required": "Enter an amount."},
                widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
            )
        # The amount comes first on the page.
        self.fields = {"amount": amount, **self.fields}
        self.timezone_name = delivery.DEFAULT_TIMEZONE

    def _range_help(self) -> str:
        product = self.product
        currency = product.currency
        span = product_amount_range(product)
        example = f"e.g. {example_amount(currency)}."
        low, high = format_money(span.low, currency), format_money(span.high, currency)
        if product.min_amount is not None and product.max_amount is not None:
            return f"Between {low} and {high}, {example}"
        if product.min_amount is not None:
            return f"At least {low}, {example}"
        if product.max_amount is not None:
            return f"Up to {high}, {example}"
        return f"For example {example_amount(currency)}."

    # --- Fields -----------------------------------------------------------------------

    def clean_amount(self) -> int:
        product = self.product
        raw = self.cleaned_data["amount"]
        if product.denominations:
            return int(raw)  # one of the choices, so digits only
        amount = clean_amount(str(raw), product.currency)
        refusal = product_amount_refusal(product, amount)
        if refusal is not None:
            raise forms.ValidationError(refusal, code="amount_not_allowed")
        return amount

    def clean_timezone(self) -> str:
        self.timezone_name = delivery.safe_timezone(self.cleaned_data.get("timezone"))
        return self.timezone_name

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if data.get("purpose") == AS_GIFT:
            # A gift is one card for each person: the quantity is not used (nor checked).
            self.errors.pop("quantity", None)
            data["quantity"] = 1
        return data

    @property
    def is_gift(self) -> bool:
        return self.cleaned_data.get("purpose") == AS_GIFT

    @property
    def chose_gift(self) -> bool:
        """Whether "As a gift" is chosen, before (or without) validation."""
        return bool(self.data.get(self.add_prefix("purpose")) == AS_GIFT)


class RecipientForm(StorefrontForm):
    """One person a gift is for, with their own message and delivery time."""

    recipient_name = forms.CharField(
        label="Their name",
        max_length=120,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    recipient_email = forms.EmailField(
        label="Their email (optional if you give a phone number)",
        required=False,
        max_length=254,
        error_messages={"invalid": "Enter an email address like name@example.com."},
        widget=forms.EmailInput(attrs={"autocomplete": "off"}),
    )
    recipient_phone = forms.CharField(
        label="Their mobile number (optional if you give an email)",
        required=False,
        max_length=32,
        help_text="For a text message. International format, e.g. +447700900123.",
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "off", "inputmode": "tel"}),
    )
    message = forms.CharField(
        label="Your message (optional)",
        required=False,
        max_length=MAX_MESSAGE,
        help_text=f"Up to {MAX_MESSAGE} characters.",
        error_messages={
            "max_length": f"Keep the message to {MAX_MESSAGE} characters or fewer "
            "(it has %(show_value)d)."
        },
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    deliver_at = forms.CharField(
        label="Delivery date and time (optional)",
        required=False,
        help_text="Leave empty to send it as soon as you have paid.",
        widget=forms.TextInput(attrs={"type": "datetime-local"}),
    )

    def __init__(self, *args: Any, timezone_key: str = "timezone", **kwargs: Any) -> None:
        self.timezone_key = timezone_key
        super().__init__(*args, **kwargs)

    def clean_recipient_phone(self) -> str:
        raw: str = self.cleaned_data["recipient_phone"]
        if not raw.strip():
            return ""
        try:
            return normalise_phone(raw)
        except InvalidPhone as exc:
            raise forms.ValidationError(str(exc), code="invalid") from None

    def clean_deliver_at(self) -> datetime | None:
        raw = (self.cleaned_data.get("deliver_at") or "").strip()
        if not raw:
            return None
        if not _LOCAL_DATETIME.match(raw):
            raise forms.ValidationError(
                "Enter the date and time like 2030-12-24 09:00.", code="invalid"
            )
        try:
            local = datetime.fromisoformat(raw)
        except ValueError:
            raise forms.ValidationError("That date does not exist.", code="invalid") from None
        # The buyer's time zone is a field of the purchase form; read it from the data.
        zone = delivery.safe_timezone(self.data.get(self.timezone_key))
        try:
            when = delivery.local_to_utc(local, zone)
        except delivery.InvalidLocalTime as exc:
            raise forms.ValidationError(str(exc), code="invalid") from None
        now = timezone.now()
        if when < now - PAST_GRACE:
            raise forms.ValidationError(
                "That time has passed. Choose a time in the future, or leave it empty to "
                "send the card as soon as you have paid.",
                code="past",
            )
        if when > now + MAX_SCHEDULE_AHEAD:
            raise forms.ValidationError(
                "Choose a delivery date within the next 12 months.", code="too_far"
            )
        return None if when <= now else when

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if not (data.get("recipient_name") or "").strip() and "recipient_name" not in self.errors:
            self.add_error("recipient_name", "Enter the name of the person it is for.")
        if (
            not data.get("recipient_email")
            and not data.get("recipient_phone")
            and "recipient_email" not in self.errors
            and "recipient_phone" not in self.errors
        ):
            self.add_error(
                "recipient_email",
                "Enter their email address or mobile number, so we can send them the card.",
            )
        return data


class _RecipientBaseFormSet(forms.BaseFormSet[RecipientForm]):
    default_error_messages = {
        "too_many_forms": f"One order can go to at most {MAX_RECIPIENTS} people. "
        "Place another order for the others.",
        "too_few_forms": "Enter the details of the person the card is for.",
    }


RecipientFormSet = forms.formset_factory(
    RecipientForm,
    formset=_RecipientBaseFormSet,
    extra=0,
    min_num=1,
    max_num=MAX_RECIPIENTS,
    validate_max=True,
    absolute_max=MAX_RECIPIENTS,
)


def _silence(form: forms.Form) -> None:
    """Show what was typed without judging it (nothing was submitted for checking)."""
    form.__dict__.update(_errors=ErrorDict(), cleaned_data={})


class Purchase:
    """The purchase form and, for a gift, one block per recipient (up to five).

    ``add_recipient`` re-shows the typed values with one more empty block: nothing is
    checked or created.
    """

    def __init__(
        self,
        data: Any = None,
        *,
        product: Product,
        initial: dict[str, Any] | None = None,
        add_recipient: bool = False,
    ) -> None:
        self.product = product
        self.adding = False
        if data is not None and add_recipient:
            data = data.copy()
            data["purpose"] = AS_GIFT
            key = f"{RECIPIENTS_PREFIX}-TOTAL_FORMS"
            try:
                count = int(data.get(key) or 0)
            except ValueError:
                count = 0
            data[key] = str(min(max(count, 1) + 1, MAX_RECIPIENTS))
            data.setdefault(f"{RECIPIENTS_PREFIX}-INITIAL_FORMS", "0")
            self.adding = True
        self.form = PurchaseForm(data, product=product, initial=initial)
        self.recipients = self._recipient_formset(data)
        if data is not None and not self.recipients.management_form.is_valid():
            # Posted without the recipient blocks (e.g. "For me" from an older page).
            self.recipients = self._recipient_formset(None)
            if self.form.chose_gift and not self.adding:
                self.form.add_error(None, "Enter the details of the person the card is for.")
        elif self.adding or (data is not None and not self.form.chose_gift):
            # Nothing to check in the recipient blocks: show them as typed.
            for recipient in self.recipients.forms:
                _silence(recipient)
            self.recipients.__dict__.update(
                _errors=[], _non_form_errors=self.recipients.error_class()
            )
        if self.adding:
            _silence(self.form)

    def _recipient_formset(self, data: Any) -> forms.BaseFormSet[RecipientForm]:
        return RecipientFormSet(
            data,
            prefix=RECIPIENTS_PREFIX,
            form_kwargs={"timezone_key": self.form.add_prefix("timezone")},
        )

    @property
    def is_bound(self) -> bool:
        return self.form.is_bound and not self.adding

    @property
    def is_gift(self) -> bool:
        return self.form.is_gift

    @property
    def can_add_recipient(self) -> bool:
        return len(self.recipients.forms) < MAX_RECIPIENTS

    def is_valid(self) -> bool:
        if self.adding:
            return False
        valid = self.form.is_valid()
        if self.form.chose_gift:
            valid = self.recipients.is_valid() and valid
        return valid

    def filled_recipients(self) -> list[RecipientForm]:
        """The recipient blocks of a valid gift, leaving out extra blocks left empty."""
        return [f for f in self.recipients.forms if f.cleaned_data]

    def _checks_recipients(self) -> bool:
        return self.form.is_bound and self.form.chose_gift and not self.adding

    def _in_page_order(self) -> list[tuple[forms.Form, str | None]]:
        """(form, field) pairs in the order the page shows them."""
        before = [n for n in self.form.fields if n not in ("buyer_name", "buyer_email")]
        pairs: list[tuple[forms.Form, str | None]] = [(self.form, n) for n in before]
        if self._checks_recipients():
            for recipient in self.recipients.forms:
                pairs.extend((recipient, n) for n in recipient.fields)
        pairs.extend((self.form, n) for n in ("buyer_name", "buyer_email"))
        return pairs

    def error_summary(self) -> list[SummaryError]:
        if not self.is_bound:
            return []
        items = [SummaryError("", str(e)) for e in self.form.non_field_errors()]
        if self._checks_recipients():
            items.extend(
                SummaryError("gift-details", str(e)) for e in self.recipients.non_form_errors()
            )
            for recipient in self.recipients.forms:
                items.extend(SummaryError("", str(e)) for e in recipient.non_field_errors())
        for form, name in self._in_page_order():
            assert name is not None
            bound = form[name]
            anchor = form.anchor(name) if isinstance(form, StorefrontForm) else bound.auto_id
            items.extend(SummaryError(anchor, str(e)) for e in bound.errors)
        return items

    def annotate(self) -> None:
        """Focus the first invalid control, in the order of the page."""
        focused = False
        for form, name in self._in_page_order():
            assert name is not None
            bound = form[name]
            attrs = bound.field.widget.attrs
            attrs.pop("autofocus", None)
            if self.is_bound and bound.errors and not focused and not bound.is_hidden:
                attrs["autofocus"] = True
                focused = True
        if self.adding:
            self.recipients.forms[-1].fields["recipient_name"].widget.attrs["autofocus"] = True


class BalanceForm(StorefrontForm):
    code = GiftCardCodeField(
        help_text="The 16 characters on the card or in the email, like ABCD-EFGH-JKMN-PQRS. "
        "Dashes and spaces are optional.",
        error_messages={"required": "Enter the code on your gift card."},
    )

"""Dashboard forms for products and cards: they turn what a person typed into clean
values (amounts in minor units, re-encoded images) and nothing more. The rules about
money live in ``giftcards.services``; the views pass these values to them."""

from __future__ import annotations

import re
import secrets
from datetime import datetime, time
from io import BytesIO
from typing import Any

from django import forms
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db.models import QuerySet
from django.utils import timezone
from PIL import Image, ImageOps

from core.contact import InvalidPhone, normalise_email, normalise_phone
from core.forms import AmountField, clean_amount
from core.money import CURRENCY_CHOICES, example_amount, format_money, format_plain
from giftcards import codes
from giftcards.idempotency import form_key
from giftcards.models import CardStatus, Product
from giftcards.product_rules import min_validity_days, product_terms_refusal

# --- Tokens ----------------------------------------------------------------------------


def _idempotency_field() -> forms.CharField:
    # One fresh token per rendered form: a resubmitted form (reload, double click) is
    # recognised by it and not booked twice.
    return forms.CharField(
        required=False, widget=forms.HiddenInput, max_length=64, initial=_new_token
    )


def _new_token() -> str:
    return secrets.token_urlsafe(16)


_TOKEN = re.compile(r"[A-Za-z0-9_-]{16,64}")


# --- A card's code, typed -------------------------------------------------------------


class CodeInput(forms.TextInput):
    """A text input that never writes the typed code back into the page."""

    def format_value(self, value: Any) -> str | None:
        return None


class GiftCardCodeField(forms.CharField):
    """A gift card code as a person types or scans it, wherever one is asked for (the
    till, the shop's balance check): dashes, spaces and case do not matter, and a code
    that fails its check character is refused here, before any lookup is counted. The
    cleaned value is what was typed; lookups normalise it themselves."""

    INVALID = (
        "This is not a valid gift card code: check it for typos. A code has 16 "
        "characters, like ABCD-EFGH-JKMN-PQRS."
    )

    def __init__(self, *, attrs: dict[str, Any] | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("label", "Gift card code")
        kwargs.setdefault("max_length", 64)
        widget_attrs = {
            "autocomplete": "off",
            "autocapitalize": "characters",
            "spellcheck": "false",
        }
        super().__init__(widget=CodeInput(attrs={**widget_attrs, **(attrs or {})}), **kwargs)

    def validate(self, value: Any) -> None:
        super().validate(value)
        if value in self.empty_values:
            return
        try:
            codes.normalise(value)
        except codes.InvalidCode:
            raise forms.ValidationError(self.INVALID, code="typo") from None


def idempotency_key(cleaned_data: dict[str, Any]) -> str:
    """The money key of a submitted form (``giftcards.idempotency.form_key``); "" when
    the form carried no usable token."""
    token = cleaned_data.get("idempotency_key") or ""
    return form_key(token) if _TOKEN.fullmatch(token) else ""


# --- Images ---------------------------------------------------------------------------

IMAGE_MAX_BYTES = 5 * 1024 * 1024
IMAGE_MAX_SIDE = 4000
IMAGE_FORMATS = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp"}
_NOT_AN_IMAGE = "Upload a JPEG, PNG or WebP image; this file is not one."


def reencode_image(upload: UploadedFile) -> ContentFile[bytes]:
    """Validate an uploaded image by its content and return a re-encoded copy with a
    random name and no metadata (EXIF, GPS, text chunks, colour profiles).

    The name and content type a browser sends are ignored: Pillow must recognise the
    bytes as one of the allowed formats, the header must pass ``verify()``, and the
    pixels must decode. Dimensions are checked before decoding, so a small file that
    claims huge dimensions is refused without being unpacked.
    """
    if upload.size is None or upload.size > IMAGE_MAX_BYTES:
        raise forms.ValidationError("The image must be 5 MB or smaller.", code="too_big")
    allowed = list(IMAGE_FORMATS)
    try:
        upload.seek(0)
        with Image.open(upload, formats=allowed) as probe:
            image_format = probe.format or ""
            width, height = probe.size
            if width > IMAGE_MAX_SIDE or height > IMAGE_MAX_SIDE:
                raise forms.ValidationError(
                    f"The image is {width}x{height} pixels; the most is "
                    f"{IMAGE_MAX_SIDE}x{IMAGE_MAX_SIDE}.",
                    code="too_large",
                )
            probe.verify()
        upload.seek(0)
        with Image.open(upload, formats=allowed) as source:
            source.load()
            image = ImageOps.exif_transpose(source)  # keep the orientation EXIF gave it
            if "transparency" in image.info:  # a palette/grey transparency lives in info
                image = image.convert("RGBA")
            image.info = {}  # nothing from the original travels on
            out = BytesIO()
            if image_format == "JPEG":
                if image.mode not in ("RGB", "L"):
                    image = image.convert("RGB")
                image.save(out, format="JPEG", quality=88, optimize=True)
            elif image_format == "PNG":
                if image.mode not in ("RGB", "RGBA", "L", "LA", "P"):
                    image = image.convert("RGBA")
                image.save(out, format="PNG")
            else:
                if image.mode not in ("RGB", "RGBA"):
                    image = image.convert("RGBA" if "A" in image.getbands() else "RGB")
                image.save(out, format="WEBP", quality=85)
    except forms.ValidationError:
        raise
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise forms.ValidationError(_NOT_AN_IMAGE, code="invalid_image") from exc
    if image_format not in IMAGE_FORMATS:  # pragma: no cover - open() refuses others
        raise forms.ValidationError(_NOT_AN_IMAGE, code="invalid_image")
    name = f"{secrets.token_hex(10)}{IMAGE_FORMATS[image_format]}"
    return ContentFile(out.getvalue(), name=name)


# --- Products -------------------------------------------------------------------------


_TERMS_FIELDS = ("currency", "amount_type", "denominations", "min_amount", "max_amount")


def _list_separators(text: str) -> str:
    """How a list of amounts is split: by semicolons (and line breaks) when it has any, so
    that amounts with a decimal comma can be listed ("12,50; 25"); otherwise by commas
    and spaces, as most people write a list ("10, 25, 50")."""
    return r"[;\n]+" if ";" in text else r"[,;\s]+"


class ProductForm(forms.Form):
    FIXED = "fixed"
    RANGE = "range"

    name = forms.CharField(max_length=120)
    description = forms.CharField(
        required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 3})
    )
    image = forms.FileField(
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": "image/jpeg,image/png,image/webp"}),
        help_text="JPEG, PNG or WebP, up to 5 MB and 4000x4000 pixels.",
    )
    currency = forms.ChoiceField(choices=CURRENCY_CHOICES)
    amount_type = forms.ChoiceField(
        label="Amounts",
        choices=[(FIXED, "Fixed amounts"), (RANGE, "Any amount in a range")],
        widget=forms.RadioSelect,
        initial=FIXED,
    )
    denominations = forms.CharField(
        label="Fixed amounts",
        required=False,
        max_length=500,
        help_text="In the product's currency, separated by commas, e.g. 10, 25, 50; by "
        "semicolons if you write decimals with a comma, e.g. 12,50; 25.",
    )
    min_amount = AmountField(label="Smallest amount", required=False)
    max_amount = AmountField(label="Largest amount", required=False)
    validity_days = forms.IntegerField(
        label="Valid for (days)",
        required=False,
        min_value=1,
        max_value=36500,
        help_text="Days a card stays valid after it is issued. Leave empty for no expiry.",
    )
    reloadable = forms.BooleanField(
        required=False, help_text="Cards of this product can be topped up."
    )
    is_active = forms.BooleanField(
        label="Active",
        required=False,
        initial=True,
        help_text="Only active products can be sold or issued.",
    )

    def __init__(self, *args: Any, product: Product | None = None, **kwargs: Any) -> None:
        if product is not None and "initial" not in kwargs:
            kwargs["initial"] = self.initial_for(product)
        super().__init__(*args, **kwargs)
        self.product = product
        floor = min_validity_days()
        self.fields[
            "validity_days"
        ].help_text += f" This platform keeps every card valid for at least {floor} days."
        if product is not None and product.image:
            self.fields["image"].initial = product.image

    @classmethod
    def initial_for(cls, product: Product) -> dict[str, Any]:
        currency = product.currency
        return {
            "name": product.name,
            "description": product.description,
            "currency": currency,
            "amount_type": cls.FIXED if product.denominations else cls.RANGE,
            "denominations": ", ".join(format_plain(d, currency) for d in product.denominations),
            "min_amount": format_plain(product.min_amount, currency) if product.min_amount else "",
            "max_amount": format_plain(product.max_amount, currency) if product.max_amount else "",
            "validity_days": product.validity_days,
            "reloadable": product.reloadable,
            "is_active": product.is_active,
        }

    def clean_image(self) -> Any:
        upload = self.cleaned_data.get("image")
        if isinstance(upload, UploadedFile):
            return reencode_image(upload)
        return upload  # None (unchanged) or False (clear)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        currency = data.get("currency")
        if not currency:
            return data
        if data.get("amount_type") == self.FIXED:
            data["denominations"] = self._denominations(data.get("denominations") or "", currency)
            data["min_amount"] = data["max_amount"] = None
        elif data.get("amount_type") == self.RANGE:
            data["denominations"] = []
            low = self._range_end("min_amount", data.get("min_amount"), currency)
            high = self._range_end("max_amount", data.get("max_amount"), currency)
            data["min_amount"], data["max_amount"] = low, high
        self._check_terms(data, currency)
        return data

    def _check_terms(self, data: dict[str, Any], currency: str) -> None:
        """The catalogue's own rules (``giftcards.product_rules``), shown next to the field
        they concern; the service checks them again when the product is saved."""
        if any(name in self.errors for name in _TERMS_FIELDS):  # already explained
            return
        refusal = product_terms_refusal(
            currency=currency,
            denominations=data.get("denominations") or [],
            min_amount=data.get("min_amount"),
            max_amount=data.get("max_amount"),
            validity_days=data.get("validity_days"),
        )
        if refusal is not None:
            field = refusal.field if refusal.field in self.fields else None
            self.add_error(field, refusal.detail)

    def _denominations(self, text: str, currency: str) -> list[int]:
        parts = [p.strip() for p in re.split(_list_separators(text), text) if p.strip()]
        if not parts:
            self.add_error("denominations", "Enter at least one amount, e.g. 10, 25, 50.")
            return []
        amounts: list[int] = []
        for part in parts:
            try:
                amounts.append(clean_amount(part, currency))
            except forms.ValidationError as exc:
                self.add_error("denominations", f"“{part}”: {exc.messages[0]}")
        return amounts

    def _range_end(self, field: str, text: str | None, currency: str) -> int | None:
        if field in self.errors:
            return None
        if not text:
            self.add_error(field, "Enter an amount for a range product.")
            return None
        try:
            return clean_amount(text, currency)
        except forms.ValidationError as exc:
            self.add_error(field, exc)
            return None

    def service_kwargs(self) -> dict[str, Any]:
        """The cleaned values, named as ``product_create``/``product_update`` take them."""
        data = self.cleaned_data
        kwargs: dict[str, Any] = {
            "name": data["name"],
            "description": data.get("description") or "",
            "currency": data["currency"],
            "denominations": data["denominations"],
            "min_amount": data["min_amount"],
            "max_amount": data["max_amount"],
            "validity_days": data.get("validity_days"),
            "reloadable": bool(data.get("reloadable")),
            "is_active": bool(data.get("is_active")),
        }
        image = data.get("image")
        if image:
            kwargs["image"] = image
        return kwargs


# --- Cards ----------------------------------------------------------------------------


class CardSearchForm(forms.Form):
    q = forms.CharField(
        label="Find a card",
        required=False,
        max_length=254,
        help_text="Last 4 characters, full code, card id (gc_…) or recipient email.",
        widget=forms.TextInput(
            attrs={"type": "search", "autocomplete": "off", "spellcheck": "false"}
        ),
    )
    status = forms.ChoiceField(required=False, choices=[("", "Any status"), *CardStatus.choices])
    page = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)


def looks_like_code(term: str) -> bool:
    """Sixteen code symbols, however they were grouped: a full code, to be looked up
    through the throttled path (GC-5) rather than a plain search."""
    compact = re.sub(r"[\s\-_.]+", "", term)
    return len(compact) == 16 and compact.isalnum() and compact.isascii()


class ProductChoiceField(forms.ModelChoiceField[Product]):
    def label_from_instance(self, obj: Product) -> str:
        if obj.denominations:
            amounts = ", ".join(format_money(d, obj.currency) for d in obj.denominations)
        elif obj.min_amount or obj.max_amount:
            low = format_money(obj.min_amount or 0, obj.currency)
            high = format_money(obj.max_amount, obj.currency) if obj.max_amount else "any"
            amounts = f"{low} to {high}"
        else:
            amounts = f"any amount in {obj.currency}"
        return f"{obj.name} ({amounts})"


class CardIssueForm(forms.Form):
    currency = forms.ChoiceField(choices=CURRENCY_CHOICES)
    amount = AmountField(help_text="In major units, e.g. 25.00.")
    product = ProductChoiceField(
        queryset=Product.objects.none(),
        required=False,
        to_field_name="public_id",
        empty_label="No product",
        help_text="Optional. The card takes the product's rules (amounts, validity, reloads).",
    )
    expires_on = forms.DateField(
        label="Expiry date",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Optional. Empty: the product's validity period, or no expiry.",
    )
    recipient_email = forms.EmailField(required=False, max_length=254)
    recipient_phone = forms.CharField(
        required=False,
        max_length=32,
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "off"}),
        help_text="International format, e.g. +44 20 7946 0000.",
    )
    reference = forms.CharField(
        required=False, max_length=200, help_text="Your own note, e.g. an order number."
    )
    idempotency_key = _idempotency_field()

    def __init__(self, *args: Any, products: QuerySet[Product], currency: str, **kw: Any) -> None:
        super().__init__(*args, **kw)
        product_field = self.fields["product"]
        assert isinstance(product_field, ProductChoiceField)
        product_field.queryset = products
        self.fields["currency"].initial = currency

    def clean_recipient_email(self) -> str:
        email: str = self.cleaned_data.get("recipient_email") or ""
        return normalise_email(email) if email else ""

    def clean_recipient_phone(self) -> str:
        phone: str = self.cleaned_data.get("recipient_phone", "").strip()
        if not phone:
            return ""
        try:
            return normalise_phone(phone)
        except InvalidPhone as exc:
            raise forms.ValidationError(str(exc), code="invalid_phone") from None

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        currency = data.get("currency")
        if currency and isinstance(data.get("amount"), str):
            try:
                data["amount"] = clean_amount(data["amount"], currency)
            except forms.ValidationError as exc:
                self.add_error("amount", exc)
        expires_on = data.get("expires_on")
        # A card valid "until 31 May" is valid all that day, in the platform's time zone.
        data["expires_at"] = (
            timezone.make_aware(datetime.combine(expires_on, time(23, 59, 59)))
            if expires_on
            else None
        )
        return data


class ReloadForm(forms.Form):
    prefix = "reload"

    amount = AmountField()
    reference = forms.CharField(required=False, max_length=200)
    idempotency_key = _idempotency_field()

    def __init__(self, *args: Any, currency: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        amount = self.fields["amount"]
        assert isinstance(amount, AmountField)
        amount.currency = currency
        amount.help_text = f"In {currency}, e.g. {example_amount(currency)}."


class VoidForm(forms.Form):
    prefix = "void"

    reason = forms.CharField(
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Required. Recorded in the ledger with your name.",
    )
    idempotency_key = _idempotency_field()

    def __init__(self, *args: Any, currency: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)

    def clean_reason(self) -> str:
        reason: str = self.cleaned_data["reason"].strip()
        if not reason:
            raise forms.ValidationError("Say why the card is being voided.")
        return reason


class RefundForm(forms.Form):
    prefix = "refund"

    amount = AmountField(required=False)
    reason = forms.CharField(required=False, max_length=500)
    reference = forms.CharField(required=False, max_length=200)
    idempotency_key = _idempotency_field()

    def __init__(self, *args: Any, currency: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        amount = self.fields["amount"]
        assert isinstance(amount, AmountField)
        amount.currency = currency
        amount.help_text = "Leave empty to refund everything that can still be refunded."


class AdjustForm(forms.Form):
    prefix = "adjust"
    ADD = "add"
    REMOVE = "remove"

    direction = forms.ChoiceField(
        choices=[(ADD, "Add to the balance"), (REMOVE, "Take from the balance")],
        widget=forms.RadioSelect,
        initial=ADD,
    )
    amount = AmountField()
    reason = forms.CharField(
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Required. Recorded in the ledger with your name.",
    )
    idempotency_key = _idempotency_field()

    def __init__(self, *args: Any, currency: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        amount = self.fields["amount"]
        assert isinstance(amount, AmountField)
        amount.currency = currency
        amount.help_text = f"In {currency}, e.g. {example_amount(currency)}."

    def clean_reason(self) -> str:
        reason: str = self.cleaned_data["reason"].strip()
        if not reason:
            raise forms.ValidationError("Say why the balance is being adjusted.")
        return reason

    def signed_amount(self) -> int:
        amount: int = self.cleaned_data["amount"]
        return -amount if self.cleaned_data["direction"] == self.REMOVE else amount

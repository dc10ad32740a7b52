"""Small input and output shapes for the gift card API. No business rules here: the
services decide; these only parse and present. Inputs are strict (``core.serializers``):
an unknown field or a value of the wrong type is a 400, never ignored or coerced."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.contact import InvalidEmail, InvalidPhone, normalise_email, normalise_phone
from core.money import CURRENCY_EXPONENTS, MAX_AMOUNT
from core.pagination import PageParameters
from core.serializers import (
    StrictCharField,
    StrictDateTimeField,
    StrictEmailField,
    StrictInputSerializer,
)
from giftcards import codes
from giftcards.models import CardStatus, GiftCard, Transaction, TransactionKind


class AmountField(serializers.IntegerField):
    """Whole minor units above 0. Floats, strings and booleans are refused, not rounded."""

    default_error_messages = {
        "invalid": "Send the amount as a whole number of minor units (2500 = 25.00).",
        "min_value": "The amount must be above 0.",
        "max_value": "The amount is larger than the platform allows.",
    }

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_AMOUNT)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return int(super().to_internal_value(data))

    def run_validation(self, data: Any = serializers.empty) -> Any:
        try:
            return super().run_validation(data)
        except serializers.ValidationError as exc:
            if data is serializers.empty or data is None:
                raise
            messages = exc.detail if isinstance(exc.detail, list) else [exc.detail]
            raise serializers.ValidationError(
                [str(message) for message in messages], code="invalid_amount"
            ) from exc


class CurrencyField(StrictCharField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("min_length", 3)
        kwargs.setdefault("max_length", 3)
        kwargs.setdefault("help_text", "ISO 4217, e.g. `EUR`; any case.")
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        value = str(super().to_internal_value(data)).upper()
        if value not in CURRENCY_EXPONENTS:
            raise serializers.ValidationError(f"'{value}' is not a supported ISO 4217 currency.")
        return value


class CodeField(StrictCharField):
    """A card code as a person or a scanner sends it; normalised here."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 64)
        kwargs.setdefault("trim_whitespace", True)
        kwargs.setdefault(
            "help_text",
            "The card's 16-character code as printed or scanned. Case, spaces and dashes do "
            "not matter, nor O for 0 or I/L for 1.",
        )
        super().__init__(**kwargs)


def _reference() -> StrictCharField:
    return StrictCharField(
        required=False,
        allow_blank=True,
        max_length=200,
        help_text="Your own reference (an order or till receipt number), kept on the ledger entry.",
    )


def _validate_metadata(value: dict[str, Any]) -> None:
    if len(value) > 20:
        raise serializers.ValidationError("At most 20 metadata keys.")
    for key, item in value.items():
        if not isinstance(key, str) or not 1 <= len(key) <= 40:
            raise serializers.ValidationError("Metadata keys are 1 to 40 characters.")
        if not isinstance(item, str | int | bool) or len(str(item)) > 500:
            raise serializers.ValidationError(
                f"Metadata '{key}' must be a string, number or boolean of at most 500 characters."
            )


@extend_schema_field(
    {
        "type": "object",
        "maxProperties": 20,
        "additionalProperties": {
            "oneOf": [
                {"type": "string", "maxLength": 500},
                {"type": "integer"},
                {"type": "boolean"},
            ]
        },
        "description": "Up to 20 keys of 1 to 40 characters; each value a string of at most "
        "500 characters, a whole number or a boolean.",
        "example": {"order": "1001"},
    }
)
class MetadataField(serializers.DictField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("validators", [_validate_metadata])
        super().__init__(**kwargs)


class IssueInput(StrictInputSerializer):
    amount = AmountField(help_text="Minor units: 2500 is 25.00.")
    currency = CurrencyField()
    product = StrictCharField(
        required=False,
        allow_null=True,
        max_length=40,
        help_text="One of your products (`prod_...`): its amounts, currency, expiry and "
        "reloadability apply. Without one, the card is reloadable.",
    )
    expires_at = StrictDateTimeField(
        required=False,
        allow_null=True,
        help_text="When the card stops working. Default: the product's or the platform's rule.",
    )
    recipient_email = StrictEmailField(
        required=False, allow_blank=True, help_text="Where to send the card, if anywhere."
    )
    recipient_phone = StrictCharField(
        required=False,
        allow_blank=True,
        max_length=16,
        help_text="Where to text the card, in international format (+447700900123).",
    )
    metadata = MetadataField(required=False)
    reference = _reference()

    def validate_recipient_email(self, value: str) -> str:
        if not value:
            return value
        try:
            return normalise_email(value)
        except InvalidEmail as exc:
            raise serializers.ValidationError(str(exc)) from None

    def validate_recipient_phone(self, value: str) -> str:
        if not value:
            return value
        try:
            return normalise_phone(value)
        except InvalidPhone as exc:
            raise serializers.ValidationError(str(exc)) from None


class LookupInput(StrictInputSerializer):
    code = CodeField()


def _card_currency() -> CurrencyField:
    return CurrencyField(
        required=False,
        help_text="If given, must be the card's currency (a safety check); ISO 4217.",
    )


class RedeemInput(StrictInputSerializer):
    amount = AmountField(help_text="Minor units to spend.")
    currency = _card_currency()
    reference = _reference()


class RedeemByCodeInput(RedeemInput):
    code = CodeField()


class ReloadInput(StrictInputSerializer):
    amount = AmountField(help_text="Minor units to add.")
    currency = _card_currency()
    reference = _reference()


class VoidInput(StrictInputSerializer):
    reason = StrictCharField(
        required=False, allow_blank=True, max_length=500, help_text="Why, for the audit log."
    )


class RefundInput(StrictInputSerializer):
    amount = AmountField(
        required=False,
        help_text="Minor units to give back; leave it out to refund all that is left.",
    )
    reason = StrictCharField(
        required=False, allow_blank=True, max_length=500, help_text="Why, for the audit log."
    )
    reference = _reference()


class ListFilters(PageParameters):
    status = serializers.ChoiceField(
        choices=CardStatus.choices,
        required=False,
        help_text="Only cards in this state. An empty value is refused, not read as 'any'.",
    )
    created_after = StrictDateTimeField(
        required=False,
        help_text="Only cards created at or after this instant (ISO 8601 with a time zone; "
        "write `+` as `%2B` in a URL, or use `Z`).",
    )
    created_before = StrictDateTimeField(
        required=False, help_text="Only cards created before this instant (ISO 8601)."
    )


class GiftCardOutput(serializers.Serializer[GiftCard]):
    id = serializers.CharField(source="public_id")
    object = serializers.SerializerMethodField()
    last4 = serializers.CharField()
    currency = serializers.CharField()
    initial_amount = serializers.IntegerField()
    balance = serializers.IntegerField()
    status = serializers.ChoiceField(choices=CardStatus.choices)
    reloadable = serializers.BooleanField()
    expires_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    product = serializers.SerializerMethodField()
    recipient_email = serializers.CharField()
    recipient_phone = serializers.CharField()
    metadata = serializers.DictField()

    def get_object(self, card: GiftCard) -> str:
        return "gift_card"

    @extend_schema_field({"type": "string", "nullable": True, "example": "prod_01j..."})
    def get_product(self, card: GiftCard) -> str | None:
        return card.product.public_id if card.product_id and card.product else None


class IssuedGiftCardOutput(GiftCardOutput):
    code = serializers.SerializerMethodField(
        help_text="The full code, grouped. Shown in this response only; store it or send it now."
    )

    @extend_schema_field({"type": "string", "example": "7KQ2-M9XD-4HTR-ZB6Y"})
    def get_code(self, card: GiftCard) -> str:
        return codes.format_code(self.context["code"])


class TransactionOutput(serializers.Serializer[Transaction]):
    id = serializers.CharField(source="public_id")
    object = serializers.SerializerMethodField()
    gift_card = serializers.CharField(source="gift_card.public_id")
    kind = serializers.ChoiceField(choices=TransactionKind.choices)
    amount = serializers.IntegerField(help_text="Signed: spending is negative.")
    balance_after = serializers.IntegerField()
    currency = serializers.CharField()
    reference = serializers.CharField()
    reason = serializers.CharField()
    refund_of = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()

    def get_object(self, txn: Transaction) -> str:
        return "transaction"

    @extend_schema_field({"type": "string", "nullable": True})
    def get_refund_of(self, txn: Transaction) -> str | None:
        return txn.related.public_id if txn.related_id and txn.related else None


class GiftCardPage(serializers.Serializer[Any]):
    results = GiftCardOutput(many=True)
    next = serializers.URLField(allow_null=True, help_text="The next page, or null.")
    previous = serializers.URLField(allow_null=True)


class TransactionPage(serializers.Serializer[Any]):
    results = TransactionOutput(many=True)
    next = serializers.URLField(allow_null=True, help_text="The next page, or null.")
    previous = serializers.URLField(allow_null=True)


class MoneyMovementOutput(serializers.Serializer[Any]):
    transaction = TransactionOutput()
    gift_card = GiftCardOutput()

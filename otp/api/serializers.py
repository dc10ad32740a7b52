"""Input and output shapes of the one-time code API. Parsing only: the rules are in
``otp.services``. Inputs are strict: unknown fields and values of the wrong type are a 400."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.api_schema import ProblemSerializer
from core.serializers import StrictCharField, StrictInputSerializer
from otp import recipients
from otp.models import OneTimeCode, OtpChannel, OtpPurpose, OtpStatus


class RecipientField(StrictCharField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 254)
        kwargs.setdefault(
            "help_text", "An email address, or a phone number in E.164 format (+447700900123)."
        )
        super().__init__(**kwargs)


class RequestInput(StrictInputSerializer):
    class Meta:
        ref_name = "OtpRequestInput"

    purpose = serializers.ChoiceField(choices=OtpPurpose.choices)
    channel = serializers.ChoiceField(choices=OtpChannel.choices)
    recipient = RecipientField()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        try:
            recipients.parse(attrs["recipient"], kind=attrs["channel"])
        except recipients.InvalidRecipient as exc:
            raise serializers.ValidationError({"recipient": [str(exc)]}) from None
        return attrs


class VerifyInput(StrictInputSerializer):
    class Meta:
        ref_name = "OtpVerifyInput"

    purpose = serializers.ChoiceField(choices=OtpPurpose.choices)
    recipient = RecipientField()
    code = StrictCharField(
        max_length=32,
        help_text="The digits the person received, as a string (a leading 0 counts).",
    )

    def validate_recipient(self, value: str) -> str:
        try:
            recipients.parse(value)
        except recipients.InvalidRecipient as exc:
            raise serializers.ValidationError(str(exc)) from None
        return value


class OneTimeCodeOutput(serializers.Serializer[OneTimeCode]):
    id = serializers.CharField(source="public_id")
    object = serializers.SerializerMethodField()
    purpose = serializers.ChoiceField(choices=OtpPurpose.choices)
    channel = serializers.ChoiceField(choices=OtpChannel.choices, help_text="As asked for.")
    recipient = serializers.CharField(source="recipient_masked", help_text="Masked.")
    status = serializers.SerializerMethodField(
        help_text="`pending` when just sent, `verified` once checked."
    )
    expires_at = serializers.DateTimeField()
    created_at = serializers.DateTimeField()

    def get_object(self, otp: OneTimeCode) -> str:
        return "one_time_code"

    def get_status(self, otp: OneTimeCode) -> str:
        return str(otp.status)


class IssuedOutput(OneTimeCodeOutput):
    class Meta:
        ref_name = "OtpIssued"

    delivery_channel = serializers.SerializerMethodField(
        help_text="The channel the message went out on: the platform's fallback when the "
        "channel asked for is switched off."
    )

    @extend_schema_field({"type": "string", "enum": [c.value for c in OtpChannel]})
    def get_delivery_channel(self, otp: OneTimeCode) -> str:
        return str(self.context["delivery_channel"])

    # Each answer has one status; documented per answer, which also keeps the enum's
    # name in the schema to that answer.
    @extend_schema_field({"type": "string", "enum": [OtpStatus.PENDING.value]})
    def get_status(self, otp: OneTimeCode) -> str:
        return str(otp.status)


class VerifiedOutput(OneTimeCodeOutput):
    class Meta:
        ref_name = "OtpVerified"

    verified = serializers.SerializerMethodField()
    verified_at = serializers.DateTimeField()

    @extend_schema_field({"type": "boolean", "enum": [True]})
    def get_verified(self, otp: OneTimeCode) -> bool:
        return True

    @extend_schema_field({"type": "string", "enum": [OtpStatus.VERIFIED.value]})
    def get_status(self, otp: OneTimeCode) -> str:
        return str(otp.status)


class OtpProblemSerializer(ProblemSerializer):
    retry_after = serializers.IntegerField(
        required=False, help_text="Seconds to wait (also in `Retry-After`)."
    )
    attempts_remaining = serializers.IntegerField(required=False)
    limited_by = serializers.ChoiceField(
        choices=["recipient", "api_key", "user", "ip"],
        required=False,
        help_text="Which hourly limit: `recipient` or `api_key` for requests made with an "
        "API key (`user` and `ip` apply to requests from the platform's own pages).",
    )
    delivery_status = serializers.ChoiceField(
        choices=["suppressed", "rate_limited", "failed"],
        required=False,
        help_text="What the send path did with the message.",
    )
    reason = serializers.CharField(required=False)

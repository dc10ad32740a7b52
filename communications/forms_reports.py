"""Forms of the message log's admin pages: the analytics filter and the test message."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from accounts.models import User
from communications import masking
from communications.analytics import MAX_DAYS, Period
from communications.models import Channel
from communications.push import push_subscriptions_for
from communications.services import Recipient
from core.contact import InvalidEmail, InvalidPhone, normalise_email, normalise_phone

PERIOD_CHOICES = [("7", "Last 7 days"), ("30", "Last 30 days"), ("90", "Last 90 days")]
DEFAULT_DAYS = "30"


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs=attrs, format="%Y-%m-%d")


class AnalyticsFilterForm(forms.Form):
    """The period (a preset, or two dates) and the channel the analytics page shows."""

    days = forms.ChoiceField(
        label="Period", choices=PERIOD_CHOICES, initial=DEFAULT_DAYS, required=False
    )
    start = forms.DateField(
        label="From",
        required=False,
        widget=DateInput(),
        help_text="With an end date, replaces the period above.",
    )
    end = forms.DateField(label="To", required=False, widget=DateInput())
    channel = forms.ChoiceField(
        label="Channel",
        required=False,
        choices=[("", "All channels"), *Channel.choices],
    )

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        start: date | None = cleaned.get("start")
        end: date | None = cleaned.get("end")
        if start and not end and "end" not in self.errors:
            self.add_error("end", "Give an end date as well, or leave both dates empty.")
        elif end and not start and "start" not in self.errors:
            self.add_error("start", "Give a start date as well, or leave both dates empty.")
        elif start and end:
            if start > end:
                self.add_error("end", "The end date must be on or after the start date.")
            elif (end - start).days + 1 > MAX_DAYS:
                self.add_error("end", f"Choose at most {MAX_DAYS} days.")
        return cleaned

    def period(self) -> Period:
        """The chosen period; call only once the form is valid."""
        start: date | None = self.cleaned_data.get("start")
        end: date | None = self.cleaned_data.get("end")
        if start and end:
            return Period(start=start, end=end)
        return Period.last_days(int(self.cleaned_data.get("days") or DEFAULT_DAYS))

    def channel_value(self) -> str:
        return str(self.cleaned_data.get("channel") or "")


@dataclass(frozen=True)
class TestTarget:
    """Where a test message goes: exactly one channel's address, so a switched-off channel
    is suppressed (and says why) rather than sent to some other address by its fallback."""

    channel: str
    recipient: Recipient
    address_masked: str


class TestMessageForm(forms.Form):
    channel = forms.ChoiceField(label="Channel", choices=Channel.choices)
    recipient = forms.CharField(
        label="Recipient",
        max_length=254,
        help_text=(
            "Email: an email address. SMS: a phone number in international format, "
            "e.g. +447700900123. Push: the email address of a person whose browsers "
            "have allowed notifications."
        ),
    )

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        channel = cleaned.get("channel")
        text = str(cleaned.get("recipient") or "").strip()
        if not channel or not text:
            return cleaned
        try:
            cleaned["target"] = test_target(channel, text)
        except ValidationError as exc:
            self.add_error("recipient", exc)
        return cleaned

    def target(self) -> TestTarget:
        target: TestTarget = self.cleaned_data["target"]
        return target


def test_target(channel: str, text: str) -> TestTarget:
    """Where a test message on ``channel`` goes, from what an admin typed; raises
    ``ValidationError`` with a message for the form."""
    if channel == Channel.EMAIL:
        email = _email(text)
        return TestTarget(channel, Recipient(email=email), masking.mask("email", email))
    if channel == Channel.SMS:
        try:
            phone = normalise_phone(text)
        except InvalidPhone as exc:
            raise ValidationError(str(exc), code="invalid_phone") from None
        return TestTarget(channel, Recipient(phone=phone), masking.mask("sms", phone))
    email = _email(text)
    user = User.objects.filter(email__iexact=email).first()
    if user is None:
        raise ValidationError("No account has this email address.", code="unknown_user")
    subscriptions = push_subscriptions_for(user=user)
    if not subscriptions:
        raise ValidationError(
            "This person has not allowed push notifications in any browser.",
            code="no_push_subscription",
        )
    return TestTarget(
        channel,
        Recipient(push_subscriptions=subscriptions, user=user),
        masking.mask("email", user.email),
    )


def _email(text: str) -> str:
    try:
        return normalise_email(text)
    except InvalidEmail as exc:
        raise ValidationError(str(exc), code="invalid_email") from None

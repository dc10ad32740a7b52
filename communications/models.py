"""Channel switches, message templates with their versions, and the log of every message.

Nothing leaves the platform except through ``communications.services.send``, which
reads these switches and writes a ``CommunicationLog`` row for every message, sent or not.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

# ``Event`` stays importable from here: the registry of events, ``Event.OTP_CODE``.
from communications.events import Event as Event
from communications.events import event_choices


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    SMS = "sms", "SMS"
    PUSH = "push", "Push"


_AT_LEAST_ONE = MinValueValidator(1, "Must be at least 1: with 0 nothing would ever be sent.")
OTP_LENGTH_MIN = 4
OTP_LENGTH_MAX = 10
_OTP_LENGTH_MESSAGE = f"A one-time code has {OTP_LENGTH_MIN} to {OTP_LENGTH_MAX} digits."
_OTP_EXPIRY_MESSAGE = "Must be at least 1 minute: a code that expires at once cannot be used."
_OTP_ATTEMPTS_MESSAGE = "Must be at least 1: with 0 no code could ever be checked."
# What one message is called on each channel, for limits and reasons people read.
CHANNEL_NOUNS: dict[str, tuple[str, str]] = {
    Channel.EMAIL: ("email", "emails"),
    Channel.SMS: ("text message", "text messages"),
    Channel.PUSH: ("push notification", "push notifications"),
}


def _self_fallback_message(channel: str) -> str:
    label = Channel(channel).label
    return f"{label} cannot fall back to itself: choose another channel, or none to suppress."


def messages_count(count: int, channel: str) -> str:
    """``1,000 emails``, ``1 text message``."""
    one, many = CHANNEL_NOUNS.get(channel, ("message", "messages"))
    return f"{count:,} {one if count == 1 else many}"


class CommunicationSettings(models.Model):
    """The one settings row (pk=1): every channel's switch, limits and fallback.

    Hourly limits are of two kinds. Volume limits (the ceiling for the whole platform, the
    limit per merchant, the one for the platform's own messages) hold a message back until
    an hour with room; the limit per recipient, against abuse, refuses it."""

    email_enabled = models.BooleanField(default=True)
    sms_enabled = models.BooleanField(default=True)
    otp_enabled = models.BooleanField(default=True)
    push_enabled = models.BooleanField(default=False)
    # Volume limits, per channel: the ceiling for the whole platform (the provider's
    # quota), a limit per merchant, and one for the platform's own messages (no merchant).
    # A message over any of them waits (queued, ``deferred_until``); none is dropped.
    email_hourly_ceiling = models.PositiveIntegerField(
        "email: whole platform, per hour",
        default=10_000,
        validators=[_AT_LEAST_ONE],
        help_text="Emails an hour from the whole platform: every merchant and the "
        "platform's own emails together. Set it to your email provider's hourly quota. An "
        "email over it is not lost: it waits, queued, and goes out in the next hour with room.",
    )
    email_merchant_hourly_limit = models.PositiveIntegerField(
        "email: per merchant, per hour",
        default=1_000,
        validators=[_AT_LEAST_ONE],
        help_text="Emails an hour for each merchant (its gift cards, receipts and its "
        "customers' one-time codes). A merchant over it has its emails wait for the next "
        "hour; other merchants' emails are not held up.",
    )
    email_platform_hourly_limit = models.PositiveIntegerField(
        "email: platform's own, per hour",
        default=2_000,
        validators=[_AT_LEAST_ONE],
        help_text="Emails an hour that belong to no merchant: account emails (sign-up, "
        "password reset), one-time codes for the platform itself and admin test messages. "
        "Over it, they wait for the next hour.",
    )
    sms_hourly_ceiling = models.PositiveIntegerField(
        "SMS: whole platform, per hour",
        default=3_600,
        validators=[_AT_LEAST_ONE],
        help_text="Text messages an hour from the whole platform, all merchants and the "
        "platform's own together. Set it to your SMS provider's throughput (3,600 is one "
        "message a second, what one sending number allows). A message over it waits, "
        "queued, for the next hour with room.",
    )
    sms_merchant_hourly_limit = models.PositiveIntegerField(
        "SMS: per merchant, per hour",
        default=600,
        validators=[_AT_LEAST_ONE],
        help_text="Text messages an hour for each merchant. A merchant over it has its "
        "messages wait for the next hour; other merchants' messages are not held up.",
    )
    sms_platform_hourly_limit = models.PositiveIntegerField(
        "SMS: platform's own, per hour",
        default=600,
        validators=[_AT_LEAST_ONE],
        help_text="Text messages an hour that belong to no merchant (one-time codes for "
        "the platform itself, admin test messages). Over it, they wait for the next hour.",
    )
    push_hourly_ceiling = models.PositiveIntegerField(
        "push: whole platform, per hour",
        default=50_000,
        validators=[_AT_LEAST_ONE],
        help_text="Push notifications an hour from the whole platform, all merchants and "
        "the platform's own together. A notification over it waits, queued, for the next "
        "hour with room.",
    )
    push_merchant_hourly_limit = models.PositiveIntegerField(
        "push: per merchant, per hour",
        default=5_000,
        validators=[_AT_LEAST_ONE],
        help_text="Push notifications an hour for each merchant. A merchant over it has its "
        "notifications wait for the next hour; other merchants' are not held up.",
    )
    push_platform_hourly_limit = models.PositiveIntegerField(
        "push: platform's own, per hour",
        default=5_000,
        validators=[_AT_LEAST_ONE],
        help_text="Push notifications an hour that belong to no merchant. Over it, they "
        "wait for the next hour.",
    )
    per_recipient_hourly_limit = models.PositiveIntegerField(
        "messages per recipient, per hour",
        default=10,
        validators=[_AT_LEAST_ONE],
        help_text="Messages an hour to any one address or number, per channel, whoever "
        "sends them. This is the abuse limit: a message over it is refused (rate limited) "
        "and never sent later.",
    )
    otp_rate_limit = models.PositiveIntegerField(
        "one-time codes per recipient, per hour",
        default=10,
        validators=[_AT_LEAST_ONE],
        help_text="One-time codes an hour to any one recipient (counted per merchant). "
        "Codes asked for in the browser also count per signed-in person and per IP "
        "address, each with this limit. A request over it is refused.",
    )
    otp_api_key_hourly_limit = models.PositiveIntegerField(
        "one-time codes per API key, per hour",
        default=600,
        validators=[_AT_LEAST_ONE],
        help_text="One-time codes an hour asked for with any one API key. API requests "
        "count per key and per recipient, never per IP address: a merchant's server sends "
        "all its requests from one address. A request over it is refused.",
    )
    otp_expiry_minutes = models.PositiveIntegerField(
        default=10,
        validators=[MinValueValidator(1, _OTP_EXPIRY_MESSAGE)],
        help_text="Minutes a one-time code can be used for, at least 1.",
    )
    otp_length = models.PositiveSmallIntegerField(
        default=6,
        validators=[
            MinValueValidator(OTP_LENGTH_MIN, _OTP_LENGTH_MESSAGE),
            MaxValueValidator(OTP_LENGTH_MAX, _OTP_LENGTH_MESSAGE),
        ],
        help_text=f"Digits in a one-time code, from {OTP_LENGTH_MIN} to {OTP_LENGTH_MAX}.",
    )
    otp_max_attempts = models.PositiveSmallIntegerField(
        default=5,
        validators=[MinValueValidator(1, _OTP_ATTEMPTS_MESSAGE)],
        help_text="Wrong tries a one-time code allows before it is used up, at least 1.",
    )
    otp_resend_cooldown_seconds = models.PositiveIntegerField(default=60)
    email_fallback = models.CharField(
        max_length=8,
        choices=Channel.choices,
        blank=True,
        help_text="Channel to use when email is off (empty: suppress).",
    )
    sms_fallback = models.CharField(
        max_length=8,
        choices=Channel.choices,
        blank=True,
        default=Channel.EMAIL,
        help_text="Channel to use when SMS is off (empty: suppress).",
    )
    push_fallback = models.CharField(
        max_length=8,
        choices=Channel.choices,
        blank=True,
        default=Channel.EMAIL,
        help_text="Channel to use when push is off (empty: suppress).",
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name = "communication settings"
        verbose_name_plural = "communication settings"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(pk=1), name="communication_settings_singleton"
            ),
            models.CheckConstraint(
                condition=models.Q(otp_length__gte=OTP_LENGTH_MIN, otp_length__lte=OTP_LENGTH_MAX),
                name="communication_settings_otp_length",
                violation_error_message=_OTP_LENGTH_MESSAGE,
            ),
            models.CheckConstraint(
                condition=models.Q(otp_expiry_minutes__gte=1),
                name="communication_settings_otp_expiry",
                violation_error_message=_OTP_EXPIRY_MESSAGE,
            ),
            models.CheckConstraint(
                condition=models.Q(otp_max_attempts__gte=1),
                name="communication_settings_otp_attempts",
                violation_error_message=_OTP_ATTEMPTS_MESSAGE,
            ),
            *(
                models.CheckConstraint(
                    condition=~models.Q(**{f"{channel}_fallback": channel}),
                    name=f"communication_settings_{channel}_fallback",
                    violation_error_message=_self_fallback_message(channel),
                )
                for channel in Channel.values
            ),
        ]

    def __str__(self) -> str:
        return "Communication settings"

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.pk = 1
        super().save(*args, **kwargs)

    def clean(self) -> None:
        # The same rule as the constraints, said beside the field it is about.
        errors = {
            f"{channel}_fallback": _self_fallback_message(channel)
            for channel in Channel.values
            if self.fallback_for(channel) == channel
        }
        if errors:
            raise ValidationError(errors)

    def is_enabled(self, channel: str) -> bool:
        return bool(getattr(self, f"{channel}_enabled"))

    def fallback_for(self, channel: str) -> str:
        return str(getattr(self, f"{channel}_fallback") or "")

    def hourly_ceiling(self, channel: str) -> int:
        return int(getattr(self, f"{channel}_hourly_ceiling"))

    def merchant_hourly_limit(self, channel: str) -> int:
        return int(getattr(self, f"{channel}_merchant_hourly_limit"))

    def platform_hourly_limit(self, channel: str) -> int:
        return int(getattr(self, f"{channel}_platform_hourly_limit"))


class CommunicationTemplate(models.Model):
    """What one event says on one channel. Edits make new versions; one is active."""

    event = models.CharField(max_length=40, choices=event_choices)
    channel = models.CharField(max_length=8, choices=Channel.choices)
    description = models.CharField(max_length=300, blank=True)
    variables = models.JSONField(
        default=list, help_text="The variables this template may use, and nothing else."
    )
    sample_context = models.JSONField(
        default=dict, help_text="Sample values used for previews and test messages."
    )
    active_version = models.ForeignKey(
        "TemplateVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("event", "channel")
        constraints = [
            models.UniqueConstraint(fields=["event", "channel"], name="template_event_channel")
        ]

    def __str__(self) -> str:
        return f"{self.get_event_display()} ({self.get_channel_display()})"


class TemplateVersion(models.Model):
    """One saved text of a template. Never edited: a change is a new version."""

    template = models.ForeignKey(
        CommunicationTemplate, on_delete=models.CASCADE, related_name="versions"
    )
    number = models.PositiveIntegerField()
    subject = models.CharField(max_length=200, blank=True)
    body_text = models.TextField()
    body_html = models.TextField(blank=True)
    note = models.CharField(max_length=200, blank=True)
    is_draft = models.BooleanField(
        default=False,
        help_text="Saved without being published: never sent until it is activated.",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ("template", "-number")
        constraints = [
            models.UniqueConstraint(fields=["template", "number"], name="template_version_number")
        ]

    def __str__(self) -> str:
        return f"{self.template} v{self.number}"


class ActivationKind(models.TextChoices):
    PUBLISHED = "published", "Published"
    ROLLED_BACK = "rolled_back", "Rolled back"
    ACTIVATED = "activated", "Activated"


class TemplateActivation(models.Model):
    """Each time a version became its template's active text: which, who and when.

    The history the editor shows, and the order in which ``send`` looks for the last
    good version when the active one fails to render."""

    template = models.ForeignKey(
        CommunicationTemplate, on_delete=models.CASCADE, related_name="activations"
    )
    version = models.ForeignKey(
        TemplateVersion, on_delete=models.CASCADE, related_name="activations"
    )
    previous = models.ForeignKey(
        TemplateVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=16, choices=ActivationKind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ("-created_at", "-id")
        indexes = [models.Index(fields=["template", "-created_at"], name="template_activation")]

    def __str__(self) -> str:
        return f"{self.template} v{self.version.number}: {self.get_kind_display()}"


class CommunicationSettingsChange(models.Model):
    """One save of the communication settings: each field that changed, old -> new."""

    changes = models.JSONField(help_text="{field name: [old value, new value]}")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ("-created_at", "-id")

    def __str__(self) -> str:
        return f"Settings changed: {', '.join(self.changes)}"


class MessageStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    SENT = "sent", "Sent"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"
    SUPPRESSED = "suppressed", "Suppressed"
    RATE_LIMITED = "rate_limited", "Rate limited"


class CommunicationLog(models.Model):
    """Every message the platform sent or decided not to send, and why."""

    channel = models.CharField(max_length=8, choices=Channel.choices)
    requested_channel = models.CharField(
        max_length=8,
        choices=Channel.choices,
        help_text="The channel asked for, before any fallback.",
    )
    event = models.CharField(max_length=40, choices=event_choices)
    recipient_masked = models.CharField(max_length=120)
    recipient_digest = models.CharField(max_length=64, db_index=True, editable=False)
    template = models.ForeignKey(
        CommunicationTemplate, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    template_version = models.PositiveIntegerField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=MessageStatus.choices)
    reason = models.CharField(max_length=300, blank=True)
    provider = models.CharField(max_length=40, blank=True)
    provider_message_id = models.CharField(max_length=200, blank=True, db_index=True)
    cost = models.PositiveIntegerField(null=True, blank=True, help_text="Minor units.")
    cost_currency = models.CharField(max_length=3, blank=True)
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    # The rendered message, encrypted, until it has been handed to the provider.
    payload = models.TextField(blank=True, editable=False)
    # Set by the worker that hands the message to its backend; a claim older than
    # ``COMMUNICATIONS_CLAIM_TIMEOUT`` belongs to a worker that died and is released.
    claimed_at = models.DateTimeField(null=True, blank=True, editable=False)
    # When the next attempt is due (queued at once, or after a retry's wait), and when a
    # task for it last went to the broker: a queued message whose attempt is long overdue
    # lost its task and is handed to a worker again (``sweep_stalled_messages``).
    next_attempt_at = models.DateTimeField(null=True, blank=True, editable=False)
    dispatched_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Set while a queued message waits for an hour with room under the volume limits (the
    # reason says which); cleared when it is released to a worker.
    deferred_until = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="A queued message held back by an hourly volume limit goes out after this.",
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    merchant = models.ForeignKey(
        "merchants.Merchant", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("-created_at", "-id")
        indexes = [
            models.Index(
                fields=["channel", "status", "-created_at"], name="commlog_channel_status"
            ),
            models.Index(fields=["event", "-created_at"], name="commlog_event"),
            models.Index(fields=["merchant", "-created_at"], name="commlog_merchant"),
            # Only the messages waiting to be released, which are few.
            models.Index(
                fields=["deferred_until"],
                name="commlog_deferred",
                condition=models.Q(deferred_until__isnull=False),
            ),
            # Only the messages on their way to a worker or in one, which are few.
            models.Index(
                fields=["next_attempt_at"],
                name="commlog_in_flight",
                condition=models.Q(status="queued", deferred_until__isnull=True),
            ),
        ]
        # The log is read-only, so its change permission cannot stand for this one.
        permissions = [("send_test_message", "Can send a test message")]

    def __str__(self) -> str:
        return f"{self.channel} {self.event} to {self.recipient_masked}: {self.status}"


class PushSubscription(models.Model):
    """One browser or device that agreed to receive Web Push messages for a person.

    The endpoint is the push service's URL for that browser (a capability: whoever knows it
    can address the device, so it is never shown); ``p256dh`` and ``auth`` are the keys the
    browser gave for encrypting messages to it (RFC 8291).
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="push_subscriptions"
    )
    endpoint = models.URLField(max_length=2000, unique=True)
    p256dh = models.CharField(max_length=100)
    auth = models.CharField(max_length=50)
    user_agent = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at", "-id")
        indexes = [models.Index(fields=["user", "-created_at"], name="pushsub_user_created")]

    def __str__(self) -> str:
        return f"Push subscription of {self.user_id} ({self.user_agent[:40] or 'device'})"

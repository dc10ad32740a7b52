from django.apps import AppConfig


class OtpConfig(AppConfig):
    """Owns one-time codes: issuing, verifying, limits and their usage figures (OT-1..3)."""

    name = "otp"
    label = "otp_codes"
    verbose_name = "One-time codes"

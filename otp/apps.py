from django.apps import AppConfig


class OtpConfig(AppConfig):
    """Owns one-time codes: issuing, verifying, limits and their usage figures (OT-1..3)."""

    name = "otp"
    label = "otp_codes"
    verbose_name = "One-time codes"

    def ready(self) -> None:
        from communications.analytics import register_otp_usage
        from otp import messages, selectors

        messages.register()
        # Looked up on each call, so the figures always come from the module's reader.
        register_otp_usage(lambda *, since: selectors.otp_usage(since=since))

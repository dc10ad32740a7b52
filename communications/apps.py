from django.apps import AppConfig


class CommunicationsConfig(AppConfig):
    """Owns channel switches, message templates, sending and the communication log."""

    name = "communications"
    verbose_name = "Communications"

    def ready(self) -> None:
        from anymail.signals import tracking

        from communications import account_emails, defaults, invitations
        from communications.webhooks import anymail_tracking_received

        # Its own events, and those of the apps below it (accounts, merchants), which
        # cannot import it: the account emails and the invitation to join a merchant.
        defaults.register()
        account_emails.register()
        invitations.register()
        # The email provider's delivery events (anymail's extension point) update the log.
        tracking.connect(anymail_tracking_received, dispatch_uid="communications-tracking")

from django.apps import AppConfig


class PayoutsConfig(AppConfig):
    """Owns the merchant balance ledger, commission rules and payouts."""

    name = "payouts"
    verbose_name = "Payouts"

    def ready(self) -> None:
        from payouts import messages

        messages.register()

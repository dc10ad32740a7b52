from django.apps import AppConfig


class GiftcardsConfig(AppConfig):
    """Owns products, gift cards, their ledger and every balance change."""

    name = "giftcards"
    verbose_name = "Gift cards"

    def ready(self) -> None:
        from giftcards import dashboard, messages
        from merchants.dashboard import dashboard_panels

        messages.register()
        dashboard_panels.register(dashboard.PANEL)

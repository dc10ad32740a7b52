from django.apps import AppConfig


class WalletConfig(AppConfig):
    """Owns the customer's wallet: the cards a person bought, received or claimed, and
    their pages under ``/account/``."""

    name = "wallet"
    verbose_name = "Customer wallets"

    def ready(self) -> None:
        from accounts.sections import account_sections
        from core.panels import Panel
        from orders.hooks import on_order_fulfilled
        from wallet import receivers  # connects allauth's signal receivers

        on_order_fulfilled("wallet", receivers.add_bought)
        account_sections.register(
            Panel(
                name="wallet",
                template="wallet/_account_section.html",
                context=lambda **page: {},
                order=10,
            )
        )

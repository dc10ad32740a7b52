from django.apps import AppConfig


class WalletConfig(AppConfig):
    """Owns the customer's wallet: the cards a person bought, received or claimed, and
    their pages under ``/account/``."""

    name = "wallet"
    verbose_name = "Customer wallets"

    def ready(self) -> None:
        from accounts.sections import account_sections
        from core.panels import Panel
        from wallet import receivers  # noqa: F401  (connects the signal receivers)

        account_sections.register(
            Panel(
                name="wallet",
                template="wallet/_account_section.html",
                context=lambda **page: {},
                order=10,
            )
        )

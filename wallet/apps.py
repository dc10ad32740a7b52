from django.apps import AppConfig


class WalletConfig(AppConfig):
    """Owns the customer's wallet: the cards a person bought, received or claimed, and
    their pages under ``/account/``."""

    name = "wallet"
    verbose_name = "Customer wallets"

    def ready(self) -> None:
        from wallet import receivers  # noqa: F401  (connects the signal receivers)

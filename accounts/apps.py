from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """Owns users, password rules, login lockout and the customer's account pages."""

    name = "accounts"
    verbose_name = "Users"

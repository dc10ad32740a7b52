from django.apps import AppConfig


class MerchantsConfig(AppConfig):
    """Owns merchants (tenants), memberships with roles, and merchant API keys."""

    name = "merchants"
    verbose_name = "Merchants"

    def ready(self) -> None:
        from accounts.sections import account_sections
        from merchants.api import schema  # noqa: F401  registers the OpenAPI auth scheme
        from merchants.sections import WORKPLACES

        account_sections.register(WORKPLACES)

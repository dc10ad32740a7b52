from django.apps import AppConfig


class MerchantsConfig(AppConfig):
    """Owns merchants (tenants), memberships with roles, and merchant API keys."""

    name = "merchants"
    verbose_name = "Merchants"

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
        _forget_cached_keys_on_change()


def _forget_cached_keys_on_change() -> None:
    """A saved or deleted key or merchant is not answered from this process's key cache
    again (merchants.api.authentication); other processes follow within its bound."""
    from django.db.models.signals import post_delete, post_save

    from merchants.api.authentication import forget_keys
    from merchants.models import ApiKey, Merchant

    def key_changed(sender: object, instance: ApiKey, **kwargs: object) -> None:
        forget_keys(instance.prefix)

    def merchant_changed(sender: object, instance: Merchant, **kwargs: object) -> None:
        forget_keys()

    for signal in (post_save, post_delete):
        signal.connect(key_changed, sender=ApiKey, weak=False, dispatch_uid="forget-key")
        signal.connect(
            merchant_changed, sender=Merchant, weak=False, dispatch_uid="forget-merchant-keys"
        )

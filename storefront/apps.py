from django.apps import AppConfig


class StorefrontConfig(AppConfig):
    """The public pages of each merchant: catalogue, product pages with the purchase form,
    the balance check, and what search engines read (sitemap, robots.txt, metadata)."""

    name = "storefront"
    verbose_name = "Storefront"

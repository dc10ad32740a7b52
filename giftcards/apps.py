from django.apps import AppConfig


class GiftcardsConfig(AppConfig):
    """Owns products, gift cards, their ledger and every balance change."""

    name = "giftcards"
    verbose_name = "Gift cards"
